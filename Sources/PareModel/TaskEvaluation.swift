import Foundation
import PareCore
import PareFormats

/// Accuracy on one task: `acc` picks the choice with the highest loglikelihood, `acc_norm`
/// the highest loglikelihood per character of the continuation (olmo-eval's acc_per_char,
/// lm-eval's acc_norm). Standard errors are the sample ones, √(p(1−p)/(n−1)), as lm-eval
/// reports. LAMBADA (`lastWord`) gives last-word accuracy (the continuation is the greedy
/// one) and perplexity exp(−mean loglikelihood per document). A task of subtasks (MMLU's
/// subjects) also gives each subtask's accuracy, and reports as lm-eval-harness 0.4's group
/// aggregate does: `acc` is the mean over all questions (the subtasks weighted by size), its
/// standard error the pooled one, and `accMacro` the unweighted mean over subtasks.
public struct TaskResult: Sendable {
    /// Bumped whenever scoring changes what it computes, so cached results are not reused.
    public static let scoringVersion = "scoring-4"
    public let task: String
    public let variant: String
    public let primaryMetric: String
    public let documents: Int
    public var acc = 0.0, accStderr = 0.0
    public var accNorm: Double? = nil, accNormStderr: Double? = nil
    public var perplexity: Double? = nil
    public var tokens = 0
    public var seconds = 0.0
    /// Per-request loglikelihoods, in document order then choice order (for the reference check).
    public var logLikelihoods: [Double] = []
    /// Per subtask (MMLU's subjects), in the task's order; empty for a task of one set.
    public var subtasks: [SubtaskScore] = []
    public var accMacro: Double? = nil

    /// The number the task's config calls primary (acc_per_char → acc_norm, else acc).
    public var primary: Double { primaryMetric == "acc_per_char" ? (accNorm ?? acc) : acc }
    public var primaryName: String { primaryMetric == "acc_per_char" && accNorm != nil ? "acc_norm" : "acc" }

    /// What eval JSON and the task-results cache keep of it.
    public var score: TaskScore {
        TaskScore(task: task, variant: variant, primaryMetric: primaryName, documents: documents, acc: acc, accStderr: accStderr,
                  accNorm: accNorm, accNormStderr: accNormStderr, perplexity: perplexity, tokens: tokens, seconds: seconds,
                  loglikelihoods: logLikelihoods, subtasks: subtasks.isEmpty ? nil : subtasks, accMacro: accMacro)
    }
}

/// One subtask's accuracy within a task (an MMLU subject).
public struct SubtaskScore: Codable, Equatable, Sendable {
    public var name: String
    public var documents: Int
    public var acc: Double
    public var accStderr: Double
    enum CodingKeys: String, CodingKey { case name, documents, acc, accStderr = "acc_stderr" }
}

/// A task's scores as eval JSON and the task-results cache hold them. Files written by older
/// versions may lack the variant, timing and loglikelihoods.
public struct TaskScore: Codable, Equatable, Sendable {
    public var task: String
    public var variant: String?
    /// The metric the task reports first: "acc_norm" where its config names acc_per_char, else "acc".
    public var primaryMetric: String
    public var documents: Int
    public var acc: Double
    public var accStderr: Double?
    public var accNorm: Double?, accNormStderr: Double?
    public var perplexity: Double?
    public var tokens: Int?
    public var seconds: Double?
    /// Per-request loglikelihoods, in document order then choice order.
    public var loglikelihoods: [Double]?
    /// A task of subtasks (MMLU): each one's accuracy, and their unweighted mean.
    public var subtasks: [SubtaskScore]?
    public var accMacro: Double?

    enum CodingKeys: String, CodingKey {
        case task, variant, primaryMetric = "primary_metric", documents, acc, accStderr = "acc_stderr", accNorm = "acc_norm"
        case accNormStderr = "acc_norm_stderr", perplexity, tokens, seconds, loglikelihoods, subtasks, accMacro = "acc_macro"
    }

