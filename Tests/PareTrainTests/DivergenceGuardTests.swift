import Foundation
import XCTest
import PareCore
import PareFormats
import PareModel
import PareTrain

/// The model's own LM loss, except on chosen global batches (recognised by their tokens, so a
/// replay after a rewind meets them again): those return NaN, or 10× their loss.
final class PoisonedObjective: TrainingObjective {
    let model: LlamaModel
    var nan: [[Int32]] = [], spike: [[Int32]] = []
    init(model: LlamaModel) { self.model = model }
    func microStep(tokens: UnsafePointer<Int32>, targets: UnsafePointer<Int32>, acts: Activations, lossScale: Float, firstSample: Int) throws
        -> (sum: Double, count: Int, extra: [(String, Double)]) {
        let r = try model.forwardBackward(tokens: tokens, targets: targets, acts: acts, lossScale: lossScale)
        let seen = Array(UnsafeBufferPointer(start: tokens, count: acts.B * acts.T))
        if nan.contains(where: { $0.starts(with: seen) }) { return (.nan, r.count, []) }
        if spike.contains(where: { $0.starts(with: seen) }) { return (10 * r.sum, r.count, []) }
        return (r.sum, r.count, [])
    }
    var auxiliaryParameters: [AuxiliaryParameter] { [] }
}

final class DivergenceGuardTests: XCTestCase {
    let dir = NSTemporaryDirectory() + "pare-guard-\(getpid())"
    override func setUp() {
        Parallel.configure(threads: 2)
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// A trainer whose data holds a NaN batch (global batch 5) and a spiking one (batch 13).
    func trainer(steps: Int, output: String, maxRewinds: Int = 3) throws -> Trainer {
        let model = try LlamaModel(config: TrainerTests.config)
        model.initializeRandom(seed: 3, std: 0.1)
        var c = TrainerConfig(steps: steps, globalBatchSize: 4, microBatchSize: 2, seqLength: 16,
                              schedule: LRSchedule(lr: 3e-3, minLR: 3e-4, warmupSteps: 2, decaySteps: 16))
        c.valBatches = 2; c.checkpointInterval = 2; c.saveTopK = 1; c.maxRewinds = maxRewinds
        let train = try TrainerTests.dataset(in: dir, "train", seed: 1)
        func batch(_ b: Int) -> [Int32] {
            var t = [Int32](repeating: 0, count: 4 * 16), y = t
            t.withUnsafeMutableBufferPointer { tp in y.withUnsafeMutableBufferPointer { train.batch(first: b * 4, B: 4, tokens: tp.baseAddress!, targets: $0.baseAddress!) } }
            return t
        }
        let objective = PoisonedObjective(model: model)
        objective.nan = [batch(5)]; objective.spike = [batch(13)]
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        return try Trainer(model: model, tokenizer: nil, config: c, train: train, val: try TrainerTests.dataset(in: dir, "val", seed: 2),
                           output: output, log: try MetricsLog(directory: output), objective: objective)
    }

    func events(_ output: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: output + "/metrics.jsonl", encoding: .utf8)
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["event"] as? String == "rewind" }
    }

    /// The NaN batch (met at step 6) rewinds to the step-4 checkpoint and skips batches 4 and 5;
    /// steps then run two batches ahead, so the spike is met at step 12 and rewinds to step 10,
    /// skipping batches 12 and 13.
    /// The run finishes its 14 steps, the rewinds are in metrics.jsonl, and a run resumed from a
    /// checkpoint written after a rewind trains on the same batches as the uninterrupted one.
    func testAPoisonedBatchIsRewoundAndSkippedAndTheRunFinishes() throws {
        let a = try trainer(steps: 14, output: dir + "/a")
        try a.run(resume: false, saveFinalModel: false)
        XCTAssertEqual(a.losses.count, 14)
        XCTAssertTrue(a.losses.allSatisfy(\.isFinite))
        let ev = try events(dir + "/a")
        XCTAssertEqual(ev.count, 2, "\(ev)")
        XCTAssertEqual(ev[0]["rewound_to_step"] as? Int, 4)
        XCTAssertEqual(ev[0]["skipped_batches"] as? [Int], [4, 5])
        XCTAssert((ev[0]["reason"] as? String ?? "").contains("not finite"), "\(ev[0])")
        XCTAssert((ev[1]["reason"] as? String ?? "").contains("median"), "\(ev[1])")
        XCTAssertEqual(ev[1]["skipped_batches"] as? [Int], [12, 13], "\(ev[1])")
        let last = Checkpoint.list(dir + "/a/checkpoints").last!.info
        XCTAssertEqual(last.divergenceGuard?.skippedBatches, [4, 5, 12, 13]); XCTAssertEqual(last.divergenceGuard?.rewinds, 2)
        print("divergence guard: losses \(a.losses.map { String(format: "%.4f", $0) }); rewinds \(ev.map { "\($0["reason"]!) → step \($0["rewound_to_step"]!), skipped \($0["skipped_batches"]!)" })")

        // Stop at step 8 (after the first rewind), resume to 14: the same losses and weights.
        let b1 = try trainer(steps: 8, output: dir + "/b")
        try b1.run(resume: false, saveFinalModel: false)
        let b2 = try trainer(steps: 14, output: dir + "/b")
        try b2.run(resume: true, saveFinalModel: false)
        XCTAssertEqual(b1.losses + b2.losses, a.losses)
        XCTAssertTrue(memcmp(a.model.params.pointer, b2.model.params.pointer, 4 * a.model.params.count) == 0, "final weights identical")
        XCTAssertEqual(try events(dir + "/b").count, 2, "the first rewind's row survives the resume")
    }

    /// With max_rewinds 0 the first fault stops the run, as before the guard, naming the step.
    func testWithoutRewindsTheFirstFaultStops() throws {
        let t = try trainer(steps: 8, output: dir + "/c", maxRewinds: 0)
        XCTAssertThrowsError(try t.run(resume: false, saveFinalModel: false)) {
            XCTAssert("\($0)".contains("step 6: the training loss is not finite"), "\($0)")
            XCTAssert("\($0)".contains("step-0000004"), "names the last good checkpoint: \($0)")
        }
    }
}
