import Foundation
import PareCore

/// Loss and perplexity of a model on a token stream.
public struct EvaluationResult: Sendable {
    public var windows = 0, tokens = 0
    public var lossSum = 0.0
    public var meanLoss: Double { lossSum / Double(max(tokens, 1)) }
    public var perplexity: Double { exp(meanLoss) }
}

extension LlamaModel {
    /// Cuts `stream` into non-overlapping windows of seq + 1 tokens (window i starts at i·seq;
    /// an incomplete last window is dropped); in each, the first seq tokens predict the next
    /// seq. Runs `batch` windows at a time; `maxWindows` limits the count.
    public func evaluate(stream: [Int32], seq: Int, batch: Int = 4, maxWindows: Int? = nil,
                         progress: (Int, Int) -> Void = { _, _ in }) throws -> EvaluationResult {
        var total = stream.count > seq ? (stream.count - 1) / seq : 0
        if let m = maxWindows { total = min(total, m) }
        var result = EvaluationResult()
        guard total > 0 else { return result }
        let acts = Activations(config: config, B: min(batch, total), T: seq, forTraining: false)
        var tokens = [Int32](repeating: 0, count: acts.B * seq), targets = tokens
        var w = 0
        while w < total {
            let B = min(acts.B, total - w)
            let a = B == acts.B ? acts : Activations(config: config, B: B, T: seq, forTraining: false)
            for b in 0..<B {
                let start = (w + b) * seq
                for t in 0..<seq { tokens[b * seq + t] = stream[start + t]; targets[b * seq + t] = stream[start + t + 1] }
            }
            let (s, c) = try tokens.withUnsafeBufferPointer { tp in
                try targets.withUnsafeBufferPointer { try loss(tokens: tp.baseAddress!, targets: $0.baseAddress!, acts: a) }
            }
            result.lossSum += s; result.tokens += c; result.windows += B
            w += B
            progress(w, total)
        }
        return result
    }
}
