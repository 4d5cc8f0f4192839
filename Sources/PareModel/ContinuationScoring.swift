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

/// Requests scored in one packed row: the longest input prefix they all share, once, then
/// each distinct remainder (see PackedRows). Members whose whole inputs are equal (the
/// one-letter choices of an MMLU question) share one branch. A lone request is its own prefix.
struct PrefixGroup {
    let members: [Int]      // request indices
    let prefix: Int         // input tokens every member shares
    let branch: [Int]       // member k's branch: 1, 2, … (0 is the shared prefix)
    let starts: [Int]       // where branch b + 1 begins in the row
    let length: Int         // tokens in the packed row

    init(_ members: [Int], _ requests: [ScoringRequest]) {
        precondition(!members.isEmpty)
        self.members = members
        let first = requests[members[0]]
        var p = first.inputLength
        for m in members.dropFirst() { p = requests[m].sharedInput(with: first, upTo: p) }
        prefix = p
        var at = p, starts: [Int] = [], branch: [Int] = [], owners: [Int] = []
        for m in members {
            let r = requests[m]
            if let b = owners.firstIndex(where: { requests[$0].sameInput(as: r, from: p) }) { branch.append(b + 1); continue }
            owners.append(m); branch.append(owners.count); starts.append(at)
            at += r.inputLength - p
        }
        self.branch = branch
        self.starts = starts
        length = at
    }

    /// The row index of member k's input token t.
    func row(_ k: Int, _ t: Int) -> Int { t < prefix ? t : starts[branch[k] - 1] + t - prefix }
    /// Whether the row branches after its prefix (needs PackedRows), or is one plain sequence.
    var branches: Bool { length > prefix }
    /// Distinct branches (the padding after them gets the next id).
    var branchCount: Int { starts.count }
}

extension LlamaConfig {
    /// The longest row that can pack branches: the attention kernels apply a sliding window by
    /// row index (Gemma's local layers), which is each token's position only in a plain row.
    public var packedRowLimit: Int { ((0..<numHiddenLayers).compactMap { attentionWindow(layer: $0) }.min() ?? .max) / 16 * 16 }
}

extension ScoringRequest {
    /// Input token t: the context, then the continuation but its last token.
    func input(_ t: Int) -> Int32 { t < context.count ? context[t] : continuation[t - context.count] }
    /// How many input tokens, up to `limit`, both start with.
    func sharedInput(with o: ScoringRequest, upTo limit: Int = .max) -> Int {
        let n = min(limit, inputLength, o.inputLength)
        var t = 0
        while t < n && input(t) == o.input(t) { t += 1 }
        return t
    }
    /// Whether the model sees the same tokens for both (the last continuation token is not
    /// input), given that their first `from` tokens are known to be equal.
    func sameInput(as o: ScoringRequest, from: Int) -> Bool {
        inputLength == o.inputLength && (from..<inputLength).allSatisfy { input($0) == o.input($0) }
    }
}

/// How far `score` has got: requests and their input tokens (context + continuation − 1 each,
/// as a reference forward counts them, for tokens/s), and the tokens the packed rows compute
/// (a shared prefix once, for the time left), done so far and in all.
public struct ScoringProgress: Sendable {
    public let requests, totalRequests, tokens, totalTokens, rowTokens, totalRowTokens: Int

    public init(requests: Int, totalRequests: Int, tokens: Int, totalTokens: Int, rowTokens: Int, totalRowTokens: Int) {
        self.requests = requests; self.totalRequests = totalRequests
        self.tokens = tokens; self.totalTokens = totalTokens
        self.rowTokens = rowTokens; self.totalRowTokens = totalRowTokens
    }

    /// Seconds left at the rate so far in computed row tokens. Rows run longest first, so a
    /// rate in requests would overstate the time left several times over at the start
    /// (boolq: 1,918 s shown at 150 of 6,540 requests, 630 s in all).
    public func secondsLeft(elapsed: Double) -> Double {
        rowTokens > 0 ? elapsed / Double(rowTokens) * Double(totalRowTokens - rowTokens) : .infinity
    }
}

