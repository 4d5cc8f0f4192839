import Foundation
import XCTest
import PareTestSupport
import PareCore
import PareFormats
import PareModel
import ParePrune

/// Repairing the cut: the least-squares refit itself, and the layer-by-layer repair after
/// width and depth pruning, judged on tokens it was not fit on.
final class CutRepairTests: XCTestCase {
    let dir = NSTemporaryDirectory() + "pare-repair-\(getpid())"
    override func setUp() {
        Parallel.configure(threads: 2)
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func stream(seed: UInt64) throws -> BlendedSampleStream {
        if !FileManager.default.fileExists(atPath: dir + "/d.bin") { try ResumeSetup.writeDataset(prefix: dir + "/d") }
        return BlendedSampleStream(streams: [try GPTSampleStream(dataset: IndexedDataset(prefix: dir + "/d"), seqLength: 16, seed: seed)], weights: [1])
    }

    /// Mean squared difference between two models' logits on tokens neither was fit on.
    func logitGap(_ a: LlamaModel, _ b: LlamaModel) throws -> Double {
        var batch = Batch(B: 4, T: 16)
        batch.fill(from: try stream(seed: 99), first: 0)
        let x = try a.logits(tokens: batch.tokens, B: 4, T: 16), y = try b.logits(tokens: batch.tokens, B: 4, T: 16)
        return zip(x, y).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) } / Double(x.count)
    }

    /// Random inputs and a known layer y = W x + b: the refit finds W and b from a wrong start,
    /// and a start that already fits comes back unchanged (the damping pulls toward it).
    func testLeastSquaresRecoversAKnownLayerAndKeepsAFittingStart() {
        var rng = RNG(seed: 7)
        let N = 400, I = 6, O = 3
        let x = (0..<(N * I)).map { _ in rng.normal() }
        let w = (0..<(O * I)).map { _ in rng.normal() }, b = (0..<O).map { _ in rng.normal() }
        var y = [Float](repeating: 0, count: N * O)
        for n in 0..<N { for o in 0..<O { y[n * O + o] = b[o] + (0..<I).reduce(0) { $0 + w[o * I + $1] * x[n * I + $1] } } }
        var m = Moments(inputs: I, against: O)
        m.add(x: x, u: y, rows: N)
        var w0 = [Float](repeating: 0, count: O * I), b0 = [Float](repeating: 0, count: O)
        XCTAssertTrue(LinearRefit.fitToTargets(m, start: &w0, bias: &b0, damping: 1e-9))
        assertClose(w0, w, atol: 1e-3, rtol: 0, "W"); assertClose(b0, b, atol: 1e-3, rtol: 0, "b")
        var w1 = w, b1 = b
        XCTAssertTrue(LinearRefit.fitToTargets(m, start: &w1, bias: &b1, damping: 0.5))
        assertClose(w1, w, atol: 1e-4, rtol: 0, "a fitting start under heavy damping"); assertClose(b1, b, atol: 1e-4, rtol: 0, "b")

        // The teacher's form: targets are W_t u for the teacher's input u (I + 2 wide); the
        // student sees the first I channels of u. Where W_t reads only those, it is recovered.
        let U = I + 2
        var u = [Float](repeating: 0, count: N * U)
        for n in 0..<N { for i in 0..<U { u[n * U + i] = i < I ? x[n * I + i] : rng.normal() } }
        var wt = [Float](repeating: 0, count: O * U)
        for o in 0..<O { for i in 0..<I { wt[o * U + i] = w[o * I + i] } }
        var mt = Moments(inputs: I, against: U)
        mt.add(x: x, u: u, rows: N)
        var w2 = [Float](repeating: 0, count: O * I)
        XCTAssertTrue(LinearRefit.fitToTeacher(mt, teacher: wt, teacherBias: nil, O: O, start: &w2, bias: nil, damping: 1e-9))
        assertClose(w2, w, atol: 1e-3, rtol: 0, "W from the teacher's rows")
    }

    /// Width pruning of every axis (tiny Llama 3 and Qwen2 with its q/k/v biases): the repair
    /// refits all 7 linear layers of every layer and brings the student's logits closer to
    /// the teacher's on held-out tokens.
    func testRepairBringsAWidthStudentCloserToItsTeacher() throws {
        for name in ["tiny-llama3", "tiny-qwen2", "tiny-qwen3"] {
            let teacher = try Fixture(name).model(), c = teacher.config
            let cal = Calibration(stream: try stream(seed: 5), samples: 24, batch: 4)
            let collector = ImportanceCollector(config: c)
            try cal.run(teacher, observer: collector)
            let targets = WidthPlan.Targets(hiddenSize: c.hiddenSize - 16, ffnHiddenSize: c.intermediateSize / 2,
                                            numAttentionHeads: c.numAttentionHeads / 2, numQueryGroups: c.numKeyValueHeads, exportType: nil)
            let plan = try WidthPlan.select(collector.scores(.l2), config: c, targets: targets)
            let cut = try WidthPruning.prune(teacher, plan: plan), repaired = try WidthPruning.prune(teacher, plan: plan)
            let r = try CutRepair.repair(student: repaired, teacher: teacher, map: .width(plan, config: c), calibration: cal)
            XCTAssertEqual(r.refitLayers, Array(0..<c.numHiddenLayers), name)
            XCTAssertEqual(r.linears, 7 * c.numHiddenLayers, name)
            XCTAssertEqual(r.tokens, 24 * 16)
            let before = try logitGap(cut, teacher), after = try logitGap(repaired, teacher)
            XCTAssertLessThan(after, 0.8 * before, "\(name): held-out logit gap \(before) → \(after)")
            if let b = repaired.layout.layers[0].qBias, let b0 = cut.layout.layers[0].qBias {
                XCTAssertNotEqual(repaired.params.pointer[b], cut.params.pointer[b0], "\(name): the q bias is refit too")
            }
            XCTAssertEqual(teacher.precision, .fp32)
        }
    }

    /// Gemma 3 normalises each block's output before its residual add, so no least-squares
    /// refit of o_proj or down_proj reproduces the teacher's: the repair is refused by name.
    func testRepairIsRefusedForGemma3() throws {
        let teacher = try Fixture("tiny-gemma3").model(), c = teacher.config
        let cal = Calibration(stream: try stream(seed: 5), samples: 24, batch: 4)
        let student = try DepthPruning.prune(teacher, drop: [1])
        XCTAssertThrowsError(try CutRepair.repair(student: student, teacher: teacher, map: .depth(drop: [1], config: c), calibration: cal)) {
            XCTAssert("\($0)".contains("repair") && "\($0)".contains("Gemma 3"), "\($0)")
        }
        XCTAssertEqual(student.config.layerTypes, ["sliding_attention", "sliding_attention"], "the kept layers keep their types")
    }

    /// After dropping layers, the layers below the kept layer before them are untouched; that
    /// layer takes over the removed layers' output and every layer after it is refit. A block
    /// at the end is taken over by the last kept layer, one at the start by the first.
    func testRepairAfterDepthPruningStartsAtTheLayerBeforeTheRemovedOnes() throws {
        let teacher = try Fixture("tiny-llama3").model(), c = teacher.config
        let L = c.numHiddenLayers
        let cal = Calibration(stream: try stream(seed: 5), samples: 24, batch: 4)
        for drop in [[L - 1], [0]] + (L > 2 ? [[1]] : []) {
            let cut = try DepthPruning.prune(teacher, drop: Set(drop)), repaired = try DepthPruning.prune(teacher, drop: Set(drop))
            let r = try CutRepair.repair(student: repaired, teacher: teacher, map: .depth(drop: Set(drop), config: c), calibration: cal)
            let first = max(drop[0] - 1, 0)
            XCTAssertEqual(r.refitLayers, Array(first..<(L - 1)), "drop \(drop)")
            for e in cut.layout.entries where (0..<first).contains(where: { e.name.hasPrefix("model.layers.\($0).") }) {
                XCTAssertEqual(Array(UnsafeBufferPointer(start: cut.params.pointer + e.offset, count: e.count)),
                               Array(UnsafeBufferPointer(start: repaired.params.pointer + e.offset, count: e.count)), e.name)
            }
            let before = try logitGap(cut, teacher), after = try logitGap(repaired, teacher)
            XCTAssertLessThan(after, 0.8 * before, "drop \(drop): held-out logit gap \(before) → \(after)")
        }
    }

    /// Fewer calibration tokens than the widest refit input is refused, naming the settings.
    func testTooFewCalibrationTokensAreRefusedByName() throws {
        let teacher = try Fixture("tiny-llama3").model(), c = teacher.config
        let cal = Calibration(stream: try stream(seed: 5), samples: 3, batch: 4)
        let student = try DepthPruning.prune(teacher, drop: [1])
        XCTAssertThrowsError(try CutRepair.repair(student: student, teacher: teacher, map: .depth(drop: [1], config: c), calibration: cal)) {
            let text = "\($0)"
            XCTAssert(text.contains("--calibration-samples 3") && text.contains("48") && text.contains("--repair"), text)
        }
    }
}
