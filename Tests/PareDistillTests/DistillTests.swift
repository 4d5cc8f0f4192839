import Foundation
import XCTest
import PareTestSupport
import PareCore
import PareDistill
import PareFormats
import PareModel
import PareTrain

final class DistillTests: XCTestCase {
    override func setUp() { Parallel.configure(threads: 2) }

    func run(_ step: TrainingObjective, _ model: LlamaModel, _ f: Fixture, lmChunk: Int = 256) throws -> (Double, [Float]) {
        model.zeroGradients()
        let acts = Activations(config: model.config, B: f.B, T: f.T, lmChunk: lmChunk)
        let count = f.targets.filter { $0 != ignoreIndex }.count
        let r = try f.tokens.withUnsafeBufferPointer { t in try f.targets.withUnsafeBufferPointer { try step.microStep(tokens: t.baseAddress!, targets: $0.baseAddress!, acts: acts, lossScale: 1 / Float(count), firstSample: 0) } }
        return (r.sum / Double(r.count), model.grads!.toArray())
    }

    func testKDOfATeacherWithItselfIsZero() throws {
        let f = try Fixture("tiny-llama3")
        for loss in KDLoss.allCases {
            let d = try Distiller(teacher: try f.model(), student: try f.model(), settings: KDSettings(loss: loss, temperature: 2), kdRatio: 1, microBatch: f.B, seqLength: f.T)
            let (l, g) = try run(d, d.student, f)
            XCTAssertEqual(l, 0, accuracy: 1e-7, "\(loss)")
            XCTAssertLessThan(g.map(abs).max()!, 1e-6, "\(loss): gradient should vanish")
        }
    }

    /// Each loss's gradient against central differences of the loss itself.
    func testKDGradientsMatchFiniteDifferences() {
        let N = 3, V = 13
        var rng = RNG(seed: 4)
        let teacher = (0..<N * V).map { _ in rng.normal() * 2 }
        let student0 = (0..<N * V).map { _ in rng.normal() * 2 }
        let mask = [true, false, true]
        for loss in KDLoss.allCases {
            for tau: Float in [1, 2] {
                let s = KDSettings(loss: loss, temperature: tau, jsdBeta: 0.3)
                func value(_ z: [Float]) -> Double {
                    var z = z
                    return z.withUnsafeMutableBufferPointer { zb in mask.withUnsafeBufferPointer {
                        kdLossForwardBackward(student: zb.baseAddress!, teacher: teacher, ldT: V, mask: $0.baseAddress!, N: N, V: V, settings: s, gradScale: nil).sum } }
                }
                var grad = student0
                _ = grad.withUnsafeMutableBufferPointer { zb in mask.withUnsafeBufferPointer {
                    kdLossForwardBackward(student: zb.baseAddress!, teacher: teacher, ldT: V, mask: $0.baseAddress!, N: N, V: V, settings: s, gradScale: 1) } }
                let worst = worstCentralDifference(at: student0, gradient: grad, value)
                XCTAssertLessThan(worst, 2e-4, "\(loss) τ=\(tau): max |analytic − numeric| \(worst)")
            }
        }
    }

    func testChunkedEqualsUnchunkedAndKDRatioMixesCE() throws {
        let f = try Fixture("tiny-untied")
        let teacher = try f.model()
        let student = try LlamaModel(config: f.config)
        student.initializeRandom(seed: 9, std: 0.08)
        let d = try Distiller(teacher: teacher, student: student, settings: KDSettings(), kdRatio: 0.7, microBatch: f.B, seqLength: f.T)
        let (l1, g1) = try run(d, student, f, lmChunk: 7)
        let (l2, g2) = try run(d, student, f, lmChunk: f.B * f.T)
        XCTAssertEqual(l1, l2, accuracy: 1e-7 * abs(l1))
        assertClose(g1, g2, atol: 1e-7, rtol: 1e-5, "chunked vs unchunked gradient")
        // kd-ratio 0 is plain cross-entropy training.
        let ce = try Distiller(teacher: teacher, student: student, settings: KDSettings(), kdRatio: 0, microBatch: f.B, seqLength: f.T)
        let (l3, g3) = try run(ce, student, f)
        student.zeroGradients()
        let acts = Activations(config: f.config, B: f.B, T: f.T)
        let r = try f.tokens.withUnsafeBufferPointer { t in try f.targets.withUnsafeBufferPointer { try student.forwardBackward(tokens: t.baseAddress!, targets: $0.baseAddress!, acts: acts) } }
        XCTAssertEqual(l3, r.sum / Double(r.count), accuracy: 1e-6)
        assertClose(g3, student.grads!.toArray(), atol: 1e-7, rtol: 1e-5, "kd-ratio 0 = cross-entropy")
    }