    /// The primary metric and its standard error.
    public var primary: (value: Double, stderr: Double) {
        primaryMetric == "acc_norm" ? (accNorm ?? acc, accNormStderr ?? 0) : (acc, accStderr ?? 0)
    }
}

/// Why a task cannot be scored on a model.
public enum TaskError: Error, CustomStringConvertible {
    /// `document` names it: "document 12", or "high_school_european_history question 3" (MMLU).
    case tooLong(task: String, document: String, tokens: Int, positions: Int)
    case noPrefixToken(task: String)
    case emptyContinuation(task: String, document: String)
    public var description: String {
        switch self {
        case let .tooLong(t, d, n, p):
            return "task \(t): \(d) needs \(n) tokens, but the model has \(p) positions; use a model with a longer context or fewer shots"
        case let .emptyContinuation(t, d):
            return "task \(t): \(d) has a choice that adds no tokens to its context; the task file is damaged: run scripts/setup"
        case let .noPrefixToken(t):
            return "task \(t): a request has an empty context and the tokenizer has neither a BOS nor an EOS token to stand in for it"
        }
    }
}

extension TaskRequests {
    /// How messages name a document: "document 12", or for a subtask (MMLU) its subject and
    /// its 0-based place among the subject's questions.
    public func label(_ doc: Document) -> String {
        guard !subtasks.isEmpty else { return "document \(doc.id)" }
        let first = documents.firstIndex { $0.subtask == doc.subtask } ?? 0
        return "\(subtasks[doc.subtask]) question \(doc.id - documents[first].id)"
    }

    /// Tokenizes the requests of the documents `limit` selects (see `documents(limit:)`) as
    /// lm-eval does: trailing spaces of the context move to the continuation, the context is
    /// encoded alone, and the continuation is what encoding context + continuation adds after
    /// it. `leadingBos` starts every context with BOS (lm-eval's `add_bos_token`, which it sets
    /// for the Gemma family). An empty context becomes lm-eval's prefix token: BOS where the
    /// tokenizer has one, else EOS.
    public func tokenized(_ tokenizer: Tokenizer, limit: Int? = nil, leadingBos: Bool = false) throws -> [[ScoringRequest]] {
        let bos = leadingBos ? tokenizer.bosTokenId.map { [$0] } ?? [] : []
        var enc = TokenEncoder(tokenizer)
        var contextCache: [String: [Int32]] = [:]
        return try documents(limit: limit).map { doc in
            try doc.requests.map { r in
                var context = r.context, continuation = r.continuation
                let kept = context.unicodeScalars.reversed().drop { $0.properties.isWhitespace }   // Python's rstrip()
                let spaces = context.unicodeScalars.count - kept.count
                if spaces > 0 {
                    let cut = context.unicodeScalars.index(context.unicodeScalars.endIndex, offsetBy: -spaces)
                    continuation = String(context.unicodeScalars[cut...]) + continuation
                    context = String(context.unicodeScalars[..<cut])
                }
                let ctx: [Int32]
                if let c = contextCache[context] { ctx = c } else { ctx = bos + enc.encode(context); contextCache[context] = ctx }
                let whole = bos + enc.encode(context + continuation)
                let cont = Array(whole.dropFirst(ctx.count))
                guard !cont.isEmpty else { throw TaskError.emptyContinuation(task: name, document: label(doc)) }
                if !ctx.isEmpty { return ScoringRequest(context: ctx, continuation: cont) }
                guard let prefix = tokenizer.bosTokenId ?? tokenizer.eosTokenId else { throw TaskError.noPrefixToken(task: name) }
                return ScoringRequest(context: [prefix], continuation: cont)
            }
        }
    }
}

