import PareCore

/// Batch-1 generation speed of a model on this machine: prefill of a prompt and greedy decode
/// of a fixed number of tokens, after one short warm-up, as the median of `runs` runs (with
/// the spread, so a caller can state the noise). Weights do not matter to the speed, so a
/// search can time shapes with random weights.
public struct SpeedProbe: Sendable {
    public var prefillTokensPerSecond: Double, decodeTokensPerSecond: Double
    /// Slowest and fastest decode runs.
    public var decodeRange: ClosedRange<Double>
    public var runs: Int

    public static func measure(_ model: LlamaModel, prompt: [Int32], newTokens: Int = 32, runs: Int = 1) throws -> SpeedProbe {
        precondition(runs >= 1 && !prompt.isEmpty)
        var sampler = Sampler()
        _ = try model.generate(prompt: Array(prompt.prefix(8)), maxNewTokens: 4, sampler: &sampler)   // warm-up
        var stats: [GenerationStats] = []
        for _ in 0..<runs { stats.append(try model.generate(prompt: prompt, maxNewTokens: newTokens, sampler: &sampler).1) }
        let decode = stats.map(\.decodeTokensPerSecond).sorted(), prefill = stats.map(\.prefillTokensPerSecond).sorted()
        return SpeedProbe(prefillTokensPerSecond: prefill[runs / 2], decodeTokensPerSecond: decode[runs / 2],
                          decodeRange: decode.first!...decode.last!, runs: runs)
    }
}
