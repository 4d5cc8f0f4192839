import Foundation
import PareCore

/// The loglikelihood of a continuation given its context: Σ log p(continuation token | all
/// before it), and whether every continuation token is the model's argmax (greedy).
public struct ContinuationScore: Sendable, Equatable {
    public var logLikelihood: Double
    public var isGreedy: Bool
    public var tokens: Int
    public init(logLikelihood: Double, isGreedy: Bool, tokens: Int) { self.logLikelihood = logLikelihood; self.isGreedy = isGreedy; self.tokens = tokens }
}

/// A context and its continuation, already tokenized; the context holds at least one token.
public struct ScoringRequest: Sendable {
    public let context: [Int32]
    public let continuation: [Int32]
    public init(context: [Int32], continuation: [Int32]) { self.context = context; self.continuation = continuation }
    /// Tokens the model sees: the whole sequence but its last token.
    public var inputLength: Int { context.count + continuation.count - 1 }
}

extension LlamaModel {
    /// Scores `requests` in batches of about `batchTokens` input tokens. Requests are sorted by
    /// length and padded at the end to a multiple of 16 within a batch, so padding is small
    /// and causal attention keeps it from touching real positions. Only rows that predict a
    /// continuation token go through the LM head. `skipLayers` scores the model with those
    /// layers removed (depth selection by task accuracy).
    public func score(_ requests: [ScoringRequest], batchTokens: Int = 2048, skipLayers: Set<Int> = [],
                      progress: (_ done: Int, _ total: Int, _ tokens: Int) -> Void = { _, _, _ in }) throws -> [ContinuationScore] {
        let C = config.hiddenSize, V = config.vocabSize
        let order = requests.indices.sorted { requests[$0].inputLength > requests[$1].inputLength }
        var scores = [ContinuationScore](repeating: ContinuationScore(logLikelihood: 0, isGreedy: false, tokens: 0), count: requests.count)
        var acts: Activations? = nil   // lengths only fall, so one shape at a time is kept
        let headRows = 64
        let gathered = FloatBuffer(count: headRows * C), logits = FloatBuffer(count: headRows * V)
        var done = 0, seen = 0
        var i = 0
        while i < order.count {
            let T = (requests[order[i]].inputLength + 15) / 16 * 16
            let B = min(max(1, batchTokens / T), order.count - i)
            let batch = Array(order[i..<(i + B)])
            if acts?.B != B || acts?.T != T { acts = Activations(config: config, B: B, T: T, lmChunk: 1, forTraining: false) }
            let a = acts!
            // tokens (B, T): each request's context + continuation but the last token, then padding.
            var tokens = [Int32](repeating: 0, count: B * T)
            // Rows of the final hidden state that predict a continuation token, and that token.
            var rows: [(request: Int, row: Int, target: Int32)] = []
            for (b, r) in batch.enumerated() {
                let q = requests[r]
                precondition(!q.context.isEmpty && !q.continuation.isEmpty, "a request needs a context and a continuation token")
                let whole = q.context + q.continuation
                for t in 0..<q.inputLength { tokens[b * T + t] = whole[t] }
                for j in 0..<q.continuation.count { rows.append((r, b * T + q.context.count - 1 + j, q.continuation[j])) }
                seen += q.inputLength
            }
            try tokens.withUnsafeBufferPointer { try forward(tokens: $0.baseAddress!, acts: a, skipLayers: skipLayers) }
            let xf = a.finalHidden
            var k = 0
            while k < rows.count {
                let R = min(headRows, rows.count - k)
                for j in 0..<R { (gathered.pointer + j * C).update(from: xf + rows[k + j].row * C, count: C) }
                matmulForward(out: logits.pointer, inp: gathered.pointer, weight: params.pointer + layout.lmHead, bias: nil, N: R, I: C, O: V)
                for j in 0..<R {
                    let z = logits.pointer + j * V
                    let target = Int(rows[k + j].target)
                    let lse = logSumExpRow(z, V)
                    var best = 0
                    var bestValue = z[0]
                    for v in 1..<V where z[v] > bestValue { bestValue = z[v]; best = v }
                    let r = rows[k + j].request
                    scores[r].logLikelihood += Double(z[target] - lse)
                    scores[r].tokens += 1
                    // Ties count as greedy only if the target is the first maximum, as argmax does.
                    scores[r].isGreedy = (scores[r].tokens == 1 || scores[r].isGreedy) && best == target
                }
                k += R
            }
            i += B; done += B
            progress(done, order.count, seen)
        }
        return scores
    }
}
