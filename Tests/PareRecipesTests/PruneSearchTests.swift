import Foundation
import XCTest
import PareTestSupport
import PareCore
import PareFormats
import PareModel
import ParePrune
import PareRecipes

/// `prune search` on a tiny teacher: every candidate loads and meets the target, the top K are
/// distilled briefly and the best of them wins; a rerun continues from search.json.
final class PruneSearchTests: XCTestCase {
    let dir = NSTemporaryDirectory() + "pare-search-\(getpid())"
    override func setUp() {
        Parallel.configure(threads: 2)
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// A 4-layer random teacher, train/val data and a search job over them.
    func searchSetup() throws -> (LlamaConfig, LlamaModel, PruneSearchJob) {
        var c = LlamaConfig(vocabSize: 49152, hiddenSize: 64, intermediateSize: 128, numHiddenLayers: 4,
                            numAttentionHeads: 4, numKeyValueHeads: 2, maxPositionEmbeddings: 512)
        c.tieWordEmbeddings = true; c.eosTokenId = .one(2)
        let teacher = try LlamaModel(config: c)
        teacher.initializeRandom(seed: 3, std: 0.05)
        try HFCheckpoint.save(teacher, tokenizer: try Tokenizer(gguf: GGUFFile(path: try Assets.teacher)), to: dir + "/teacher")
        for (name, seed) in [("train", 1), ("val", 2)] {
            var rng = RNG(seed: UInt64(seed))
            let w = try IndexedDatasetWriter(prefix: dir + "/" + name, tokenType: .uint16)
            for _ in 0..<40 { let s = Int32(rng.next() % 200); try w.add((0..<Int(20 + rng.next() % 40)).map { (s + Int32($0)) % 256 }) }
            try w.finish()
        }
        let target = teacher.parameterCount * 8 / 10
        var job = PruneSearchJob()
        job.model = dir + "/teacher"; job.output = dir + "/search"
        job.targetParams = String(target); job.band = 0.7
        job.maxCandidates = 4; job.topK = 2; job.proxySamples = 2; job.exportType = "none"
        job.calibration.calibrationData = dir + "/train"; job.calibration.calibrationSamples = 4; job.calibration.seqLength = 32
        job.distill.train.dataTrain = dir + "/train"; job.distill.train.dataVal = dir + "/val"
        job.distill.train.trainer.seqLength = 32; job.distill.train.trainer.globalBatchSize = 4; job.distill.train.trainer.microBatchSize = 2
        job.distill.train.trainer.valBatches = 2; job.distill.topKLogits = 16
        job.shortTokens = 2 * 4 * 32
        return (c, teacher, job)
    }

    func testTheSearchRanksLoadableShapesAndDistillsTheBest() throws {
        let (c, teacher, job) = try searchSetup()
        let target = teacher.parameterCount * 8 / 10
        let r = try job.run(progress: .silent)

        XCTAssertEqual(r.candidates.count, 4)
        let rules = LoadableShape.Consumers(family: .llama, qkvBias: false, ggufBlock: nil)
        for x in r.candidates {
            XCTAssertLessThanOrEqual(x.parameters, target); XCTAssertGreaterThanOrEqual(Double(x.parameters), 0.7 * Double(target))
            XCTAssertEqual(x.parameters, x.shape.parameters(teacher: c))
            XCTAssertTrue(LoadableShape(hidden: x.shape.hidden, ffn: x.shape.ffn, heads: x.shape.heads, groups: x.shape.groups, headDim: 16).problems(for: rules).isEmpty)
            XCTAssertNotNil(x.proxyLoss)
        }
        XCTAssertEqual(r.candidates.map(\.proxyLoss!), r.candidates.map(\.proxyLoss!).sorted(), "ranked by the proxy")
        let distilled = r.candidates.filter { $0.shortKDLoss != nil }
        XCTAssertEqual(distilled.count, 2, "the top K by the proxy, and only they, are distilled")
        let best = distilled.min { $0.shortKDLoss! < $1.shortKDLoss! }!
        XCTAssertEqual(r.winner, r.shortKDRanked.first)
        XCTAssertEqual(try PretrainedModel.load(dir + "/search/winner").model.config.hiddenSize, best.shape.hidden)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/search/teacher-cache"), "the short distillations share a teacher cache")
        // A rerun continues from search.json: same table, nothing recomputed.
        let again = try job.run(progress: .silent)
        XCTAssertEqual(again.candidates, r.candidates)
        XCTAssertEqual(again.winner, r.winner)
        XCTAssertEqual(again.lossRanked, r.shortKDRanked)

        // Ranked by a task's accuracy instead (--score): the finalists' short distillations are
        // kept, each is scored once, and search.json keeps both rankings.
        _ = try Assets.mmlu
        var scored = job
        scored.score = "mmlu_anatomy"; scored.scoreLimit = 3; scored.scoreShots = 0
        let s = try scored.run(progress: .silent)
        let finalists = s.candidates.filter { $0.shortKDLoss != nil }
        XCTAssertEqual(finalists.map(\.shortKDLoss), distilled.map(\.shortKDLoss), "the short distillations are not run again")
        XCTAssertTrue(finalists.allSatisfy { ($0.shortKDScoredOn ?? "").hasPrefix("mmlu_anatomy 0-shot, limit 3, fp32, files ") && $0.shortKDScore != nil }, "\(finalists)")
        XCTAssertEqual(s.score, "mmlu_anatomy")
        XCTAssertEqual(s.lossRanked, r.shortKDRanked)
        let accuracy = Dictionary(uniqueKeysWithValues: finalists.map { ($0.slug, $0.shortKDScore!) })
        let byScore = try XCTUnwrap(s.scoreRanked)
        XCTAssertEqual(byScore.map { accuracy[$0]! }, byScore.map { accuracy[$0]! }.sorted(by: >), "most accurate first")
        XCTAssertEqual(s.winner, byScore.first)
        XCTAssertEqual(s.shortKDRanked, byScore)
        let json = try String(contentsOfFile: dir + "/search/search.json", encoding: .utf8)
        XCTAssertTrue(json.contains("\"scoreRanked\"") && json.contains("\"lossRanked\""), json)
    }

    /// Ranked by loss, the score's settings change nothing and stay out of the fingerprint, so
    /// a pipeline written before --score keeps its finished search and distillation.
    func testTheScoreEntersTheFingerprintOnlyWhenItRanks() {
        var job = PruneSearchJob()
        XCTAssertFalse(job.fingerprintJSON.contains("\"score"), job.fingerprintJSON)
        job.scoreLimit = 50
        XCTAssertFalse(job.fingerprintJSON.contains("\"score"), job.fingerprintJSON)
        job.score = "mmlu"
        XCTAssertTrue(job.fingerprintJSON.contains("\"score\":\"mmlu\"") && job.fingerprintJSON.contains("\"score_limit\":50"), job.fingerprintJSON)
    }

    func testTargetsAreCheckedByKey() {
        var job = PruneSearchJob()
        job.model = "m"; job.output = "o"; job.distill.train.dataTrain = "d"; job.distill.train.dataVal = "v"
        job.calibration.calibrationData = "d"
        XCTAssertThrowsError(try job.validate()) { XCTAssert("\($0)".contains("give exactly one target"), "\($0)") }
        job.targetParams = "eighty"
        XCTAssertThrowsError(try job.validate()) { XCTAssert("\($0)".contains("80M"), "\($0)") }
        job.targetParams = "80M"; job.targetDecodeTps = 50
        XCTAssertThrowsError(try job.validate()) { XCTAssert("\($0)".contains("exactly one"), "\($0)") }
    }

    /// Targets no shape can meet say what is true of the teacher and the grid (they once all
    /// got "Loosen the target", backwards for a target above the teacher).
    func testImpossibleTargetsSayWhatIsTrue() throws {
        let (_, teacher, job) = try searchSetup()
        func message(_ edit: (inout PruneSearchJob) -> Void) -> String {
            var j = job; edit(&j)
            do { _ = try j.run(progress: .silent); return "(no error)" } catch { return RecipeError.message(error, naming: SettingName.flag) }
        }
        var m = message { $0.targetParams = "1000B" }
        XCTAssertTrue(m.contains("--target-params") && m.contains("1000B keeps the teacher whole") && m.contains("has \(teacher.parameterCount) parameters"), m)
        m = message { $0.targetParams = "1000" }
        XCTAssertTrue(m.contains("1000 is below the smallest loadable shape"), m)
        m = message { $0.targetParams = nil; $0.targetDecodeTps = 1e9 }
        XCTAssertTrue(m.contains("--target-decode-tps") && m.contains("beyond every loadable shape"), m)
        m = message { $0.targetParams = nil; $0.targetDecodeTps = 0.01 }
        XCTAssertTrue(m.contains("every loadable shape already beats") && m.contains("asks for no pruning"), m)
        XCTAssertFalse(m.contains("Loosen"), m)
    }
}
