import XCTest
#if canImport(Glibc)
import Glibc
#endif
import PareTestSupport
import PareCore

/// Every optimised kernel against its naive twin, at sizes large enough to take the
/// parallel and SIMD paths (and odd sizes for the scalar tails).
final class KernelTwinTests: XCTestCase {
    override func setUp() { Parallel.configure(threads: 2) }

    func testMatmulForwardAndBackward() {
        for (N, I, O) in [(37, 53, 29), (64, 128, 96)] {
            let x = randomArray(N * I, seed: 1), w = randomArray(O * I, seed: 2), b = randomArray(O, seed: 3), dy = randomArray(N * O, seed: 4)
            var y1 = [Float](repeating: 0, count: N * O), y2 = y1
            y1.ptr { matmulForward(out: $0, inp: x, weight: w, bias: b, N: N, I: I, O: O) }
            y2.ptr { matmulForwardNaive(out: $0, inp: x, weight: w, bias: b, N: N, I: I, O: O) }
            assertClose(y1, y2, atol: 1e-4, rtol: 1e-4, "matmul forward \(N)x\(I)x\(O)")
            var dx1 = [Float](repeating: 0.5, count: N * I), dw1 = [Float](repeating: 0.25, count: O * I), db1 = [Float](repeating: 1, count: O)
            var dx2 = dx1, dw2 = dw1, db2 = db1
            dx1.ptr { dx in dw1.ptr { dw in db1.ptr { db in matmulBackward(dinp: dx, dweight: dw, dbias: db, dout: dy, inp: x, weight: w, N: N, I: I, O: O) } } }
            dx2.ptr { dx in dw2.ptr { dw in db2.ptr { db in matmulBackwardNaive(dinp: dx, dweight: dw, dbias: db, dout: dy, inp: x, weight: w, N: N, I: I, O: O) } } }
            assertClose(dx1, dx2, atol: 1e-4, rtol: 1e-4, "matmul dinp")
            assertClose(dw1, dw2, atol: 1e-4, rtol: 1e-4, "matmul dweight")
            assertClose(db1, db2, atol: 1e-4, rtol: 1e-4, "matmul dbias")
        }
    }

    /// Both forms: Llama's x·r·w and Gemma's x·r·(1 + w) (weightOffset 1).
    func testRMSNorm() {
        let N = 67, C = 300
        let x = randomArray(N * C, seed: 5), w = randomArray(C, seed: 6), dy = randomArray(N * C, seed: 7)
        for offset: Float in [0, 1] {
            var y1 = [Float](repeating: 0, count: N * C), y2 = y1, r1 = [Float](repeating: 0, count: N), r2 = r1
            y1.ptr { y in r1.ptr { r in rmsnormForward(out: y, rstd: r, inp: x, weight: w, N: N, C: C, eps: 1e-5, weightOffset: offset) } }
            y2.ptr { y in r2.ptr { r in rmsnormForwardNaive(out: y, rstd: r, inp: x, weight: w, N: N, C: C, eps: 1e-5, weightOffset: offset) } }
            assertClose(y1, y2, atol: 1e-5, rtol: 1e-5, "rmsnorm forward, offset \(offset)")
            assertClose(r1, r2, atol: 1e-6, rtol: 1e-5, "rmsnorm rstd")
            var dx1 = [Float](repeating: 0.1, count: N * C), dw1 = [Float](repeating: 0.2, count: C), dx2 = dx1, dw2 = dw1
            dx1.ptr { dx in dw1.ptr { dw in rmsnormBackward(dinp: dx, dweight: dw, dout: dy, inp: x, weight: w, rstd: r1, N: N, C: C, weightOffset: offset) } }
            dx2.ptr { dx in dw2.ptr { dw in rmsnormBackwardNaive(dinp: dx, dweight: dw, dout: dy, inp: x, weight: w, rstd: r1, N: N, C: C, weightOffset: offset) } }
            assertClose(dx1, dx2, atol: 1e-5, rtol: 1e-4, "rmsnorm dinp, offset \(offset)")
            assertClose(dw1, dw2, atol: 1e-4, rtol: 1e-4, "rmsnorm dweight, offset \(offset)")
        }
    }

