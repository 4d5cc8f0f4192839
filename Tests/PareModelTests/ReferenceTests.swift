import XCTest
import PareTestSupport
import PareCore
import PareFormats
import PareModel
import PareTrain

/// The whole model against PyTorch/transformers dumps (scripts/make_reference.py):
/// logits, loss, every gradient, and five AdamW steps.
final class ReferenceTests: XCTestCase {
    override func setUp() { Parallel.configure(threads: 2) }

    func testLogitsLossAndGradients() throws {
        for name in Fixture.names {
            let f = try Fixture(name)
            let model = try f.model()
            let logits = try model.logits(tokens: f.tokens, B: f.B, T: f.T)
            let ref = try f.file.floats("logits")
            assertClose(logits, ref, atol: 1e-4, rtol: 0, "\(name) logits")
            print("\(name): logits max |diff| \(maxAbsDiff(logits, ref))")

            model.zeroGradients()
            let acts = Activations(config: f.config, B: f.B, T: f.T, lmChunk: 7)  // odd chunk: exercises the tail
            let (sum, count) = try f.tokens.withUnsafeBufferPointer { t in
                try f.targets.withUnsafeBufferPointer { try model.forwardBackward(tokens: t.baseAddress!, targets: $0.baseAddress!, acts: acts) }
            }
            let loss = Float(sum / Double(count)), refLoss = try f.file.floats("loss")[0]
            XCTAssertEqual(loss, refLoss, accuracy: 1e-5 * refLoss, "\(name) loss")
            print("\(name): loss \(loss) vs \(refLoss)")
            var worst: (String, Float) = ("", 0)
            for e in model.layout.entries {
                let g = Array(UnsafeBufferPointer(start: model.grads!.pointer + e.offset, count: e.count))
                let r = try f.file.floats("grad." + e.name)
                assertClose(g, r, atol: 1e-5, rtol: 1e-3, "\(name) grad \(e.name)")
                let d = maxAbsDiff(g, r)
                if d > worst.1 { worst = (e.name, d) }
            }
            print("\(name): worst gradient max |diff| \(worst.1) in \(worst.0)")
        }
    }

    func testAdamWSteps() throws {
        for name in Fixture.names {
            let f = try Fixture(name)
            let model = try f.model()
            let h = f.adamw
            let opt = AdamW(parameterCount: model.parameterCount,
                            hyper: AdamWHyper(lr: Float(h["lr"]!), beta1: Float(h["beta1"]!), beta2: Float(h["beta2"]!),
                                              eps: Float(h["eps"]!), weightDecay: Float(h["weight_decay"]!)))
            let acts = Activations(config: f.config, B: f.B, T: f.T)
            var losses: [Float] = []
            for _ in 0..<Int(h["steps"]!) {
                model.zeroGradients()
                let (s, c) = try f.tokens.withUnsafeBufferPointer { t in
                    try f.targets.withUnsafeBufferPointer { try model.forwardBackward(tokens: t.baseAddress!, targets: $0.baseAddress!, acts: acts) }
                }
                losses.append(Float(s / Double(c)))
                opt.update(model, lr: Float(h["lr"]!))
            }
            let ref = try f.file.floats("adamw_losses")
            assertClose(losses, ref, atol: 1e-4, rtol: 0, "\(name) AdamW losses")
            print("\(name): AdamW losses \(losses) vs \(ref), max |diff| \(maxAbsDiff(losses, ref))")
        }
    }
}
