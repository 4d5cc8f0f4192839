#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Grouped-query causal self-attention over rotated q, k and v.
// B batch, Tq query rows, Tk key rows (Tk = past + Tq; query i sits at absolute position
// past + i and sees keys 0...past+i), H query heads, KV key/value heads (H % KV == 0),
// D head dim. Layouts are the projections' own, no transposes:
//   q, out (B, Tq, H·D)    k, v (B, Tk, KV·D)
// Each head is a strided (rows × D) matrix, so every product is one sgemm with a leading
// dimension. The probabilities are not stored: backward recomputes them, which costs one
// extra Q·Kᵀ and saves B·H·T² floats per layer.

public struct AttentionShape: Sendable {
    public var B: Int, Tq: Int, Tk: Int, H: Int, KV: Int, D: Int
    /// The scores' factor: 1/√D, or Gemma's 1/√query_pre_attn_scalar.
    public var scale: Float
    /// A sliding window: the query at position p sees keys p − window < j ≤ p (`window` keys,
    /// itself included, as transformers' sliding_window mask); nil: every earlier key.
    public var window: Int?
    public init(B: Int, Tq: Int, Tk: Int, H: Int, KV: Int, D: Int, scale: Float? = nil, window: Int? = nil) {
        precondition(H % KV == 0 && Tk >= Tq && (window ?? 1) >= 1)
        self.B = B; self.Tq = Tq; self.Tk = Tk; self.H = H; self.KV = KV; self.D = D
        self.scale = scale ?? 1 / Float(D).squareRoot()
        self.window = window
    }
    public var past: Int { Tk - Tq }
    /// The first key the query at absolute position `p` sees.
    @inline(__always) public func firstKey(_ p: Int) -> Int { window.map { max(0, p - $0 + 1) } ?? 0 }
}

/// Which engine runs attention's products. `blas`: one OpenBLAS sgemm per (batch row, head,
/// row block), groups spread over Pare's threads. `onednn`: one batched oneDNN matmul per row
/// block (AttentionBatched.swift). Measured on a 2-core Zen 4 (`pare bench train --breakdown`,
/// fp32, 4 × 256): blas 0.28 s of attention a step, onednn 0.35 s (its small per-group products
/// run at ~50–100 GFLOP/s), so blas is the default; on a CPU whose OpenBLAS kernel is slow,
/// compare `pare bench train --attention onednn`.
public enum AttentionEngine: String, CaseIterable, Sendable {
    case blas, onednn
    nonisolated(unsafe) public static var current: AttentionEngine = .blas
    /// The engines this build and machine can run.
    public static var available: [AttentionEngine] { GEMM.oneDNNAvailable ? [.blas, .onednn] : [.blas] }
}

/// Query rows per block: block [i0, i1) only needs keys [0, past + i1), so blocking skips
/// most of the masked upper triangle (62% of the full product remains at T = 256).
let attentionRowBlock = 64

/// Runs body(b, g, scratch) for every (batch, KV group) pair, spread over Pare's threads with
/// BLAS single-threaded inside: the per-head products are too small for BLAS's own threads,
/// and a group's query heads stay on one thread, so dK and dV are never written concurrently.
/// Each chunk of items gets its own scratch of `scratchPerItem` floats.
func forEachGroup(_ s: AttentionShape, cost: Int, scratchPerItem: Int, _ body: (Int, Int, UnsafeMutablePointer<Float>) -> Void) {
    let items = s.B * s.KV
    let threads = min(Parallel.threads, items)
    if threads > 1 { BLAS.setThreads(1) }
    defer { if threads > 1 { BLAS.setThreads(Parallel.threads) } }
    withoutActuallyEscaping(body) { body in
        let box = UncheckedBox(body)
        Parallel.forRange(items, costPerItem: cost) { start, end in
            let scratch = FloatBuffer(count: scratchPerItem)   // one per chunk, so per thread
            for item in start..<end { box.value(item / s.KV, item % s.KV, scratch.pointer) }
        }
    }
}

