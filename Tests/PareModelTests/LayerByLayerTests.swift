import XCTest
import PareTestSupport
import PareCore
import PareModel

/// Running the decoder one layer, or one residual half, at a time over a stream the caller
/// keeps (what CutRepair replays): the same numbers as the forward's own layer body.
final class LayerByLayerTests: XCTestCase {
    override func setUp() { Parallel.configure(threads: 2) }

    /// For every fixture, in fp32 and (where the CPU has it) bf16: attention half then MLP half
    /// equals the whole layer bit for bit, layer after layer, and the norms computed alone
    /// equal the ones the layer body's observer sees.
    func testHalvesEqualTheWholeLayerAndTheNormsTheObservedOnes() throws {
        let precisions: [Precision] = GEMM.bf16Unavailability == nil ? [.fp32, .bf16] : [.fp32]
        for name in Fixture.names {
            let f = try Fixture(name)
            let model = try f.model(), c = model.config, N = f.B * f.T, C = c.hiddenSize
            for p in precisions {
                try model.setPrecision(p)
                let acts = Activations(config: c, B: f.B, T: f.T, forTraining: false)
                var whole = [Float](repeating: 0, count: N * C)
                try f.tokens.withUnsafeBufferPointer { try model.embedStream(tokens: $0.baseAddress!, N: N, into: &whole) }
                var halves = whole
                for l in 0..<c.numHiddenLayers {
                    var seen: [ActivationSite: [Float]] = [:]
                    let tap = Recorder { site, values, n in seen[site] = Array(UnsafeBufferPointer(start: values, count: n * C)) }
                    var inNorm = [Float](repeating: 0, count: N * C), postNorm = inNorm
                    model.inputNorm(l, stream: whole, N: N, into: &inNorm)
                    model.forwardLayer(l, stream: &whole, acts: acts, observer: tap)
                    model.forwardLayerHalf(l, .attention, stream: &halves, acts: acts)
                    model.postNorm(l, stream: halves, N: N, into: &postNorm)
                    model.forwardLayerHalf(l, .mlp, stream: &halves, acts: acts)
                    XCTAssertEqual(halves, whole, "\(name) \(p): layer \(l)")
                    XCTAssertEqual(inNorm, seen[.inputNorm], "\(name) \(p): layer \(l)'s input norm")
                    XCTAssertEqual(postNorm, seen[.postNorm], "\(name) \(p): layer \(l)'s post-attention norm")
                }
            }
        }
    }
}

/// Hands the hidden-width sites (input norm, post-attention norm) to a closure.
private final class Recorder: ForwardObserver {
    let body: (ActivationSite, UnsafePointer<Float>, Int) -> Void
    init(_ body: @escaping (ActivationSite, UnsafePointer<Float>, Int) -> Void) { self.body = body }
    func observe(_ site: ActivationSite, layer: Int, values: UnsafePointer<Float>, B: Int, T: Int, width: Int) {
        if site == .inputNorm || site == .postNorm { body(site, values, B * T) }
    }
}
