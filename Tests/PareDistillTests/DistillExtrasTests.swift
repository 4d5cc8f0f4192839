import Foundation
import XCTest
import PareTestSupport
import PareCore
import PareDistill
import PareFormats
import PareModel
import PareTrain

/// The fast KD kernel, top-k logits, inference-only activations and the intermediate-state loss.
final class DistillExtrasTests: XCTestCase {
    override func setUp() { Parallel.configure(threads: 2) }

    func testInferenceActivationsGiveTheSameForward() throws {
        for name in ["tiny-untied", "tiny-llama3"] {
            let f = try Fixture(name)
            let m = try f.model()
            let train = Activations(config: f.config, B: f.B, T: f.T)
            let infer = Activations(config: f.config, B: f.B, T: f.T, forTraining: false)
            XCTAssertLessThan(infer.bytes * 2, train.bytes, "inference activations should hold one layer's buffers")
            let a = try f.tokens.withUnsafeBufferPointer { t in try f.targets.withUnsafeBufferPointer { try m.loss(tokens: t.baseAddress!, targets: $0.baseAddress!, acts: train) } }
            let b = try f.tokens.withUnsafeBufferPointer { t in try f.targets.withUnsafeBufferPointer { try m.loss(tokens: t.baseAddress!, targets: $0.baseAddress!, acts: infer) } }
            XCTAssertEqual(a.sum, b.sum, "\(name): same kernels, same order, same numbers")
            XCTAssertEqual(train.tokenLosses, infer.tokenLosses)
        }
    }

    /// The Float SIMD kernel against its Double twin, on a vocabulary that is not a multiple of 8.
    func testFastKDKernelMatchesDoubleTwin() {
        let N = 5, V = 1003
        var rng = RNG(seed: 11)
        let teacher = (0..<N * V).map { _ in rng.normal() * 3 }
        let student = (0..<N * V).map { _ in rng.normal() * 3 }
        let mask = [true, true, false, true, true]
        for loss in KDLoss.allCases {
            for tau: Float in [1, 2.5] {
                let s = KDSettings(loss: loss, temperature: tau, jsdBeta: 0.3)
                var g1 = student, g2 = student
                let r1 = g1.withUnsafeMutableBufferPointer { z in mask.withUnsafeBufferPointer {
                    kdLossForwardBackward(student: z.baseAddress!, teacher: teacher, ldT: V, mask: $0.baseAddress!, N: N, V: V, settings: s, gradScale: 0.5) } }
                let r2 = g2.withUnsafeMutableBufferPointer { z in mask.withUnsafeBufferPointer {
                    kdLossForwardBackwardNaive(student: z.baseAddress!, teacher: teacher, ldT: V, mask: $0.baseAddress!, N: N, V: V, settings: s, gradScale: 0.5) } }
                XCTAssertEqual(r1.count, 4)
                XCTAssertEqual(r1.sum, r2.sum, accuracy: 2e-5 * max(abs(r2.sum), 1e-3), "\(loss) τ=\(tau)")
                assertClose(g1, g2, atol: 2e-7, rtol: 1e-4, "\(loss) τ=\(tau) gradient")
            }
        }
    }