/// P (rows × L, ld L) = causal softmax(scale · Q·Kᵀ) for query rows [i0, i1) of one head.
/// Q points at row i0 of the head (ld H·D); K at key row 0 of its group (ld KV·D).
/// With `branches` (Tq, this batch row's), query i also skips every key j of another branch:
/// it sees j ≤ i only where branches[j] is 0 (the shared prefix) or branches[i].
@inline(__always)
func attentionProbs(_ P: UnsafeMutablePointer<Float>, Q: UnsafePointer<Float>, K: UnsafePointer<Float>, i0: Int, i1: Int, s: AttentionShape,
                    branches: UnsafePointer<Int32>? = nil) {
    let rows = i1 - i0, L = s.past + i1
    BLAS.sgemm(transA: false, transB: true, M: rows, N: L, K: s.D, alpha: s.scale,
               A: Q, lda: s.H * s.D, B: K, ldb: s.KV * s.D, C: P, ldc: L)
    for r in 0..<rows {
        let p = s.past + i0 + r
        causalSoftmaxRow(P + r * L, L: L, valid: p + 1, first: s.firstKey(p), own: branches.map { $0[i0 + r] } ?? 0, branches: branches)
    }
}

/// One row of scores (L) in place: softmax over keys [first, valid), zeros elsewhere (the
/// keys before a sliding window, and after the query); with `branches` and a query of branch
/// `own` ≠ 0, the keys of other branches get weight exactly 0.
@inline(__always)
func causalSoftmaxRow(_ row: UnsafeMutablePointer<Float>, L: Int, valid: Int, first: Int = 0, own: Int32, branches: UnsafePointer<Int32>?) {
    // The other branches' keys before the query: one range, from the prefix's end to the start
    // of the query's own branch (the layout attentionForward requires). Found by walking the
    // prefix and the own branch and filled at once, rather than a test of every key for every
    // head and query of rows thousands of tokens long (few-shot MMLU).
    let others = own != 0 ? branches.map { otherBranches($0, from: first, valid: valid, own: own) } : nil
    if let o = others { (row + o.lowerBound).update(repeating: -.infinity, count: o.count) }
    row.update(repeating: 0, count: first)
    let x = row + first, n = valid - first
    var mv = F8(repeating: -.infinity)
    var j = 0
    while j + 8 <= n { mv = max8(mv, load8(x + j)); j += 8 }
    var m = mv.max()
    while j < n { m = max(m, x[j]); j += 1 }
    var sv = F8()
    j = 0
    let mm = F8(repeating: m)
    while j + 8 <= n { let e = exp8(load8(x + j) - mm); store8(e, x + j); sv += e; j += 8 }
    var sum = sv.sum()
    while j < n { let e = expf(x[j] - m); x[j] = e; sum += e; j += 1 }
    let inv = 1 / sum
    j = 0
    let iv = F8(repeating: inv)
    while j + 8 <= n { store8(load8(x + j) * iv, x + j); j += 8 }
    while j < n { x[j] *= inv; j += 1 }
    (row + valid).update(repeating: 0, count: L - valid)
    // exp8 clamps −∞ to e^−87, not 0: make the other branches' weights exactly zero.
    if let o = others { (row + o.lowerBound).update(repeating: 0, count: o.count) }
}

/// Keys in [first, valid) of branches other than `own` (≠ 0), in a row laid out as one
/// prefix (branch 0) followed by contiguous branches.
@inline(__always)
func otherBranches(_ br: UnsafePointer<Int32>, from first: Int, valid: Int, own: Int32) -> Range<Int> {
    var lo = first
    while lo < valid && br[lo] == 0 { lo += 1 }
    var hi = valid
    while hi > lo && br[hi - 1] == own { hi -= 1 }
    return lo..<hi
}

/// dS = P ⊙ (dP − Σ_j P·dP) over one row's causal prefix [0, valid), in place in dP; zeros after.
@inline(__always)
func softmaxBackwardRow(p: UnsafePointer<Float>, dp: UnsafeMutablePointer<Float>, L: Int, valid: Int) {
    let rv = F8(repeating: dot(p, dp, valid))
    var j = 0
    while j + 8 <= valid { store8(load8(p + j) * (load8(dp + j) - rv), dp + j); j += 8 }
    while j < valid { dp[j] = p[j] * (dp[j] - rv[0]); j += 1 }
    (dp + valid).update(repeating: 0, count: L - valid)
}