extension LlamaModel {
    /// Scores `requests` in batches of about `batchTokens` row tokens. Each of `groups` (request
    /// indices, e.g. the choices of one document; default: every request alone) is one row that
    /// computes the members' shared input prefix once. Rows are sorted by length and padded at
    /// the end to a multiple of 16 within a batch, so padding is small and causal attention
    /// keeps it from touching real positions. Only rows that predict a continuation token go
    /// through the LM head. `skipLayers` scores the model with those layers removed (depth
    /// selection by task accuracy). `progress` is called after each batch.
    public func score(_ requests: [ScoringRequest], groups: [[Int]]? = nil, batchTokens: Int = 2048, skipLayers: Set<Int> = [],
                      progress: (ScoringProgress) -> Void = { _ in }) throws -> [ContinuationScore] {
        let C = config.hiddenSize, V = config.vocabSize
        for q in requests { precondition(!q.context.isEmpty && !q.continuation.isEmpty, "a request needs a context and a continuation token") }
        let packs = (groups ?? requests.indices.map { [$0] }).map { PrefixGroup($0, requests) }
        precondition(packs.reduce(0) { $0 + $1.members.count } == requests.count, "every request belongs to exactly one group")
        let order = packs.indices.sorted { packs[$0].length > packs[$1].length }
        var scores = [ContinuationScore](repeating: ContinuationScore(logLikelihood: 0, isGreedy: false, tokens: 0), count: requests.count)
        var acts: Activations? = nil   // lengths only fall, so one shape at a time is kept
        let headRows = 64
        let gathered = FloatBuffer(count: headRows * C), logits = FloatBuffer(count: headRows * V)
        var done = 0, seen = 0, computed = 0
        let totalTokens = requests.reduce(0) { $0 + $1.inputLength }, totalRowTokens = packs.reduce(0) { $0 + $1.length }
        var i = 0
        while i < order.count {
            let T = (packs[order[i]].length + 15) / 16 * 16
            var B = min(max(1, batchTokens / T), order.count - i)
            // A batch with a branched row runs packed, and then every row must fit the window.
            if T > config.packedRowLimit { B = max(1, order[i..<(i + B)].prefix { !packs[$0].branches }.count) }
            let batch = Array(order[i..<(i + B)])
            if acts?.B != B || acts?.T != T { acts = Activations(config: config, B: B, T: T, lmChunk: 1, forTraining: false) }
            let a = acts!
            // tokens (B, T): each row's prefix and remainders, then padding; placed by `packed`
            // only when some row branches after its prefix (otherwise plain causal rows: also
            // when every member's input is the prefix, as MMLU's one-letter choices are).
            var tokens = [Int32](repeating: 0, count: B * T)
            let packed = batch.contains { packs[$0].branches } ? PackedRows(count: B * T) : nil
            // Rows of the final hidden state that predict a continuation token, and that token.
            var heads: [(request: Int, row: Int, target: Int32)] = []
            for (b, g) in batch.enumerated() {
                let pack = packs[g], base = b * T
                for (k, r) in pack.members.enumerated() {
                    let q = requests[r]
                    for t in 0..<q.inputLength {
                        let at = base + pack.row(k, t)
                        tokens[at] = q.input(t)
                        packed?.positions[at] = Int32(t)
                        packed?.branches[at] = t < pack.prefix ? 0 : Int32(pack.branch[k])
                    }
                    for j in 0..<q.continuation.count { heads.append((r, base + pack.row(k, q.context.count - 1 + j), q.continuation[j])) }
                    seen += q.inputLength
                }
                for at in (base + pack.length)..<(base + T) { packed?.branches[at] = Int32(pack.branchCount + 1) }
                done += pack.members.count
                computed += pack.length
            }
            try tokens.withUnsafeBufferPointer { try forward(tokens: $0.baseAddress!, acts: a, skipLayers: skipLayers, packed: packed) }
            let xf = a.finalHidden
            var k = 0
            while k < heads.count {
                let R = min(headRows, heads.count - k)
                for j in 0..<R { (gathered.pointer + j * C).update(from: xf + heads[k + j].row * C, count: C) }
                matmulForward(out: logits.pointer, inp: gathered.pointer, weight: linear(layout.lmHead), bias: nil, N: R, I: C, O: V)
                for j in 0..<R {
                    let z = logits.pointer + j * V
                    let target = Int(heads[k + j].target)
                    let lse = logSumExpRow(z, V)
                    var best = 0
                    var bestValue = z[0]
                    for v in 1..<V where z[v] > bestValue { bestValue = z[v]; best = v }
                    let r = heads[k + j].request
                    scores[r].logLikelihood += Double(z[target] - lse)
                    scores[r].tokens += 1
                    // Ties count as greedy only if the target is the first maximum, as argmax does.
                    scores[r].isGreedy = (scores[r].tokens == 1 || scores[r].isGreedy) && best == target
                }
                k += R
            }
            i += B
            progress(ScoringProgress(requests: done, totalRequests: requests.count, tokens: seen, totalTokens: totalTokens,
                                     rowTokens: computed, totalRowTokens: totalRowTokens))
        }
        return scores
    }
}
