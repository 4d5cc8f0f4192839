import XCTest
import PareTestSupport
import PareCore

/// Each kernel's backward against central finite differences of L = Σ r · forward(x).
final class GradientCheckTests: XCTestCase {
    override func setUp() { Parallel.configure(threads: 2) }
    let atol: Float = 2e-3, rtol: Float = 2e-2

    func testMatmul() {
        let N = 5, I = 7, O = 6
        var x = randomArray(N * I, seed: 1), w = randomArray(O * I, seed: 2), b = randomArray(O, seed: 3)
        let r = randomArray(N * O, seed: 4)
        func f(_ x: [Float], _ w: [Float], _ b: [Float]) -> Double {
            var y = [Float](repeating: 0, count: N * O)
            y.ptr { matmulForward(out: $0, inp: x, weight: w, bias: b, N: N, I: I, O: O) }
            return project(y, r)
        }
        var dx = [Float](repeating: 0, count: N * I), dw = [Float](repeating: 0, count: O * I), db = [Float](repeating: 0, count: O)
        dx.ptr { a in dw.ptr { c in db.ptr { d in matmulBackward(dinp: a, dweight: c, dbias: d, dout: r, inp: x, weight: w, N: N, I: I, O: O) } } }
        let (w0, b0, x0) = (w, b, x)
        assertClose(dx, numericGradient(&x) { f($0, w0, b0) }, atol: atol, rtol: rtol, "matmul dinp")
        assertClose(dw, numericGradient(&w) { f(x0, $0, b0) }, atol: atol, rtol: rtol, "matmul dweight")
        assertClose(db, numericGradient(&b) { f(x0, w0, $0) }, atol: atol, rtol: rtol, "matmul dbias")
    }

    func testRMSNorm() {
        let N = 4, C = 12
        var x = randomArray(N * C, seed: 5), w = randomArray(C, seed: 6)
        let r = randomArray(N * C, seed: 7)
        func f(_ x: [Float], _ w: [Float]) -> Double {
            var y = [Float](repeating: 0, count: N * C), rs = [Float](repeating: 0, count: N)
            y.ptr { yy in rs.ptr { rmsnormForward(out: yy, rstd: $0, inp: x, weight: w, N: N, C: C, eps: 1e-5) } }
            return project(y, r)
        }
        var y = [Float](repeating: 0, count: N * C), rs = [Float](repeating: 0, count: N)
        y.ptr { yy in rs.ptr { rmsnormForward(out: yy, rstd: $0, inp: x, weight: w, N: N, C: C, eps: 1e-5) } }
        var dx = [Float](repeating: 0, count: N * C), dw = [Float](repeating: 0, count: C)
        dx.ptr { a in dw.ptr { rmsnormBackward(dinp: a, dweight: $0, dout: r, inp: x, weight: w, rstd: rs, N: N, C: C) } }
        let (x0, w0) = (x, w)
        assertClose(dx, numericGradient(&x) { f($0, w0) }, atol: atol, rtol: rtol, "rmsnorm dinp")
        assertClose(dw, numericGradient(&w) { f(x0, $0) }, atol: atol, rtol: rtol, "rmsnorm dweight")
    }

    func testRoPE() {
        let N = 6, T = 3, Hh = 2, D = 8
        let table = RopeTable(invFreq: RopeTable.defaultInvFreq(headDim: D, theta: 100))
        var x = randomArray(N * Hh * D, seed: 8)
        let r = randomArray(N * Hh * D, seed: 9)
        var dx = r
        dx.ptr { ropeBackward(dx: $0, table: table, N: N, T: T, pos0: 2, nHeads: Hh, D: D) }
        let num = numericGradient(&x) { x in
            var y = x
            y.ptr { ropeForward(x: $0, table: table, N: N, T: T, pos0: 2, nHeads: Hh, D: D) }
            return project(y, r)
        }
        assertClose(dx, num, atol: atol, rtol: rtol, "rope dx")
    }