/// out (B, Tq, H·D) = attention(q, k, v). `branches` (B, Tq) packs several sequences that
/// share a prefix into one row (forward only, no past): branch 0 is the prefix, and a token of
/// branch k ≥ 1 attends to the prefix and to the tokens before it in branch k. Each row must
/// be laid out as PackedRows does: the prefix first, then each branch's tokens contiguous.
public func attentionForward(out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, shape s: AttentionShape,
                             branches: UnsafePointer<Int32>? = nil) {
    let profiled = KernelProfile.begin(.attention); defer { KernelProfile.end(profiled) }
    precondition(branches == nil || s.past == 0, "packed branches need the whole row in one call")
    // A packed token's position is at most its index, so a window of Tq or more never binds.
    precondition(branches == nil || (s.window ?? .max) >= s.Tq, "packed branches under a shorter sliding window")
    if s.Tq == 1 && s.B == 1 { return attentionDecode(out: out, q: q, k: k, v: v, shape: s) }
    if AttentionEngine.current == .onednn { return attentionForwardBatched(out: out, q: q, k: k, v: v, shape: s, branches: branches) }
    let headsPerGroup = s.H / s.KV
    let o = UncheckedBox(out), br = UncheckedBox(branches)
    forEachGroup(s, cost: 4 * headsPerGroup * s.Tq * s.Tk * s.D, scratchPerItem: min(attentionRowBlock, s.Tq) * s.Tk) { b, g, P in
        let K = k + b * s.Tk * s.KV * s.D + g * s.D, V = v + b * s.Tk * s.KV * s.D + g * s.D
        let rowBranches = br.value.map { $0 + b * s.Tq }
        for h in g * headsPerGroup..<(g + 1) * headsPerGroup {
            let qOff = b * s.Tq * s.H * s.D + h * s.D
            var i0 = 0
            while i0 < s.Tq {
                let i1 = min(s.Tq, i0 + attentionRowBlock), L = s.past + i1
                attentionProbs(P, Q: q + qOff + i0 * s.H * s.D, K: K, i0: i0, i1: i1, s: s, branches: rowBranches)
                BLAS.sgemm(transA: false, transB: false, M: i1 - i0, N: s.D, K: L, A: P, lda: L,
                           B: V, ldb: s.KV * s.D, C: o.value + qOff + i0 * s.H * s.D, ldc: s.H * s.D)
                i0 = i1
            }
        }
    }
}

/// One query row against the cache (decoding): per head, scores over all Tk keys, softmax,
/// weighted sum of values — plain SIMD loops, heads split across threads.
func attentionDecode(out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, shape s: AttentionShape) {
    let o = UncheckedBox(out)
    let ldk = s.KV * s.D, group = s.H / s.KV
    Parallel.forRange(s.H, costPerItem: 4 * s.Tk * s.D) { h0, h1 in
        var p = [Float](repeating: 0, count: s.Tk)
        p.withUnsafeMutableBufferPointer { pb in
            let p = pb.baseAddress!
            for h in h0..<h1 {
                let qh = q + h * s.D, g = h / group, first = s.firstKey(s.Tk - 1)
                var m = -Float.infinity
                for j in first..<s.Tk { p[j] = dot(qh, k + j * ldk + g * s.D, s.D) * s.scale; m = max(m, p[j]) }
                var sum: Float = 0
                for j in first..<s.Tk { p[j] = expf(p[j] - m); sum += p[j] }
                let y = o.value + h * s.D
                y.update(repeating: 0, count: s.D)
                for j in first..<s.Tk { axpy(p[j] / sum, v + j * ldk + g * s.D, y, s.D) }
            }
        }
    }
}

