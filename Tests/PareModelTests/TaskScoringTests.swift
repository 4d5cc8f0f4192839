import XCTest
import PareTestSupport
import PareCore
import PareFormats
import PareModel

/// Batched continuation scoring against a brute-force twin: each request alone, full logits,
/// log-softmax in Double, argmax by hand.
final class TaskScoringTests: XCTestCase {
    override func setUp() { Parallel.configure(threads: 2) }

    func model() throws -> LlamaModel {
        let config = LlamaConfig(vocabSize: 97, hiddenSize: 32, intermediateSize: 48, numHiddenLayers: 3,
                                 numAttentionHeads: 4, numKeyValueHeads: 2, tieWordEmbeddings: true)
        let m = try LlamaModel(config: config)
        m.initializeRandom(seed: 11, std: 0.3)
        return m
    }

    func naive(_ m: LlamaModel, _ r: ScoringRequest, skip: Set<Int> = []) throws -> ContinuationScore {
        let whole = r.context + r.continuation
        let T = whole.count - 1, V = m.config.vocabSize
        let logits = try m.logits(tokens: Array(whole[0..<T]), B: 1, T: T, skipLayers: skip)
        var ll = 0.0, greedy = true
        for (j, target) in r.continuation.enumerated() {
            let row = Array(logits[(r.context.count - 1 + j) * V..<(r.context.count + j) * V]).map(Double.init)
            let mx = row.max()!
            let lse = mx + log(row.reduce(0) { $0 + exp($1 - mx) })
            ll += row[Int(target)] - lse
            greedy = greedy && row.firstIndex(of: mx)! == Int(target)
        }
        return ContinuationScore(logLikelihood: ll, isGreedy: greedy, tokens: r.continuation.count)
    }

    /// Requests of many lengths (so batches of different shapes and padding), scored in
    /// batches smaller than the set, equal their one-at-a-time scores.
    func testBatchedScoresEqualOneRequestAtATime() throws {
        let m = try model()
        var rng = RNG(seed: 5)
        var requests: [ScoringRequest] = []
        for _ in 0..<23 {
            let c = 1 + Int(rng.next() % 30), k = 1 + Int(rng.next() % 6)
            requests.append(ScoringRequest(context: (0..<c).map { _ in Int32(rng.next() % 97) },
                                           continuation: (0..<k).map { _ in Int32(rng.next() % 97) }))
        }
        // Make one request's continuation the greedy one, token by token.
        var ctx: [Int32] = [4, 9, 2]
        var cont: [Int32] = []
        for _ in 0..<3 {
            let l = try m.logits(tokens: ctx + cont, B: 1, T: ctx.count + cont.count)
            let last = Array(l.suffix(97))
            cont.append(Int32(last.firstIndex(of: last.max()!)!))
        }
        requests.append(ScoringRequest(context: ctx, continuation: cont))
        var largest = 0.0
        let got = try m.score(requests, batchTokens: 64)
        for (i, r) in requests.enumerated() {
            let want = try naive(m, r)
            largest = max(largest, abs(got[i].logLikelihood - want.logLikelihood))
            XCTAssertEqual(got[i].logLikelihood, want.logLikelihood, accuracy: 1e-4, "request \(i)")
            XCTAssertEqual(got[i].isGreedy, want.isGreedy, "request \(i)")
            XCTAssertEqual(got[i].tokens, r.continuation.count)
        }
        XCTAssertTrue(got.last!.isGreedy, "the greedy continuation is scored as greedy")
        print("batched vs one-at-a-time scores: max |diff| \(largest)")
        // With layers skipped, as depth selection by task does.
        let skipped = try m.score(Array(requests.prefix(5)), batchTokens: 64, skipLayers: [1])
        for i in 0..<5 { XCTAssertEqual(skipped[i].logLikelihood, try naive(m, requests[i], skip: [1]).logLikelihood, accuracy: 1e-4) }
    }

