import XCTest
import PareTestSupport
import PareCore
import PareModel

/// Training a bf16 model with its backward's saved q, k, v, attention output, gate and up kept
/// in bf16 (`Activations(saveIn: .bf16)`, what the trainer uses in bf16).
final class BF16SavedActivationTests: XCTestCase {
    override func setUp() { Parallel.configure(threads: 2) }

    func testBF16SavesKeepTheForwardAndStayCloseInBackward() throws {
        if let why = GEMM.bf16Unavailability { throw XCTSkip(why) }
        for name in Fixture.names {
            let f = try Fixture(name)
            let model = try f.model()
            try model.setPrecision(.bf16)
            func run(_ saveIn: Precision) throws -> (loss: Double, grads: [Float], bytes: Int) {
                model.zeroGradients()
                let acts = Activations(config: f.config, B: f.B, T: f.T, lmChunk: 7, saveIn: saveIn)
                let (sum, count) = try f.tokens.withUnsafeBufferPointer { t in
                    try f.targets.withUnsafeBufferPointer { try model.forwardBackward(tokens: t.baseAddress!, targets: $0.baseAddress!, acts: acts) }
                }
                return (sum / Double(count), model.grads!.toArray(), acts.bytes)
            }
            let full = try run(.fp32), half = try run(.bf16)
            // The forward is computed in f32 either way; only what backward reads is rounded.
            XCTAssertEqual(full.loss, half.loss, "\(name): the loss does not depend on how activations are saved")
            // Memory: six tensors per layer at 2 bytes instead of 4, less one shared f32 set
            // for the forward to compute in (and the SwiGLU gradients now written over it).
            let c = f.config, N = f.B * f.T
            let perLayer = N * (2 * c.numAttentionHeads * c.headDim + 2 * c.numKeyValueHeads * c.headDim + 2 * c.intermediateSize)
            let expected = full.bytes - 2 * perLayer * c.numHiddenLayers + 4 * perLayer - 4 * 2 * N * c.intermediateSize
            XCTAssertEqual(half.bytes, expected, "\(name): activation bytes")
            // Gradients: each tensor within a few bf16 roundings of the f32-saved run, and both
            // that close to transformers' fp32 gradients.
            var worst: Float = 0
            for e in model.layout.entries {
                let a = Array(full.grads[e.offset ..< e.offset + e.count]), b = Array(half.grads[e.offset ..< e.offset + e.count])
                let ref = try f.file.floats("grad." + e.name)
                let scale = max(ref.map(abs).max() ?? 0, 1e-12)
                let d = maxAbsDiff(a, b) / scale
                worst = max(worst, d)
                XCTAssertLessThanOrEqual(d, 0.03, "\(name) \(e.name): bf16 saves move the gradient by \(d) of its largest value")
                XCTAssertLessThanOrEqual(maxAbsDiff(b, ref) / scale, 0.05, "\(name) \(e.name): bf16 gradient vs transformers' fp32")
            }
            XCTAssertGreaterThan(worst, 0, "\(name): the saved tensors were rounded")
            print("\(name): bf16 saves: loss equal, activations \(full.bytes) → \(half.bytes) bytes, worst gradient change \(worst) of its tensor's largest")
        }
    }
}