    func testAttention() {
        // Small shape, and one longer than a 64-row query block with parallel groups.
        for s in [AttentionShape(B: 2, Tq: 5, Tk: 5, H: 4, KV: 2, D: 4), AttentionShape(B: 2, Tq: 67, Tk: 67, H: 2, KV: 2, D: 4),
                  AttentionShape(B: 2, Tq: 67, Tk: 67, H: 2, KV: 1, D: 4, scale: 0.3, window: 9)] {
            var q = randomArray(s.B * s.Tq * s.H * s.D, seed: 10), k = randomArray(s.B * s.Tk * s.KV * s.D, seed: 11)
            var v = randomArray(s.B * s.Tk * s.KV * s.D, seed: 12)
            let r = randomArray(s.B * s.Tq * s.H * s.D, seed: 13)
            func f(_ q: [Float], _ k: [Float], _ v: [Float]) -> Double {
                var o = [Float](repeating: 0, count: s.B * s.Tq * s.H * s.D)
                o.ptr { attentionForwardNaive(out: $0, q: q, k: k, v: v, shape: s) }
                return project(o, r)
            }
            let (q0, k0, v0) = (q, k, v)
            let nq = numericGradient(&q) { f($0, k0, v0) }, nk = numericGradient(&k) { f(q0, $0, v0) }, nv = numericGradient(&v) { f(q0, k0, $0) }
            forEachAttentionEngine { engine in
                var dq = [Float](repeating: 0, count: q.count), dk = [Float](repeating: 0, count: k.count), dv = dk
                dq.ptr { a in dk.ptr { b in dv.ptr { c in attentionBackward(dq: a, dk: b, dv: c, dout: r, q: q0, k: k0, v: v0, shape: s) } } }
                assertClose(dq, nq, atol: atol, rtol: rtol, "attention dq (\(engine)) T=\(s.Tq)")
                assertClose(dk, nk, atol: atol, rtol: rtol, "attention dk (\(engine)) T=\(s.Tq)")
                assertClose(dv, nv, atol: atol, rtol: rtol, "attention dv (\(engine)) T=\(s.Tq)")
            }
        }
    }

    func testGatedActivations() {
        let n = 37
        for kind in [GatedActivation.silu, .geluTanh] {
            var g = randomArray(n, seed: 14, scale: 3), u = randomArray(n, seed: 15)
            let r = randomArray(n, seed: 16)
            func f(_ g: [Float], _ u: [Float]) -> Double {
                var y = [Float](repeating: 0, count: n)
                y.ptr { gluForward(out: $0, gate: g, up: u, count: n, activation: kind) }
                return project(y, r)
            }
            var dg = [Float](repeating: 0, count: n), du = dg
            dg.ptr { a in du.ptr { gluBackward(dgate: a, dup: $0, dout: r, gate: g, up: u, count: n, activation: kind) } }
            let (g0, u0) = (g, u)
            assertClose(dg, numericGradient(&g) { f($0, u0) }, atol: atol, rtol: rtol, "\(kind) dgate")
            assertClose(du, numericGradient(&u) { f(g0, $0) }, atol: atol, rtol: rtol, "\(kind) dup")
        }
    }

    func testCrossEntropy() {
        let N = 4, V = 11
        var logits = randomArray(N * V, seed: 17, scale: 2)
        let targets: [Int32] = [3, ignoreIndex, 10, 0]
        var d = logits
        d.ptr { _ = crossEntropyForwardBackward(logits: $0, losses: nil, targets: targets, N: N, V: V, gradScale: 1) }
        let num = numericGradient(&logits, eps: 1e-2) { l in
            var c = l
            return c.ptr { crossEntropyForwardBackward(logits: $0, losses: nil, targets: targets, N: N, V: V, gradScale: nil).sum }
        }
        assertClose(d, num, atol: atol, rtol: rtol, "cross-entropy dlogits")
    }

    func testEmbedding() throws {
        let N = 6, C = 5, V = 4
        var table = randomArray(V * C, seed: 18)
        let tokens: [Int32] = [1, 3, 1, 0, 1, 2]
        let r = randomArray(N * C, seed: 19)
        var dt = [Float](repeating: 0, count: V * C)
        dt.ptr { embeddingBackward(dtable: $0, dout: r, tokens: tokens, N: N, C: C) }
        let num = numericGradient(&table) { t in
            var y = [Float](repeating: 0, count: N * C)
            try! y.ptr { try embeddingForward(out: $0, tokens: tokens, table: t, N: N, C: C, V: V) }
            return project(y, r)
        }
        assertClose(dt, num, atol: atol, rtol: rtol, "embedding dtable")
        var y = [Float](repeating: 0, count: C)
        XCTAssertThrowsError(try y.ptr { try embeddingForward(out: $0, tokens: [Int32(V)], table: table, N: 1, C: C, V: V) })
    }
}