extension LlamaModel {
    /// Scores the documents of `task` that `limit` selects: the first `limit` (of each subtask).
    public func evaluate(task: TaskRequests, tokenizer: Tokenizer, limit: Int? = nil, batchTokens: Int = 2048,
                         skipLayers: Set<Int> = [], progress: (ScoringProgress) -> Void = { _ in }) throws -> TaskResult {
        let t0 = Date()
        let docs = try task.tokenized(tokenizer, limit: limit, leadingBos: config.family.scoresWithBos)
        let shown = task.documents(limit: limit)
        for (d, reqs) in docs.enumerated() {
            for r in reqs where r.inputLength > config.usablePositions {
                throw TaskError.tooLong(task: task.name, document: task.label(shown[d]), tokens: r.inputLength + 1, positions: config.usablePositions)
            }
        }
        // A document's choices share their context (most tasks) or its start (Winogrande's
        // partial scoring): each document is one packed row that computes that prefix once;
        // documents sharing a few-shot prompt share a row too (rowsSharingPrompts).
        // A choice written twice (csqa offers " indestructible" as choices 0 and 3) is scored
        // once, so the copies tie exactly and the first wins, as when each is scored alone.
        var flat: [ScoringRequest] = [], groups: [[Int]] = [], slot: [Int] = []
        for d in docs {
            var group: [Int] = []
            for r in d {
                if let j = group.first(where: { flat[$0].context == r.context && flat[$0].continuation == r.continuation }) { slot.append(j); continue }
                flat.append(r); group.append(flat.count - 1); slot.append(flat.count - 1)
            }
            groups.append(group)
        }
        let rows = rowsSharingPrompts(groups, flat, limit: min(maxSharedRow, config.packedRowLimit), cost: rowCost)
        let unique = try score(flat, groups: rows, batchTokens: batchTokens, skipLayers: skipLayers, progress: progress)
        let scores = slot.map { unique[$0] }
        var result = TaskResult(task: task.name, variant: task.variant, primaryMetric: task.primaryMetric, documents: docs.count)
        result.tokens = flat.reduce(0) { $0 + $1.inputLength }
        result.logLikelihoods = scores.map(\.logLikelihood)
        let n = Double(docs.count)
        func stderr(_ p: Double) -> Double { docs.count > 1 ? (p * (1 - p) / (n - 1)).squareRoot() : 0 }
        var k = 0
        switch task.kind {
        case .lastWord:
            var hits = 0, llSum = 0.0
            for d in docs.indices {
                let s = scores[k..<(k + docs[d].count)]
                if s.allSatisfy(\.isGreedy) { hits += 1 }
                llSum += s.reduce(0) { $0 + $1.logLikelihood }
                k += docs[d].count
            }
            result.acc = Double(hits) / n
            result.perplexity = exp(-llSum / n)
        case .multipleChoice:
            var raw = 0, norm = 0
            var hits = [Int](repeating: 0, count: task.subtasks.count), sizes = hits
            for (d, doc) in shown.enumerated() {
                let s = scores[k..<(k + docs[d].count)].map(\.logLikelihood)
                let perChar = zip(s, doc.requests).map { $0 / Double(max(1, $1.continuation.unicodeScalars.count)) }
                let hit = argmax(s) == doc.gold
                if hit { raw += 1 }
                if argmax(perChar) == doc.gold { norm += 1 }
                if !task.subtasks.isEmpty { sizes[doc.subtask] += 1; hits[doc.subtask] += hit ? 1 : 0 }
                k += docs[d].count
            }
            result.acc = Double(raw) / n
            if task.reportsNormalized {
                result.accNorm = Double(norm) / n
                result.accNormStderr = stderr(result.accNorm!)
            }
            result.subtasks = task.subtasks.indices.filter { sizes[$0] > 0 }.map { i in
                let p = Double(hits[i]) / Double(sizes[i])
                return SubtaskScore(name: task.subtasks[i], documents: sizes[i], acc: p,
                                    accStderr: sizes[i] > 1 ? (p * (1 - p) / Double(sizes[i] - 1)).squareRoot() : 0)
            }
        }
        result.accStderr = stderr(result.acc)
        if !result.subtasks.isEmpty {
            result.accStderr = pooledStderr(result.subtasks)
            result.accMacro = result.subtasks.reduce(0) { $0 + $1.acc } / Double(result.subtasks.count)
        }
        result.seconds = Date().timeIntervalSince(t0)
        return result
    }
}