    /// Documents scored as packed rows (the choices' shared prefix once, then each remainder)
    /// equal each request scored alone: shared contexts, a shared start with different
    /// contexts (Winogrande), one input a prefix of another, and lone requests, in batches
    /// that mix packed and plain rows.
    func testSharedPrefixRowsEqualOneRequestAtATime() throws {
        let m = try model()
        var rng = RNG(seed: 8)
        func tokens(_ n: Int) -> [Int32] { (0..<n).map { _ in Int32(rng.next() % 97) } }
        var requests: [ScoringRequest] = [], groups: [[Int]] = []
        for d in 0..<12 {
            let start = requests.count
            switch d % 4 {
            case 0:   // one context, four continuations
                let ctx = tokens(5 + d)
                for _ in 0..<4 { requests.append(ScoringRequest(context: ctx, continuation: tokens(1 + Int(rng.next() % 7)))) }
            case 1:   // contexts that differ after a shared start, one continuation
                let head = tokens(4 + d), cont = tokens(3)
                for _ in 0..<2 { requests.append(ScoringRequest(context: head + tokens(2), continuation: cont)) }
            case 2:   // one request's input is the start of another's
                let ctx = tokens(6)
                requests.append(ScoringRequest(context: ctx, continuation: [7]))
                requests.append(ScoringRequest(context: ctx, continuation: [7, 8, 9]))
            default:  // a lone request
                requests.append(ScoringRequest(context: tokens(3 + d), continuation: tokens(2)))
            }
            groups.append(Array(start..<requests.count))
        }
        var reports: [ScoringProgress] = []
        let got = try m.score(requests, groups: groups, batchTokens: 96) { reports.append($0) }
        // Progress counts every request's input tokens, as a reference forward would, and the
        // packed rows' tokens, each group's shared prefix once: the 4 choices of a 5 + d-token
        // context (d = 0, 4, 8) save 3 × (5 + d), the 2 contexts sharing a 4 + d-token start
        // (d = 1, 5, 9) save 4 + d, and each prefix case (d = 2, 6, 10) saves its 6 tokens.
        let inputTokens = requests.reduce(0) { $0 + $1.inputLength }
        let shared = [0, 4, 8].reduce(0) { $0 + 3 * (5 + $1) } + [1, 5, 9].reduce(0) { $0 + (4 + $1) } + 3 * 6
        XCTAssertGreaterThan(reports.count, 1, "several batches report")
        XCTAssertEqual(reports.last?.requests, requests.count)
        XCTAssertEqual(reports.last?.tokens, inputTokens)
        XCTAssertEqual(reports.last?.rowTokens, inputTokens - shared)
        XCTAssertTrue(reports.allSatisfy { $0.totalTokens == inputTokens && $0.totalRowTokens == inputTokens - shared })
        let quarter = ScoringProgress(requests: 1, totalRequests: 40, tokens: 90, totalTokens: 400, rowTokens: 25, totalRowTokens: 100)
        XCTAssertEqual(quarter.secondsLeft(elapsed: 10), 30, accuracy: 1e-12)
        var largest = 0.0
        for (i, r) in requests.enumerated() {
            let want = try naive(m, r)
            largest = max(largest, abs(got[i].logLikelihood - want.logLikelihood))
            XCTAssertEqual(got[i].logLikelihood, want.logLikelihood, accuracy: 1e-4, "request \(i)")
            XCTAssertEqual(got[i].isGreedy, want.isGreedy, "request \(i)")
            XCTAssertEqual(got[i].tokens, r.continuation.count)
        }
        print("shared-prefix rows vs one-at-a-time scores: max |diff| \(largest)")
        let skipped = try m.score(requests, groups: groups, batchTokens: 96, skipLayers: [0])
        for i in 0..<6 { XCTAssertEqual(skipped[i].logLikelihood, try naive(m, requests[i], skip: [0]).logLikelihood, accuracy: 1e-4) }
    }