    func testRoPE() {
        let N = 2 * 33, T = 33, Hh = 3, D = 20
        let table = RopeTable(invFreq: RopeTable.defaultInvFreq(headDim: D, theta: 10_000))
        let x = randomArray(N * Hh * D, seed: 8)
        var a = x, b = x
        a.ptr { ropeForward(x: $0, table: table, N: N, T: T, pos0: 5, nHeads: Hh, D: D) }
        b.ptr { ropeForwardNaive(x: $0, invFreq: table.invFreq, N: N, T: T, pos0: 5, nHeads: Hh, D: D) }
        assertClose(a, b, atol: 1e-6, rtol: 1e-6, "rope forward")
        // Backward is the inverse rotation: rotating forward then backward is the identity.
        a.ptr { ropeBackward(dx: $0, table: table, N: N, T: T, pos0: 5, nHeads: Hh, D: D) }
        assertClose(a, x, atol: 1e-5, rtol: 1e-5, "rope backward ∘ forward")
    }

    func testAttentionForward() {
        for s in [AttentionShape(B: 2, Tq: 19, Tk: 19, H: 6, KV: 2, D: 16),
                  AttentionShape(B: 3, Tq: 150, Tk: 150, H: 4, KV: 2, D: 16),   // several row blocks, parallel groups
                  AttentionShape(B: 1, Tq: 70, Tk: 100, H: 2, KV: 1, D: 8),
                  AttentionShape(B: 1, Tq: 5, Tk: 23, H: 4, KV: 4, D: 8),
                  AttentionShape(B: 1, Tq: 1, Tk: 9, H: 4, KV: 1, D: 8),
                  // sliding windows (Gemma 3's local layers) inside and across row blocks, with a
                  // cache, in decoding, and a scale other than 1/√D
                  AttentionShape(B: 2, Tq: 150, Tk: 150, H: 4, KV: 2, D: 16, window: 37),
                  AttentionShape(B: 1, Tq: 70, Tk: 100, H: 2, KV: 1, D: 8, scale: 0.2, window: 5),
                  AttentionShape(B: 1, Tq: 1, Tk: 9, H: 4, KV: 1, D: 8, window: 4)] {
            let q = randomArray(s.B * s.Tq * s.H * s.D, seed: 9), k = randomArray(s.B * s.Tk * s.KV * s.D, seed: 10)
            let v = randomArray(s.B * s.Tk * s.KV * s.D, seed: 11)
            var o1 = [Float](repeating: 0, count: s.B * s.Tq * s.H * s.D), o2 = o1
            o2.ptr { attentionForwardNaive(out: $0, q: q, k: k, v: v, shape: s) }
            forEachAttentionEngine { engine in
                o1.ptr { attentionForward(out: $0, q: q, k: k, v: v, shape: s) }
                assertClose(o1, o2, atol: 1e-5, rtol: 1e-4, "attention forward (\(engine)) Tq=\(s.Tq) Tk=\(s.Tk)")
            }
        }
    }

    /// Per-token positions (packed rows restart each branch at the prefix length).
    func testRoPEAtGivenPositions() {
        let N = 41, Hh = 2, D = 16
        let table = RopeTable(invFreq: RopeTable.defaultInvFreq(headDim: D, theta: 10_000))
        var positions = [Int32](repeating: 0, count: N)
        for n in 0..<N { positions[n] = Int32(n < 20 ? n : 7 + (n * 5) % 30) }
        let x = randomArray(N * Hh * D, seed: 30)
        var a = x, b = x
        positions.withUnsafeBufferPointer { p in a.ptr { ropeForward(x: $0, table: table, N: N, T: N, pos0: 0, nHeads: Hh, D: D, positions: p.baseAddress!) } }
        b.ptr { ropeForwardNaive(x: $0, invFreq: table.invFreq, N: N, T: N, pos0: 0, nHeads: Hh, D: D, positions: positions) }
        assertClose(a, b, atol: 1e-6, rtol: 1e-6, "rope at given positions")
    }