/// dq += ∂/∂q, dk += ∂/∂k, dv += ∂/∂v given dout (B, Tq, H·D). Recomputes the probabilities.
public func attentionBackward(
    dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
    dout: UnsafePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    shape s: AttentionShape
) {
    let profiled = KernelProfile.begin(.attention); defer { KernelProfile.end(profiled) }
    if AttentionEngine.current == .onednn {
        return attentionBackwardBatched(dq: dq, dk: dk, dv: dv, dout: dout, q: q, k: k, v: v, shape: s)
    }
    let headsPerGroup = s.H / s.KV
    let block = min(attentionRowBlock, s.Tq)
    let grads = UncheckedBox((dq, dk, dv))
    forEachGroup(s, cost: 10 * headsPerGroup * s.Tq * s.Tk * s.D, scratchPerItem: 2 * block * s.Tk) { b, g, P in
        let (dq, dk, dv) = grads.value
        let dP = P + block * s.Tk
        let kOff = b * s.Tk * s.KV * s.D + g * s.D
        let ldq = s.H * s.D, ldk = s.KV * s.D
        for h in g * headsPerGroup..<(g + 1) * headsPerGroup {
            let qOff = b * s.Tq * s.H * s.D + h * s.D
            var i0 = 0
            while i0 < s.Tq {
                let i1 = min(s.Tq, i0 + attentionRowBlock), rows = i1 - i0, L = s.past + i1
                let Q = q + qOff + i0 * ldq, dO = dout + qOff + i0 * ldq
                attentionProbs(P, Q: Q, K: k + kOff, i0: i0, i1: i1, s: s)
                // dP = dO · Vᵀ
                BLAS.sgemm(transA: false, transB: true, M: rows, N: L, K: s.D, A: dO, lda: ldq,
                           B: v + kOff, ldb: ldk, C: dP, ldc: L)
                // dV += Pᵀ · dO
                BLAS.sgemm(transA: true, transB: false, M: L, N: s.D, K: rows, A: P, lda: L,
                           B: dO, ldb: ldq, beta: 1, C: dv + kOff, ldc: ldk)
                // dS = P ⊙ (dP − Σ_j P·dP), row by row over the causal prefix
                for r in 0..<rows { softmaxBackwardRow(p: P + r * L, dp: dP + r * L, L: L, valid: s.past + i0 + r + 1) }
                // dQ += scale · dS · K ;  dK += scale · dSᵀ · Q
                BLAS.sgemm(transA: false, transB: false, M: rows, N: s.D, K: L, alpha: s.scale, A: dP, lda: L,
                           B: k + kOff, ldb: ldk, beta: 1, C: dq + qOff + i0 * ldq, ldc: ldq)
                BLAS.sgemm(transA: true, transB: false, M: L, N: s.D, K: rows, alpha: s.scale, A: dP, lda: L,
                           B: Q, ldb: ldq, beta: 1, C: dk + kOff, ldc: ldk)
                i0 = i1
            }
        }
    }
}

/// Naive twin: explicit loops in Double, probabilities kept per row; keys before the sliding
/// window, and keys another branch
/// holds (`branches`, as in attentionForward) get weight 0.
public func attentionForwardNaive(out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, shape s: AttentionShape,
                                  branches: [Int32]? = nil) {
    var p = [Double](repeating: 0, count: s.Tk)
    for b in 0..<s.B {
        for h in 0..<s.H {
            let g = h / (s.H / s.KV)
            for i in 0..<s.Tq {
                let L = s.past + i + 1
                var m = -Double.infinity
                for j in 0..<L {
                    if let br = branches, br[b * s.Tq + j] != 0, br[b * s.Tq + j] != br[b * s.Tq + i] { p[j] = -.infinity; continue }
                    if let w = s.window, j <= s.past + i - w { p[j] = -.infinity; continue }   // before the window
                    var d: Double = 0
                    for e in 0..<s.D {
                        d += Double(q[(b * s.Tq + i) * s.H * s.D + h * s.D + e]) * Double(k[(b * s.Tk + j) * s.KV * s.D + g * s.D + e])
                    }
                    p[j] = d * Double(s.scale)
                    m = max(m, p[j])
                }
                var sum: Double = 0
                for j in 0..<L { p[j] = exp(p[j] - m); sum += p[j] }
                for e in 0..<s.D {
                    var o: Double = 0
                    for j in 0..<L { o += p[j] / sum * Double(v[(b * s.Tk + j) * s.KV * s.D + g * s.D + e]) }
                    out[(b * s.Tq + i) * s.H * s.D + h * s.D + e] = Float(o)
                }
            }
        }
    }
}
