import XCTest
import PareTestSupport
import PareCore

/// bf16 rounding and the GEMM backends: each against a naive f32 twin.
final class BF16Tests: XCTestCase {
    override func setUp() { Parallel.configure(threads: 2) }

    /// The fast rounding (AVX512_BF16's instruction where the CPU has it) equals the scalar
    /// round-to-nearest-even on normal values, exact ties, infinities and NaN.
    func testRoundingEqualsScalarTwin() {
        var x = randomArray(4099, seed: 11, scale: 3)
        // Exact ties (lower 16 bits 0x8000) round to the even neighbour, both directions.
        x[0] = Float(bitPattern: 0x3F80_8000); x[1] = Float(bitPattern: 0x3F81_8000)
        x[2] = .infinity; x[3] = -.infinity; x[4] = .nan; x[5] = -0.0; x[6] = 65504; x[7] = -1e30
        x[8] = Float(bitPattern: 0x7F7F_FFFF)   // the largest float rounds up to infinity
        var fast = [UInt16](repeating: 0, count: x.count), slow = fast
        fast.withUnsafeMutableBufferPointer { bf16Round(out: $0.baseAddress!, inp: x, count: x.count) }
        slow.withUnsafeMutableBufferPointer { bf16RoundNaive(out: $0.baseAddress!, inp: x, count: x.count) }
        for i in 0..<x.count where i != 4 { XCTAssertEqual(fast[i], slow[i], "value \(x[i]) at \(i)") }
        XCTAssertTrue(floatFromBF16Bits(fast[4]).isNaN && floatFromBF16Bits(slow[4]).isNaN, "NaN stays NaN")
        XCTAssertEqual(slow[0], 0x3F80, "tie to even (down)")
        XCTAssertEqual(slow[1], 0x3F82, "tie to even (up)")
        XCTAssertEqual(floatFromBF16Bits(slow[8]), .infinity)
        // Rounding error is at most half a bf16 ulp (2^-8 relative).
        for i in 9..<x.count { XCTAssertLessThanOrEqual(abs(floatFromBF16Bits(slow[i]) - x[i]), abs(x[i]) / 256) }
    }

    /// Naive C (M, N) = alpha · op(A) · op(B) + beta · C in Double over f32 inputs.
    func naiveGemm(_ ta: Bool, _ tb: Bool, _ M: Int, _ N: Int, _ K: Int, _ alpha: Float, _ A: [Float], _ B: [Float], _ beta: Float, _ C: [Float]) -> [Float] {
        var out = C
        for i in 0..<M {
            for j in 0..<N {
                var s = 0.0
                for k in 0..<K {
                    let a = ta ? A[k * M + i] : A[i * K + k]
                    let b = tb ? B[j * K + k] : B[k * N + j]
                    s += Double(a) * Double(b)
                }
                out[i * N + j] = Float(Double(alpha) * s + Double(beta) * Double(C[i * N + j]))
            }
        }
        return out
    }

    func rounded(_ x: [Float]) -> [Float] { x.map { floatFromBF16Bits(bf16Bits($0)) } }

    /// The f32 GEMM (oneDNN's matmul when built with it) in every transpose form, with alpha
    /// and beta, including shapes whose primitive is created once and then reused.
    func testF32GemmAllFormsEqualNaive() {
        for backend in [GEMM.Backend.cblas, .onednn] where backend == .cblas || GEMM.oneDNNAvailable {
            let was = GEMM.f32Backend
            GEMM.f32Backend = backend
            defer { GEMM.f32Backend = was }
            for (M, N, K) in [(37, 29, 53), (64, 96, 128), (1, 7, 5)] {
                for ta in [false, true] { for tb in [false, true] { for (alpha, beta) in [(Float(1), Float(0)), (0.125, 1)] {
                    let A = randomArray(M * K, seed: 1), B = randomArray(K * N, seed: 2), C0 = randomArray(M * N, seed: 3)
                    let ref = naiveGemm(ta, tb, M, N, K, alpha, A, B, beta, C0)
                    for _ in 0..<2 {
                        var C = C0
                        C.withUnsafeMutableBufferPointer {
                            GEMM.gemm(transA: ta, transB: tb, M: M, N: N, K: K, alpha: alpha, A: A, lda: ta ? M : K, B: B, ldb: tb ? K : N,
                                      beta: beta, C: $0.baseAddress!, ldc: N)
                        }
                        assertClose(C, ref, atol: 1e-4, rtol: 1e-4, "\(backend) f32 \(ta ? "T" : "N")\(tb ? "T" : "N") \(M)x\(N)x\(K) α \(alpha) β \(beta)")
                    }
                } } }
            }
        }
    }

