import PareCore
import PareFormats

/// Prompt → streamed continuation with a KV cache, timing prefill and decode separately.
public struct GenerationStats: Sendable {
    public var promptTokens = 0, generatedTokens = 0
    public var prefillSeconds = 0.0, decodeSeconds = 0.0
    public var prefillTokensPerSecond: Double { Double(promptTokens) / max(prefillSeconds, 1e-9) }
    /// Tokens after the first (the first comes from the prefill's logits) per decode second.
    public var decodeTokensPerSecond: Double { Double(max(generatedTokens - 1, 0)) / max(decodeSeconds, 1e-9) }
}

extension LlamaModel {
    /// Generates up to `maxNewTokens` after `prompt`, calling `onToken` with each new id;
    /// stops at any id in `stop`. Returns the new ids and timings.
    public func generate(prompt: [Int32], maxNewTokens: Int, sampler: inout Sampler, stop: Set<Int32> = [],
                         onToken: (Int32) -> Void = { _ in }) throws -> ([Int32], GenerationStats) {
        precondition(!prompt.isEmpty, "generation needs at least one prompt token")
        let cache = KVCache(config: config, maxTokens: min(config.usablePositions, prompt.count + maxNewTokens))
        var stats = GenerationStats()
        stats.promptTokens = prompt.count
        var t0 = ProcessInfoLite.now()
        var logits = try forwardCached(tokens: prompt, cache: cache)
        stats.prefillSeconds = ProcessInfoLite.now() - t0
        var out: [Int32] = []
        t0 = ProcessInfoLite.now()
        while out.count < maxNewTokens {
            let next = sampler.next(logits)
            out.append(next)
            onToken(next)
            if stop.contains(next) || cache.length >= cache.maxTokens { break }
            logits = try forwardCached(tokens: [next], cache: cache)
        }
        stats.decodeSeconds = ProcessInfoLite.now() - t0
        stats.generatedTokens = out.count
        return (out, stats)
    }
}