/// The longest row documents sharing a prompt are packed into (a bound on its activations and
/// attention scratch; a few-shot row stops growing well before it, see rowCost).
let maxSharedRow = 8192

/// Forward cost of a scored row by its tokens L: a·L + b·L²/2, in FLOPs. a = 2 per matmul
/// weight (the LM head aside: only continuation rows reach it); b = 4·H·D per layer for one
/// (query, key) pair, counted twice because attention's small products and softmax run at
/// about half the big matmuls' rate (a 4 × 256 training step's attention, 34 GFLOP of the causal
/// part, took 0.28 s on 2 Zen 4 cores: ~120 GFLOP/s against ~210 for the matmuls).
public struct RowCost: Sendable {
    public let perToken: Double, perPair: Double
    public init(perToken: Double, perPair: Double) { self.perToken = perToken; self.perPair = perPair }
    public func callAsFunction(_ L: Int) -> Double { perToken * Double(L) + perPair * Double(L) * Double(L) / 2 }
}

extension LlamaModel {
    public var rowCost: RowCost {
        let c = config
        let weights = layout.entries.filter { $0.shape.count == 2 && $0.name.hasPrefix("model.layers.") }.reduce(0) { $0 + $1.count }
        return RowCost(perToken: 2 * Double(weights), perPair: 2 * 4 * Double(c.numHiddenLayers * c.numAttentionHeads * c.headDim))
    }
}

/// Consecutive documents whose inputs share a long start — a few-shot prompt, MMLU's
/// description and five dev questions (85% of 5-shot prompt tokens) — are packed into one row,
/// so that start is computed once for all of them. A document joins the row before it when
/// that costs less than its own row would (`cost`: the longer row's attention grows as its
/// square, so 0-shot MMLU questions, which share only the ~16-token description, pack a few to
/// a row, and 5-shot ones up to the limit) and the row stays within `limit` tokens. Measured on
/// the bundled teacher, fp32, `--limit 5` (Zen 4): 5-shot 267 → 102 s, 0-shot 42.6 → 37.6 s;
/// hellaswag and arc_easy at 200 documents as fast as before.
public func rowsSharingPrompts(_ groups: [[Int]], _ requests: [ScoringRequest], limit: Int, cost: RowCost) -> [[Int]] {
    var rows: [[Int]] = [], length = 0
    for g in groups {
        let alone = PrefixGroup(g, requests).length
        if let row = rows.last, let head = row.first, let first = g.first {
            let b = requests[first], shared = b.sharedInput(with: requests[head])
            if shared > 0 && length + b.inputLength - shared <= limit {
                let merged = PrefixGroup(row + g, requests).length
                if merged <= limit && cost(merged) - cost(length) < cost(alone) { rows[rows.count - 1] = row + g; length = merged; continue }
            }
        }
        rows.append(g); length = alone
    }
    return rows
}

/// Tokens in the packed row of `members` (a group for `score`): their shared input prefix once,
/// then each distinct remainder.
public func packedRowLength(_ members: [Int], _ requests: [ScoringRequest]) -> Int { PrefixGroup(members, requests).length }

/// lm-eval-harness's standard error of a size-weighted group mean: the subtasks' sample
/// variances pooled, √(Σ (nᵢ − 1)·nᵢ·seᵢ² / (N − k) / N) over k subtasks of N documents.
func pooledStderr(_ s: [SubtaskScore]) -> Double {
    let n = s.reduce(0) { $0 + $1.documents }
    guard n > s.count else { return 0 }
    let pooled = s.reduce(0.0) { $0 + Double($1.documents - 1) * Double($1.documents) * $1.accStderr * $1.accStderr } / Double(n - s.count)
    return (pooled / Double(n)).squareRoot()
}

/// The first index of the largest value (numpy's argmax).
func argmax(_ x: [Double]) -> Int {
    var best = 0
    for i in x.indices where x[i] > x[best] { best = i }
    return best
}