    /// Rows packing a shared prefix and branches: every branch token skips the other
    /// branches' keys, over several row blocks (rows past 64) and with padding branches.
    func testAttentionForwardWithBranches() {
        let s = AttentionShape(B: 2, Tq: 150, Tk: 150, H: 4, KV: 2, D: 16)
        var branches = [Int32](repeating: 0, count: s.B * s.Tq)
        let edges = [30, 80, 81, 140]   // row 0: prefix, 3 branches (one of a single token), padding
        for t in 0..<s.Tq {
            branches[t] = Int32(edges.filter { t >= $0 }.count)
            branches[s.Tq + t] = t < 5 ? 0 : Int32(1 + (t - 5) / 20)
        }
        let q = randomArray(s.B * s.Tq * s.H * s.D, seed: 31), k = randomArray(s.B * s.Tk * s.KV * s.D, seed: 32)
        let v = randomArray(s.B * s.Tk * s.KV * s.D, seed: 33)
        var o1 = [Float](repeating: 0, count: s.B * s.Tq * s.H * s.D), o2 = o1
        o2.ptr { attentionForwardNaive(out: $0, q: q, k: k, v: v, shape: s, branches: branches) }
        forEachAttentionEngine { engine in
            branches.withUnsafeBufferPointer { br in o1.ptr { attentionForward(out: $0, q: q, k: k, v: v, shape: s, branches: br.baseAddress!) } }
            assertClose(o1, o2, atol: 1e-5, rtol: 1e-4, "attention with branches (\(engine))")
            // All zeros is plain causal attention.
            let zeros = [Int32](repeating: 0, count: s.B * s.Tq)
            var o3 = o1, o4 = o1
            zeros.withUnsafeBufferPointer { br in o3.ptr { attentionForward(out: $0, q: q, k: k, v: v, shape: s, branches: br.baseAddress!) } }
            o4.ptr { attentionForward(out: $0, q: q, k: k, v: v, shape: s) }
            XCTAssertEqual(o3, o4, "branch 0 everywhere is causal attention, bit for bit (\(engine))")
        }
    }

    func testGatedActivations() {
        let n = 4099
        let g = randomArray(n, seed: 12, scale: 4), u = randomArray(n, seed: 13), dy = randomArray(n, seed: 14)
        for kind in [GatedActivation.silu, .geluTanh] {
            var y1 = [Float](repeating: 0, count: n), y2 = y1
            y1.ptr { gluForward(out: $0, gate: g, up: u, count: n, activation: kind) }
            y2.ptr { gluForwardNaive(out: $0, gate: g, up: u, count: n, activation: kind) }
            assertClose(y1, y2, atol: 1e-6, rtol: 1e-5, "\(kind) forward")
            var dg1 = y1, du1 = y1, dg2 = y1, du2 = y1
            dg1.ptr { a in du1.ptr { b in gluBackward(dgate: a, dup: b, dout: dy, gate: g, up: u, count: n, activation: kind) } }
            dg2.ptr { a in du2.ptr { b in gluBackwardNaive(dgate: a, dup: b, dout: dy, gate: g, up: u, count: n, activation: kind) } }
            assertClose(dg1, dg2, atol: 1e-6, rtol: 1e-5, "\(kind) dgate")
            assertClose(du1, du2, atol: 1e-6, rtol: 1e-5, "\(kind) dup")
        }
    }

    func testCrossEntropy() {
        let N = 41, V = 1003
        let logits = randomArray(N * V, seed: 15, scale: 3)
        var targets = (0..<N).map { Int32(($0 * 37) % V) }
        targets[4] = ignoreIndex; targets[30] = ignoreIndex
        var a = logits, b = logits, la = [Float](repeating: 0, count: N), lb = la
        let ra = a.ptr { p in la.ptr { crossEntropyForwardBackward(logits: p, losses: $0, targets: targets, N: N, V: V, gradScale: 0.5) } }
        let rb = b.ptr { p in lb.ptr { crossEntropyForwardBackwardNaive(logits: p, losses: $0, targets: targets, N: N, V: V, gradScale: 0.5) } }
        XCTAssertEqual(ra.count, 39); XCTAssertEqual(rb.count, 39)
        XCTAssertEqual(ra.sum, rb.sum, accuracy: 1e-4 * rb.sum)
        assertClose(la, lb, atol: 1e-5, rtol: 1e-5, "cross-entropy losses")
        assertClose(a, b, atol: 1e-7, rtol: 1e-4, "cross-entropy dlogits")
        XCTAssert(a[4 * V..<5 * V].allSatisfy { $0 == 0 }, "ignored rows get no gradient")
    }