    func testDistillationResumeEqualsUninterrupted() throws {
        let dir = NSTemporaryDirectory() + "pare-distill-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let f = try Fixture("tiny-tied")
        try ResumeSetup.writeDataset(prefix: dir + "/d")
        func trainer(_ steps: Int, _ out: String) throws -> Trainer {
            let student = try DepthPruningShim.dropLastLayer(try f.model())
            let d = try Distiller(teacher: try f.model(), student: student, settings: KDSettings(), kdRatio: 1, microBatch: 2, seqLength: 16)
            let c = ResumeSetup.config(steps: steps)
            let s = try ResumeSetup.stream(prefix: dir + "/d")
            return try Trainer(model: student, tokenizer: nil, config: c, train: s, val: nil, output: out, log: MetricsLog(), objective: d)
        }
        let a = try trainer(6, dir + "/a"); try a.run(resume: false, saveFinalModel: false)
        let b1 = try trainer(3, dir + "/b"); try b1.run(resume: false, saveFinalModel: false)
        let b2 = try trainer(6, dir + "/b"); try b2.run(resume: true, saveFinalModel: false)
        XCTAssertEqual(a.losses.count, 6)
        for (x, y) in zip(a.losses, b1.losses + b2.losses) { XCTAssertEqual(x, y, accuracy: 1e-6 * abs(x)) }
        XCTAssertTrue(memcmp(a.model.params.pointer, b2.model.params.pointer, 4 * a.model.params.count) == 0)
    }

    /// One validation pass of a distillation runs the student once per batch and gives both the
    /// LM loss (equal to the model's own) and KD.
    func testValidationRunsTheStudentOncePerBatch() throws {
        let dir = NSTemporaryDirectory() + "pare-distill-val-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let f = try Fixture("tiny-tied")
        try ResumeSetup.writeDataset(prefix: dir + "/v")
        let teacher = try f.model(), student = try DepthPruningShim.dropLastLayer(try f.model())
        let d = try Distiller(teacher: teacher, student: student, settings: KDSettings(), kdRatio: 1, microBatch: 2, seqLength: 16)
        let v = try ResumeSetup.stream(prefix: dir + "/v")
        let (s0, t0) = (student.forwardPasses, teacher.forwardPasses)
        let result = try d.validation(of: student, on: v, batches: 3, microBatch: 2, communicator: SingleProcess())
        XCTAssertEqual(student.forwardPasses - s0, 3, "one student forward per validation batch")
        XCTAssertEqual(teacher.forwardPasses - t0, 3)
        let lm = try LanguageModelObjective(model: student).validation(of: student, on: v, batches: 3, microBatch: 2, communicator: SingleProcess())
        XCTAssertEqual(result.loss, lm.loss, "the distiller's LM loss is the model's own")
        XCTAssertEqual(result.extras.map(\.0), ["kd_loss"])
        XCTAssertGreaterThan(result.extras[0].1, 0)
        // Through the trainer: validation before and after one step of 2 micro-batches.
        var c = ResumeSetup.config(steps: 1)
        c.valBatches = 3
        let trainer = try Trainer(model: student, tokenizer: nil, config: c, train: try ResumeSetup.stream(prefix: dir + "/v"), val: v,
                                  output: dir + "/run", log: MetricsLog(), objective: d)
        let s1 = student.forwardPasses
        try trainer.run(resume: false, saveFinalModel: false)
        XCTAssertEqual(student.forwardPasses - s1, 3 + c.accumulationSteps + 3)
    }
}

/// A student for the resume test: the teacher without its last layer.
enum DepthPruningShim {
    static func dropLastLayer(_ m: LlamaModel) throws -> LlamaModel {
        var c = m.config
        c.numHiddenLayers -= 1
        let out = try LlamaModel(config: c)
        for e in out.layout.entries { (out.params.pointer + e.offset).update(from: m.params.pointer + m.layout.entry(e.name)!.offset, count: e.count) }
        return out
    }
}
