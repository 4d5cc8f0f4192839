import Foundation
import XCTest
import PareCore
import PareFormats
import PareModel
import PareTrain

final class TrainerTests: XCTestCase {
    let dir = NSTemporaryDirectory() + "pare-trainer-\(getpid())"
    override func setUp() {
        Parallel.configure(threads: 2)
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    static let config = LlamaConfig(vocabSize: 97, hiddenSize: 32, intermediateSize: 48, numHiddenLayers: 2,
                                    numAttentionHeads: 4, numKeyValueHeads: 2, tieWordEmbeddings: true)

    func dataset(_ name: String, seed: UInt64) throws -> BlendedSampleStream { try Self.dataset(in: dir, name, seed: seed) }

    static func dataset(in dir: String, _ name: String, seed: UInt64) throws -> BlendedSampleStream {
        var rng = RNG(seed: seed)
        let w = try IndexedDatasetWriter(prefix: dir + "/" + name, tokenType: .uint16)
        // Learnable data: runs of increasing ids mod 97, so the loss really falls.
        for _ in 0..<40 {
            let start = Int32(rng.next() % 97)
            try w.add((0..<Int(10 + rng.next() % 30)).map { (start + Int32($0)) % 97 })
        }
        try w.finish()
        return BlendedSampleStream(streams: [try GPTSampleStream(dataset: IndexedDataset(prefix: dir + "/" + name), seqLength: 16, seed: 7)], weights: [1])
    }

    func trainer(steps: Int, output: String, decay: Int = 8, precision: Precision = .fp32) throws -> Trainer {
        let model = try LlamaModel(config: TrainerTests.config)
        model.initializeRandom(seed: 3, std: 0.1)
        try model.setPrecision(precision)
        var c = TrainerConfig(steps: steps, globalBatchSize: 4, microBatchSize: 2, seqLength: 16,
                              schedule: LRSchedule(lr: 3e-3, minLR: 3e-4, warmupSteps: 2, decaySteps: decay))
        c.valBatches = 2; c.checkpointInterval = 2; c.saveTopK = 1
        return try Trainer(model: model, tokenizer: nil, config: c, train: try dataset("train", seed: 1),
                           val: try dataset("val", seed: 2), output: output, log: MetricsLog())
    }

    /// 8 steps in one run equal 4 steps + --resume for 4 more: same losses, same weights.
    func testResumeEqualsUninterrupted() throws { try checkResumeEquality(.fp32) }

    /// The same in bf16: the resumed run re-rounds its bf16 weights from the checkpoint's f32
    /// masters, which is exactly what the uninterrupted run holds after its step 4.
    func testResumeEqualsUninterruptedInBF16() throws {
        if let why = GEMM.bf16Unavailability { throw XCTSkip(why) }
        try checkResumeEquality(.bf16)
    }

    func checkResumeEquality(_ precision: Precision) throws {
        let a = try trainer(steps: 8, output: dir + "/a", precision: precision)
        try a.run(resume: false, saveFinalModel: false)
        let b1 = try trainer(steps: 4, output: dir + "/b", precision: precision)
        try b1.run(resume: false, saveFinalModel: false)
        let b2 = try trainer(steps: 8, output: dir + "/b", precision: precision)
        try b2.run(resume: true, saveFinalModel: false)
        let resumed = b1.losses + b2.losses
        XCTAssertEqual(resumed.count, 8)
        for (x, y) in zip(a.losses, resumed) { XCTAssertEqual(x, y, accuracy: 1e-6 * abs(x), "losses") }
        XCTAssertTrue(memcmp(a.model.params.pointer, b2.model.params.pointer, 4 * a.model.params.count) == 0, "final weights identical")
        XCTAssertTrue(memcmp(a.optimizer.m.pointer, b2.optimizer.m.pointer, 4 * a.model.params.count) == 0, "Adam moments identical")
        XCTAssertLessThan(a.losses.last!, a.losses.first! - 0.2, "training lowers the loss: \(a.losses)")
        print("resume equality (\(precision.rawValue)): losses \(a.losses.map { String(format: "%.6f", $0) }) identical; weights bit-identical")
        // Checkpoint pruning: the newest is always kept.
        XCTAssertEqual(Checkpoint.list(dir + "/a/checkpoints").last?.info.step, 8)
    }

    func testResumeRefusesDifferentSettings() throws {
        let a = try trainer(steps: 2, output: dir + "/c")
        try a.run(resume: false, saveFinalModel: false)
        let b = try trainer(steps: 4, output: dir + "/c", decay: 9)
        XCTAssertThrowsError(try b.run(resume: true, saveFinalModel: false)) { XCTAssert("\($0)".contains("different settings"), "\($0)") }
    }

    func testNaNStopsWithClearMessage() throws {
        let t = try trainer(steps: 4, output: dir + "/n")
        t.model.params.pointer[5] = .nan
        XCTAssertThrowsError(try t.run(resume: false, saveFinalModel: false)) { XCTAssert("\($0)".contains("not finite"), "\($0)") }
    }

    func testScheduleAndTensorBoardFraming() throws {
        let s = LRSchedule(lr: 1e-4, minLR: 1e-5, warmupSteps: 2, decaySteps: 30)
        XCTAssertEqual(s.rate(at: 0), 5e-5, accuracy: 1e-12)
        XCTAssertEqual(s.rate(at: 1), 1e-4, accuracy: 1e-12)
        XCTAssertEqual(s.rate(at: 2), 1e-4, accuracy: 1e-12)
        XCTAssertEqual(s.rate(at: 16), 5.5e-5, accuracy: 1e-12)
        XCTAssertEqual(s.rate(at: 30), 1e-5, accuracy: 1e-12)
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        let w = try TensorBoardWriter(directory: dir + "/tb")
        try w.scalars([("train/loss", 2.5)], step: 3)
        w.flush()
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: w.path)))
        // Walk the records, checking both CRCs of each.
        var i = 0, records = 0
        while i < bytes.count {
            let lenBytes = Array(bytes[i..<i + 8])
            let len = Int(lenBytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
            XCTAssertEqual(bytes[i + 8..<i + 12].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }, CRC32C.masked(lenBytes))
            let payload = Array(bytes[i + 12..<i + 12 + len])
            XCTAssertEqual(bytes[i + 12 + len..<i + 16 + len].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }, CRC32C.masked(payload))
            i += 16 + len; records += 1
        }
        XCTAssertEqual(records, 2)
        XCTAssertTrue(w.path.contains("tfevents"))
    }
}