    func testTopKLogits() {
        let N = 3, V = 37
        var rng = RNG(seed: 5)
        let teacher = (0..<N * V).map { _ in rng.normal() * 2 }
        let student0 = (0..<N * V).map { _ in rng.normal() * 2 }
        // k = V is the full distribution.
        for loss in [KDLoss.forwardKL, .jsd] {
            var a = student0, b = student0
            let ra = a.withUnsafeMutableBufferPointer { kdLossForwardBackward(student: $0.baseAddress!, teacher: teacher, ldT: V, mask: nil, N: N, V: V, settings: KDSettings(loss: loss, topK: V), gradScale: 1) }
            let rb = b.withUnsafeMutableBufferPointer { kdLossForwardBackward(student: $0.baseAddress!, teacher: teacher, ldT: V, mask: nil, N: N, V: V, settings: KDSettings(loss: loss), gradScale: 1) }
            XCTAssertEqual(ra.sum, rb.sum, accuracy: 1e-6)
            assertClose(a, b, atol: 1e-6, rtol: 1e-5, "top-k = V")
        }
        // k = 1 forward KL: the teacher is one-hot on its argmax — plain cross-entropy on it.
        var z = student0
        let r = z.withUnsafeMutableBufferPointer { kdLossForwardBackward(student: $0.baseAddress!, teacher: teacher, ldT: V, mask: nil, N: N, V: V, settings: KDSettings(topK: 1), gradScale: nil) }
        var ce = 0.0
        for n in 0..<N {
            let row = Array(teacher[n * V..<(n + 1) * V]), srow = Array(student0[n * V..<(n + 1) * V])
            let t = row.indices.max { row[$0] < row[$1] }!
            let m = srow.max()!
            ce += Double(m) + log(srow.reduce(0.0) { $0 + exp(Double($1 - m)) }) - Double(srow[t])
        }
        XCTAssertEqual(r.sum, ce, accuracy: 1e-5)
        // Gradients against central differences, k = 5, both losses that allow top-k.
        for loss in [KDLoss.forwardKL, .jsd] {
            for tau: Float in [1, 2] {
                let s = KDSettings(loss: loss, temperature: tau, jsdBeta: 0.3, topK: 5)
                func value(_ z: [Float]) -> Double {
                    var z = z
                    return z.withUnsafeMutableBufferPointer { kdLossForwardBackward(student: $0.baseAddress!, teacher: teacher, ldT: V, mask: nil, N: N, V: V, settings: s, gradScale: nil).sum }
                }
                var grad = student0
                _ = grad.withUnsafeMutableBufferPointer { kdLossForwardBackward(student: $0.baseAddress!, teacher: teacher, ldT: V, mask: nil, N: N, V: V, settings: s, gradScale: 1) }
                let worst = worstCentralDifference(at: student0, gradient: grad, value)
                XCTAssertLessThan(worst, 3e-4, "top-k \(loss) τ=\(tau)")
            }
        }
        XCTAssertNotNil(KDSettings(loss: .reverseKL, topK: 8).problem(vocabulary: V))
        XCTAssertNotNil(KDSettings(topK: V + 1).problem(vocabulary: V))
        XCTAssertNil(KDSettings(topK: 8).problem(vocabulary: V))
    }

    func step(_ d: Distiller, _ f: Fixture) throws -> (loss: Double, isLoss: Double, alpha: Double) {
        d.student.zeroGradients()
        d.intermediate?.projection?.grads.pointer.update(repeating: 0, count: d.intermediate!.projection!.count)
        let acts = Activations(config: d.student.config, B: f.B, T: f.T)
        let count = f.targets.filter { $0 != ignoreIndex }.count
        let r = try f.tokens.withUnsafeBufferPointer { t in try f.targets.withUnsafeBufferPointer { try d.microStep(tokens: t.baseAddress!, targets: $0.baseAddress!, acts: acts, lossScale: 1 / Float(count), firstSample: 0) } }
        let extra = Dictionary(uniqueKeysWithValues: r.extra)
        return (r.sum / Double(r.count), extra["is_loss"] ?? 0, extra["is_alpha"] ?? 0)
    }

    func testIntermediateLossOfATeacherWithItselfIsZero() throws {
        let f = try Fixture("tiny-untied")
        for kind in IntermediateLossKind.allCases {
            let t = try f.model(), s = try f.model()
            let inter = try IntermediateLoss(kind: kind, layerMap: [(0, 0), (1, 1)], student: s.config, teacher: t.config, rows: f.B * f.T, seed: 1)
            XCTAssertNil(inter.projection, "same hidden size: no projection")
            let d = try Distiller(teacher: t, student: s, settings: KDSettings(), kdRatio: 1, microBatch: f.B, seqLength: f.T, intermediate: inter)
            let r = try step(d, f)
            XCTAssertEqual(r.loss, 0, accuracy: 1e-7)
            XCTAssertEqual(r.isLoss, 0, accuracy: 1e-6, "\(kind)")
            XCTAssertLessThan(s.grads!.toArray().map(abs).max()!, 1e-5, "\(kind): gradient should vanish")
        }
    }