    /// MMLU's shape: four one-token choices after one context. Each question is one row of its
    /// context alone (the choices read off its last position), in batches of only such rows
    /// (plain causal rows) and mixed with a row that branches (packed rows), and every score
    /// equals the request scored alone.
    func testOneTokenChoicesShareOneForwardOfTheirContext() throws {
        let m = try model()
        var rng = RNG(seed: 21)
        func tokens(_ n: Int) -> [Int32] { (0..<n).map { _ in Int32(rng.next() % 97) } }
        var requests: [ScoringRequest] = [], groups: [[Int]] = []
        var contexts = 0
        for q in 0..<6 {
            let ctx = tokens(7 + 3 * q)
            contexts += ctx.count
            groups.append(Array(requests.count..<(requests.count + 4)))
            for letter in [10, 11, 12, 13] as [Int32] { requests.append(ScoringRequest(context: ctx, continuation: [letter])) }
        }
        for mixed in [false, true] {
            var rq = requests, gr = groups, rowTokens = contexts
            if mixed {
                let ctx = tokens(9)
                gr.append([rq.count, rq.count + 1])
                rq.append(ScoringRequest(context: ctx, continuation: [1, 2]))
                rq.append(ScoringRequest(context: ctx, continuation: [3, 4, 5]))
                rowTokens += 9 + 1 + 2
            }
            var last: ScoringProgress? = nil
            let got = try m.score(rq, groups: gr, batchTokens: 64) { last = $0 }
            XCTAssertEqual(last?.rowTokens, rowTokens, "one forward of each question's context")
            for (i, r) in rq.enumerated() {
                XCTAssertEqual(got[i].logLikelihood, try naive(m, r).logLikelihood, accuracy: 1e-4, "request \(i), mixed \(mixed)")
            }
        }
    }

    /// Few-shot documents share their prompt: consecutive questions after one long prompt are
    /// packed into one row that computes the prompt once (each question a branch, its four
    /// one-letter choices sharing it), a question after another prompt starts a new row, a
    /// short shared start (0-shot MMLU's description) packs nothing, the row limit is kept,
    /// and every score equals the request scored alone.
    func testFewShotDocumentsShareOneForwardOfTheirPrompt() throws {
        let m = try model()
        var rng = RNG(seed: 22)
        func tokens(_ n: Int) -> [Int32] { (0..<n).map { _ in Int32(rng.next() % 90) } }
        var requests: [ScoringRequest] = [], groups: [[Int]] = []
        func document(_ context: [Int32]) {
            groups.append(Array(requests.count..<(requests.count + 4)))
            for letter in [10, 11, 12, 13] as [Int32] { requests.append(ScoringRequest(context: context, continuation: [letter])) }
        }
        let prompt = tokens(40), other = tokens(40), short = tokens(3)
        var questions = 0
        for q in 0..<5 { let t = tokens(6 + q); questions += t.count; document([96] + prompt + t) }   // 96: not in `tokens`
        document([96] + other + tokens(8))
        for q in 0..<3 { document([96] + short + tokens(20 + q)) }
        // a·L + b·L²/2 with b large enough that 20 tokens sharing 4 are cheaper alone.
        let cost = RowCost(perToken: 1, perPair: 0.05)
        let rows = rowsSharingPrompts(groups, requests, limit: 512, cost: cost)
        XCTAssertEqual(rows.map(\.count), [20, 4, 4, 4, 4], "five questions of one prompt in one row; the rest alone")
        XCTAssertEqual(packedRowLength(rows[0], requests), 41 + questions, "the prompt once, then each question once")
        XCTAssertEqual(rowsSharingPrompts(groups, requests, limit: 41 + 6 + 7 + 8, cost: cost).map(\.count), [12, 8, 4, 4, 4, 4], "the row limit")
        var last: ScoringProgress? = nil
        let got = try m.score(requests, groups: rows, batchTokens: 128) { last = $0 }
        XCTAssertEqual(last?.rowTokens, rows.reduce(0) { $0 + packedRowLength($1, requests) })
        for (i, r) in requests.enumerated() {
            XCTAssertEqual(got[i].logLikelihood, try naive(m, r).logLikelihood, accuracy: 1e-4, "request \(i)")
        }
    }

    /// The content hash follows the weights and config, not the object or the thread count.
    func testContentHashFollowsTheWeights() throws {
        let a = try model(), b = try model()
        XCTAssertEqual(a.contentHash, b.contentHash)
        Parallel.configure(threads: 1)
        XCTAssertEqual(a.contentHash, b.contentHash)
        Parallel.configure(threads: 2)
        b.params.pointer[b.params.count / 3] += 1e-6
        XCTAssertNotEqual(a.contentHash, b.contentHash)
    }
}