    /// The bf16 GEMM equals an f32 GEMM of the bf16-rounded inputs, to f32 rounding: the
    /// products of two bf16 values are exact in f32, so only the accumulation order differs.
    func testBF16GemmEqualsF32GemmOfRoundedInputs() throws {
        if let why = GEMM.bf16Unavailability { throw XCTSkip(why) }
        for (M, N, K) in [(37, 29, 53), (64, 96, 256)] {
            for ta in [false, true] { for tb in [false, true] { for (alpha, beta) in [(Float(1), Float(0)), (0.125, 1)] {
                let A = randomArray(M * K, seed: 4), B = randomArray(K * N, seed: 5), C0 = randomArray(M * N, seed: 6)
                let Ah = A.map(bf16Bits), Bh = B.map(bf16Bits)
                let ref = naiveGemm(ta, tb, M, N, K, alpha, rounded(A), rounded(B), beta, C0)
                var C = C0
                C.withUnsafeMutableBufferPointer {
                    GEMM.gemm(transA: ta, transB: tb, M: M, N: N, K: K, alpha: alpha, A: Ah, lda: ta ? M : K, B: Bh, ldb: tb ? K : N,
                              beta: beta, C: $0.baseAddress!, ldc: N)
                }
                // f32 accumulation of K terms of size ~1: a few ulps of the sum's magnitude.
                assertClose(C, ref, atol: 2e-5 * Float(K).squareRoot() * 4, rtol: 1e-5, "bf16 \(ta ? "T" : "N")\(tb ? "T" : "N") \(M)x\(N)x\(K)")
            } } }
        }
    }

    /// A linear layer in bf16: forward and backward equal the naive f32 twins on bf16-rounded
    /// activations, weights and output gradients (bias and its gradient stay f32).
    func testLinearLayerInBF16EqualsNaiveOnRoundedInputs() throws {
        if let why = GEMM.bf16Unavailability { throw XCTSkip(why) }
        let (N, I, O) = (48, 96, 80)
        let x = randomArray(N * I, seed: 1), w = randomArray(O * I, seed: 2), b = randomArray(O, seed: 3), dy = randomArray(N * O, seed: 4)
        let wh = w.map(bf16Bits)
        let (xr, wr, dyr) = (rounded(x), rounded(w), rounded(dy))
        try wh.withUnsafeBufferPointer { whp in
            try w.withUnsafeBufferPointer { wp in
                let weight = LinearWeight(f32: wp.baseAddress!, bf16: whp.baseAddress!)
                var y1 = [Float](repeating: 0, count: N * O), y2 = y1
                y1.ptr { matmulForward(out: $0, inp: x, weight: weight, bias: b, N: N, I: I, O: O) }
                y2.ptr { matmulForwardNaive(out: $0, inp: xr, weight: wr, bias: b, N: N, I: I, O: O) }
                assertClose(y1, y2, atol: 1e-4, rtol: 1e-5, "bf16 linear forward")
                var dx1 = [Float](repeating: 0.5, count: N * I), dw1 = [Float](repeating: 0.25, count: O * I), db1 = [Float](repeating: 1, count: O)
                var dx2 = dx1, dw2 = dw1, db2 = db1
                dx1.ptr { dx in dw1.ptr { dw in db1.ptr { db in matmulBackward(dinp: dx, dweight: dw, dbias: db, dout: dy, inp: x, weight: weight, N: N, I: I, O: O) } } }
                // dbias sums the unrounded f32 gradient; the matmuls see rounded ones.
                dx2.ptr { dx in dw2.ptr { dw in matmulBackwardNaive(dinp: dx, dweight: dw, dbias: nil, dout: dyr, inp: xr, weight: wr, N: N, I: I, O: O) } }
                db2.ptr { db in for n in 0..<N { for o in 0..<O { db[o] += dy[n * O + o] } } }
                assertClose(dx1, dx2, atol: 1e-4, rtol: 1e-5, "bf16 linear dinp")
                assertClose(dw1, dw2, atol: 1e-4, rtol: 1e-5, "bf16 linear dweight")
                assertClose(db1, db2, atol: 1e-4, rtol: 1e-5, "bf16 linear dbias")
                _ = try XCTUnwrap(weight.bf16)
            }
        }
    }

    /// Refusal, not a slow fallback: without native bf16 `check` throws a message that says
    /// what to use instead.
    func testPrecisionCheck() {
        XCTAssertNoThrow(try GEMM.check(.fp32))
        if let why = GEMM.bf16Unavailability {
            XCTAssertThrowsError(try GEMM.check(.bf16)) { XCTAssert("\($0)".contains("--precision fp32") && "\($0)".contains(why), "\($0)") }
        } else {
            XCTAssertNoThrow(try GEMM.check(.bf16))
        }
    }
}