    /// intermediate_weight fixes α: the step uses it (and logs it) instead of L_logits / L_is,
    /// and the intermediate part of the gradient scales with it.
    func testAFixedIntermediateWeightIsTheStepsAlpha() throws {
        let f = try Fixture("tiny-untied")
        var c = f.config
        c.hiddenSize = 48
        func run(_ weight: Double?) throws -> (alpha: Double, grads: [Float]) {
            let teacher = try f.model(), student = try LlamaModel(config: c)
            student.initializeRandom(seed: 2, std: 0.05)
            let inter = try IntermediateLoss(kind: .cosine, layerMap: [(1, 1)], student: c, teacher: f.config, rows: f.B * f.T, seed: 1, weight: weight)
            let d = try Distiller(teacher: teacher, student: student, settings: KDSettings(), kdRatio: 1, microBatch: f.B, seqLength: f.T, intermediate: inter)
            return (try step(d, f).alpha, student.grads!.toArray())
        }
        let dynamic = try run(nil), none = try run(0), half = try run(0.5), full = try run(1.0)
        XCTAssertEqual(half.alpha, 0.5); XCTAssertEqual(full.alpha, 1.0)
        XCTAssertNotEqual(dynamic.alpha, 0.5, "by default α is the loss ratio")
        // The gradient is the logit part plus α × the intermediate part: linear in α.
        let step1 = zip(full.grads, half.grads).map { Double($0 - $1) }, step0 = zip(half.grads, none.grads).map { Double($0 - $1) }
        let scale = step0.map(abs).max()!
        XCTAssertGreaterThan(scale, 1e-6, "the intermediate loss reaches the student")
        XCTAssertLessThan(zip(step1, step0).map { abs($0 - $1) }.max()!, 1e-3 * scale)
    }

    /// The whole objective L_logits + α·L_is (α held at its value, as the step does) against
    /// central differences, through a projection (student hidden 48, teacher 64) and into
    /// student weights at, below and between mapped layers.
    func testIntermediateLossGradientsMatchFiniteDifferences() throws {
        let f = try Fixture("tiny-untied")
        let teacher = try f.model()
        var c = f.config
        c.hiddenSize = 48
        let student = try LlamaModel(config: c)
        student.initializeRandom(seed: 3, std: 0.1)
        for kind in IntermediateLossKind.allCases {
            let inter = try IntermediateLoss(kind: kind, layerMap: [(0, 0), (1, 1)], student: c, teacher: f.config, rows: f.B * f.T, seed: 2)
            let P = try XCTUnwrap(inter.projection)
            XCTAssertEqual(P.shape, [64, 48])
            let d = try Distiller(teacher: teacher, student: student, settings: KDSettings(), kdRatio: 0.8, microBatch: f.B, seqLength: f.T, intermediate: inter)
            let base = try step(d, f)
            XCTAssertGreaterThan(base.isLoss, 0)
            XCTAssertEqual(base.alpha * base.isLoss, base.loss, accuracy: 1e-9 * base.loss, "α·L_is = L_logits")
            let alpha = base.alpha
            let g = student.grads!.toArray(), gp = P.grads.toArray()
            func objective() throws -> Double { let r = try step(d, f); return r.loss + alpha * r.isLoss }
            // The largest few gradient entries of the student and of the projection.
            let picks = Array(g.indices.sorted { abs(g[$0]) > abs(g[$1]) }.prefix(6))
            let ppicks = Array(gp.indices.sorted { abs(gp[$0]) > abs(gp[$1]) }.prefix(4))
            func check(_ buf: UnsafeMutablePointer<Float>, _ i: Int, _ analytic: Float, _ what: String) throws {
                let old = buf[i], h: Float = 2e-3
                buf[i] = old + h; let up = try objective()
                buf[i] = old - h; let down = try objective()
                buf[i] = old
                let numeric = Float((up - down) / Double(2 * h))
                XCTAssertEqual(analytic, numeric, accuracy: 0.02 * abs(numeric) + 2e-4, "\(kind) \(what)[\(i)]")
            }
            for i in picks { try check(student.params.pointer, i, g[i], "student") }
            for i in ppicks { try check(P.values.pointer, i, gp[i], "projection") }
        }
    }