    func testExpMatchesLibm() {
        var worst: Float = 0
        for i in 0..<20_000 {
            let x = Float(i - 10_000) * 0.0087
            let e = exp8(F8(repeating: x))[0], r = expf(x)
            worst = max(worst, abs(e - r) / r)
        }
        XCTAssertLessThan(worst, 5e-7, "exp8 relative error \(worst)")
    }

    func testAdamWMatchesScalarFormula() {
        let n = 1000
        var p = randomArray(n, seed: 16), m = [Float](repeating: 0, count: n), v = m
        let g = randomArray(n, seed: 17)
        let h = AdamWHyper(lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1)
        var pr = p.map(Double.init), mr = [Double](repeating: 0, count: n), vr = mr
        for t in 1...3 {
            p.ptr { pp in m.ptr { mm in v.ptr { vv in adamwUpdate(params: pp, grads: g, m: mm, v: vv, count: n, hyper: h, step: t, decay: true) } } }
            for i in 0..<n {
                let gi = Double(g[i])
                pr[i] *= 1 - 1e-2 * 0.1
                mr[i] = 0.9 * mr[i] + 0.1 * gi
                vr[i] = 0.95 * vr[i] + 0.05 * gi * gi
                let mh = mr[i] / (1 - pow(0.9, Double(t))), vh = vr[i] / (1 - pow(0.95, Double(t)))
                pr[i] -= 1e-2 * mh / (vh.squareRoot() + 1e-8)
            }
        }
        assertClose(p, pr.map(Float.init), atol: 1e-6, rtol: 1e-5, "adamw")
    }

    /// The fused bf16 copy equals a separate `bf16Round` of the updated parameters, bit for bit,
    /// and the parameters themselves are those of the update without a copy.
    func testAdamWBF16CopyEqualsSeparateRounding() {
        Parallel.configure(threads: 2)
        let n = 10_007   // several 4096-blocks and a ragged tail on each thread
        let g = randomArray(n, seed: 18)
        var p1 = randomArray(n, seed: 19), m1 = [Float](repeating: 0, count: n), v1 = m1
        var p2 = p1, m2 = m1, v2 = v1
        var fused = [UInt16](repeating: 0, count: n), separate = fused
        let h = AdamWHyper(lr: 1e-2)
        for t in 1...2 {
            p1.ptr { pp in m1.ptr { mm in v1.ptr { vv in fused.withUnsafeMutableBufferPointer {
                adamwUpdate(params: pp, grads: g, m: mm, v: vv, count: n, hyper: h, step: t, decay: true, bf16Copy: $0.baseAddress!) } } } }
            p2.ptr { pp in m2.ptr { mm in v2.ptr { vv in adamwUpdate(params: pp, grads: g, m: mm, v: vv, count: n, hyper: h, step: t, decay: true) } } }
        }
        separate.withUnsafeMutableBufferPointer { bf16Round(out: $0.baseAddress!, inp: p2, count: n) }
        XCTAssertEqual(p1, p2)
        XCTAssertEqual(fused, separate)
    }
}

final class MatvecTests: XCTestCase {
    func testMatvecEqualsNaiveMatmul() {
        Parallel.configure(threads: 2)
        for (O, I) in [(37, 53), (1536, 576), (5, 16), (1, 3)] {
            let w = randomArray(O * I, seed: 21), x = randomArray(I, seed: 22), b = randomArray(O, seed: 23)
            var y1 = [Float](repeating: 0, count: O), y2 = y1
            y1.ptr { matvecForward(out: $0, weight: w, x: x, bias: b, O: O, I: I) }
            y2.ptr { matmulForwardNaive(out: $0, inp: x, weight: w, bias: b, N: 1, I: I, O: O) }
            assertClose(y1, y2, atol: 1e-4, rtol: 1e-4, "matvec \(O)x\(I)")
        }
    }
}