    func testLayerMapParsingAndChecks() throws {
        let m = try IntermediateLoss.parseLayerMap("14:29, 7:15")
        XCTAssertEqual(m.map(\.student), [14, 7]); XCTAssertEqual(m.map(\.teacher), [29, 15])
        XCTAssertThrowsError(try IntermediateLoss.parseLayerMap("14-29"))
        let f = try Fixture("tiny-untied")
        XCTAssertThrowsError(try IntermediateLoss(kind: .cosine, layerMap: [(2, 0)], student: f.config, teacher: f.config, rows: 4, seed: 1)) {
            XCTAssertTrue("\($0)".contains("student layer 2 does not exist"))
        }
    }

    func testResumeWithProjectionEqualsUninterrupted() throws {
        let dir = NSTemporaryDirectory() + "pare-distill-is-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let f = try Fixture("tiny-tied")
        try ResumeSetup.writeDataset(prefix: dir + "/d")
        func trainer(_ steps: Int, _ out: String) throws -> Trainer {
            var c = f.config
            c.hiddenSize = 48
            let student = try LlamaModel(config: c)
            student.initializeRandom(seed: 5, std: 0.08)
            let inter = try IntermediateLoss(kind: .cosine, layerMap: [(1, 1)], student: c, teacher: f.config, rows: 32, seed: 7)
            let d = try Distiller(teacher: try f.model(), student: student, settings: KDSettings(), kdRatio: 1, microBatch: 2, seqLength: 16, intermediate: inter)
            let tc = ResumeSetup.config(steps: steps)
            let s = try ResumeSetup.stream(prefix: dir + "/d")
            let t = try Trainer(model: student, tokenizer: nil, config: tc, train: s, val: nil, output: out, log: MetricsLog(), objective: d)
            return t
        }
        let a = try trainer(6, dir + "/a"); try a.run(resume: false, saveFinalModel: false)
        let b1 = try trainer(3, dir + "/b"); try b1.run(resume: false, saveFinalModel: false)
        let b2 = try trainer(6, dir + "/b"); try b2.run(resume: true, saveFinalModel: false)
        for (x, y) in zip(a.losses, b1.losses + b2.losses) { XCTAssertEqual(x, y, accuracy: 1e-6 * abs(x)) }
        XCTAssertTrue(memcmp(a.model.params.pointer, b2.model.params.pointer, 4 * a.model.params.count) == 0)
        XCTAssertTrue(memcmp(a.auxiliary[0].values.pointer, b2.auxiliary[0].values.pointer, 4 * a.auxiliary[0].count) == 0, "projection resumed")
        // The projection moved: it is trained.
        let fresh = try IntermediateLoss(kind: .cosine, layerMap: [(1, 1)], student: b2.model.config, teacher: f.config, rows: 32, seed: 7)
        XCTAssertFalse(memcmp(fresh.projection!.values.pointer, b2.auxiliary[0].values.pointer, 4 * fresh.projection!.count) == 0)
    }

    /// The projection is part of the objective: a trainer built on it trains and checkpoints
    /// it without the caller registering anything.
    func testTrainerRegistersTheProjectionByConstruction() throws {
        let f = try Fixture("tiny-tied")
        var c = f.config
        c.hiddenSize = 48
        let student = try LlamaModel(config: c)
        let inter = try IntermediateLoss(kind: .mse, layerMap: [(1, 1)], student: c, teacher: f.config, rows: 32, seed: 7)
        let d = try Distiller(teacher: try f.model(), student: student, settings: KDSettings(), kdRatio: 1, microBatch: 2, seqLength: 16, intermediate: inter)
        let dir = NSTemporaryDirectory() + "pare-distill-aux-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try ResumeSetup.writeDataset(prefix: dir + "/d")
        let t = try Trainer(model: student, tokenizer: nil, config: ResumeSetup.config(steps: 1), train: try ResumeSetup.stream(prefix: dir + "/d"),
                            val: nil, output: dir + "/run", log: MetricsLog(), objective: d)
        XCTAssertEqual(t.auxiliary.count, 1)
        XCTAssertTrue(t.auxiliary[0] === inter.projection!)
    }
}