final class WorkerPoolTests: XCTestCase {
    /// Many short parallel regions separated by idle gaps long enough for workers to fall
    /// asleep: every region must complete (a lost wakeup would hang here) and cover its range.
    func testShortRegionsAcrossSleepsNeverHang() {
        Parallel.configure(threads: 2)
        var out = [Int](repeating: 0, count: 64)
        for round in 0..<300 {
            out.withUnsafeMutableBufferPointer { b in
                let box = UncheckedBox(b.baseAddress!)
                Parallel.forRange(64, costPerItem: 100_000) { s, e in for i in s..<e { box.value[i] += 1 } }
            }
            if round % 50 == 0 { usleep(2_000) }   // workers go to sleep after ~20k spins
        }
        XCTAssertEqual(out, [Int](repeating: 300, count: 64))
    }

    /// Regions nested in a region (each runs on its caller's thread: on OpenMP's team nesting
    /// gives a team of one, the pool is busy) and regions started from another thread (a team
    /// of their own) still cover their ranges exactly once. Runs on whichever of the OpenMP team
    /// and the pool this build uses (`Parallel.onOpenMPTeam`; PARE_PARALLEL=pool forces the pool).
    func testNestedAndOtherThreadRegionsCoverTheirRanges() {
        Parallel.configure(threads: 2)
        let n = 96, counts = UnsafeMutablePointer<Int>.allocate(capacity: n * n)
        defer { counts.deallocate() }
        counts.initialize(repeating: 0, count: n * n)
        let box = UncheckedBox(counts)
        Parallel.forRange(n, costPerItem: 1 << 20) { s, e in
            for i in s..<e {
                Parallel.forRange(n, costPerItem: 1 << 20) { s2, e2 in for j in s2..<e2 { box.value[i * n + j] += 1 } }
            }
        }
        XCTAssertEqual(Array(UnsafeBufferPointer(start: counts, count: n * n)), [Int](repeating: 1, count: n * n), "nested regions")
        let done = DispatchSemaphore(value: 0)
        Thread {
            for _ in 0..<50 { Parallel.forRange(n * n, costPerItem: 1 << 16) { s, e in for i in s..<e { box.value[i] += 1 } } }
            done.signal()
        }.start()
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success, "a region started from another thread never finished")
        XCTAssertEqual(Array(UnsafeBufferPointer(start: counts, count: n * n)), [Int](repeating: 51, count: n * n), "regions from another thread")
    }

    /// A job posted the moment a pool is created (before its worker thread has started) must
    /// still run: a worker that took the already-bumped epoch as "seen" left the caller
    /// waiting forever. New pools come from switching the thread count; a watchdog turns a
    /// hang into a failure.
    func testJobPostedBeforeWorkersStartIsNotMissed() {
        let done = DispatchSemaphore(value: 0)
        let counter = UnsafeMutablePointer<Int>.allocate(capacity: 2)
        defer { counter.deallocate() }
        let box = UncheckedBox(counter)
        Thread {
            for _ in 0..<500 {
                Parallel.configure(threads: 1)
                Parallel.configure(threads: 2)   // a fresh pool
                box.value.update(repeating: 0, count: 2)
                Parallel.forRange(2, costPerItem: 1 << 20) { s, e in for i in s..<e { box.value[i] += 1 } }
            }
            done.signal()
        }.start()
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success, "a parallel region on a fresh pool never finished")
        Parallel.configure(threads: 2)
    }

    /// A replaced pool's threads exit. They used to live on (each holds its pool), waking every
    /// 10 ms and spinning: after the test above, 500 of them starved every later test of CPU
    /// and CI's test run timed out.
    func testReplacedPoolsLeaveNoThreads() throws {
        func threads() throws -> Int {
            let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
            let line = try XCTUnwrap(status.split(separator: "\n").first { $0.hasPrefix("Threads:") })
            return try XCTUnwrap(Int(line.dropFirst("Threads:".count).trimmingCharacters(in: .whitespaces)))
        }
        Parallel.configure(threads: 2)
        let before = try threads()
        for _ in 0..<200 {
            Parallel.configure(threads: 1)
            Parallel.configure(threads: 3)
            Parallel.configure(threads: 2)
        }
        usleep(50_000)   // an exiting thread leaves the count shortly after its loop returns
        XCTAssertLessThanOrEqual(try threads(), before + 2, "pools replaced 600 times left threads behind")
    }
}
