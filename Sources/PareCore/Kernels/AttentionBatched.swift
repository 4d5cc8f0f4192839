// Attention's products as batched oneDNN matmuls: per block of query rows, one call covers
// every (batch, KV group) pair, so no per-head BLAS call (and no OpenBLAS kernel choice) is on
// the hot path. The arithmetic is attentionForward's: f32 products, the same causal row
// blocks, the same softmax rows (causalSoftmaxRow); only the GEMM engine differs.
//
// Shapes as in Attention.swift (B, Tq, Tk, H, KV, D); G = H / KV query heads per group,
// R rows in a block, L = past + i1 keys it sees, head h = kv·G + g. A group's query rows are
// packed as one matrix (B, KV, G·R, D) — the projections' layout strides heads and rows
// differently, and oneDNN runs a broadcast batch dimension on its reference code (~100× slower,
// measured) — so every product is a plain 4-D batched matmul:
//   Qp, dOp, Op, dQp (B, KV, G·R, D) packed scratch
//   k, v, dk, dv     (B, Tk, KV·D) viewed as (B, KV, L, D), or transposed (B, KV, D, L)
//   S, P, dP         (B, KV, G·R, L) dense scratch; row (b·H + h)·R + r

private typealias RO = GEMM.Strided<UnsafePointer<Float>>

private struct BlockViews {
    let s: AttentionShape, i0: Int, R: Int, L: Int
    init(_ s: AttentionShape, i0: Int, i1: Int) { self.s = s; self.i0 = i0; R = i1 - i0; L = s.past + i1 }
    var groupRows: Int { s.H / s.KV * R }
    /// Packed rows (B, KV, G·R, D).
    func packed<P>(_ p: P) -> GEMM.Strided<P> {
        GEMM.Strided(p, dims: [s.B, s.KV, groupRows, s.D], strides: [s.KV * groupRows * s.D, groupRows * s.D, s.D, 1])
    }
    /// A key-side tensor (k, v, dk, dv) as (B, KV, L, D), or transposed as (B, KV, D, L).
    func keys<P>(_ p: P, transposed: Bool = false) -> GEMM.Strided<P> {
        GEMM.Strided(p, dims: [s.B, s.KV] + (transposed ? [s.D, L] : [L, s.D]),
                     strides: [s.Tk * s.KV * s.D, s.D] + (transposed ? [1, s.KV * s.D] : [s.KV * s.D, 1]))
    }
    /// Scores (B, KV, G·R, L), dense, or transposed as (B, KV, L, G·R).
    func scores<P>(_ p: P, transposed: Bool = false) -> GEMM.Strided<P> {
        GEMM.Strided(p, dims: [s.B, s.KV] + (transposed ? [L, groupRows] : [groupRows, L]),
                     strides: [s.KV * groupRows * L, groupRows * L] + (transposed ? [1, L] : [L, 1]))
    }
    var scoreRows: Int { s.B * s.H * R }
    /// Query position of score row `row`.
    func position(_ row: Int) -> Int { s.past + i0 + row % R }
}

/// Scratch for one call: scores, their gradient and two packed row blocks.
private struct AttentionScratch {
    let P: FloatBuffer, dP: FloatBuffer?, rows: FloatBuffer, rows2: FloatBuffer?
    init(_ s: AttentionShape, backward: Bool) {
        let block = min(attentionRowBlock, s.Tq)
        P = FloatBuffer(count: s.B * s.H * block * s.Tk); dP = backward ? FloatBuffer(count: P.count) : nil
        rows = FloatBuffer(count: s.B * s.H * block * s.D); rows2 = backward ? FloatBuffer(count: rows.count) : nil
    }
}

/// P = causal softmax(scale · Qp·Kᵀ), row by row in place.
private func blockProbabilities(_ w: BlockViews, P: UnsafeMutablePointer<Float>, qp: UnsafePointer<Float>, k: UnsafePointer<Float>,
                                branches: UnsafePointer<Int32>?) {
    let s = w.s
    GEMM.batchedSgemm(A: w.packed(qp), B: w.keys(k, transposed: true), C: w.scores(P), alpha: s.scale)
    let box = UncheckedBox(P)
    Parallel.forRange(w.scoreRows, costPerItem: 4 * w.L) { r0, r1 in
        for row in r0..<r1 {
            let br = branches.map { $0 + row / (s.H * w.R) * s.Tq }, p = w.position(row), i = p - s.past
            causalSoftmaxRow(box.value + row * w.L, L: w.L, valid: p + 1, first: s.firstKey(p), own: br.map { $0[i] } ?? 0, branches: br)
        }
    }
}

func attentionForwardBatched(out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                             shape s: AttentionShape, branches: UnsafePointer<Int32>?) {
    let scratch = AttentionScratch(s, backward: false)
    let P = scratch.P.pointer, rows = scratch.rows.pointer
    for i0 in stride(from: 0, to: s.Tq, by: attentionRowBlock) {
        let w = BlockViews(s, i0: i0, i1: min(s.Tq, i0 + attentionRowBlock))
        moveRows(w, packed: rows, strided: UnsafeMutablePointer(mutating: q), pack: true)
        blockProbabilities(w, P: P, qp: rows, k: k, branches: branches)
        GEMM.batchedSgemm(A: w.scores(UnsafePointer(P)), B: w.keys(v), C: w.packed(rows))   // Op = P · V
        moveRows(w, packed: rows, strided: out, pack: false)
    }
}

func attentionBackwardBatched(dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
                              dout: UnsafePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                              shape s: AttentionShape) {
    let scratch = AttentionScratch(s, backward: true)
    let P = scratch.P.pointer, dP = scratch.dP!.pointer, qp = scratch.rows.pointer, dop = scratch.rows2!.pointer
    for i0 in stride(from: 0, to: s.Tq, by: attentionRowBlock) {
        let w = BlockViews(s, i0: i0, i1: min(s.Tq, i0 + attentionRowBlock))
        moveRows(w, packed: qp, strided: UnsafeMutablePointer(mutating: q), pack: true)
        moveRows(w, packed: dop, strided: UnsafeMutablePointer(mutating: dout), pack: true)
        blockProbabilities(w, P: P, qp: qp, k: k, branches: nil)
        // dP = dO · Vᵀ, then dS = P ⊙ (dP − Σ P·dP) row by row (in dP).
        GEMM.batchedSgemm(A: w.packed(UnsafePointer(dop)), B: w.keys(v, transposed: true), C: w.scores(dP))
        let boxes = UncheckedBox((P, dP))
        Parallel.forRange(w.scoreRows, costPerItem: 4 * w.L) { r0, r1 in
            for row in r0..<r1 { softmaxBackwardRow(p: boxes.value.0 + row * w.L, dp: boxes.value.1 + row * w.L, L: w.L, valid: w.position(row) + 1) }
        }
        // dV += Pᵀ · dO;  dK += scale · dSᵀ · Q (each summed over a group's heads and rows)
        GEMM.batchedSgemm(A: w.scores(UnsafePointer(P), transposed: true), B: w.packed(UnsafePointer(dop)), C: w.keys(dv), beta: 1)
        GEMM.batchedSgemm(A: w.scores(UnsafePointer(dP), transposed: true), B: w.packed(UnsafePointer(qp)), C: w.keys(dk), alpha: s.scale, beta: 1)
        // dQ += scale · dS · K (into the packed dO's place, then added to dq's rows)
        GEMM.batchedSgemm(A: w.scores(UnsafePointer(dP)), B: w.keys(k), C: w.packed(dop), alpha: s.scale)
        moveRows(w, packed: dop, strided: dq, pack: false, accumulate: true)
    }
}

/// Between a block's rows of a (B, Tq, H·D) tensor and their packed (B, KV, G·R, D) copy:
/// `pack` copies strided → packed; otherwise packed → strided, added when `accumulate`.
private func moveRows(_ w: BlockViews, packed: UnsafeMutablePointer<Float>, strided: UnsafeMutablePointer<Float>, pack: Bool, accumulate: Bool = false) {
    let s = w.s, box = UncheckedBox((packed, strided))
    Parallel.forRange(s.B * s.H, costPerItem: w.R * s.D) { bh0, bh1 in
        let (packed, strided) = box.value
        for bh in bh0..<bh1 {
            let b = bh / s.H, h = bh % s.H
            for r in 0..<w.R {
                let p = packed + (bh * w.R + r) * s.D, t = strided + (b * s.Tq + w.i0 + r) * s.H * s.D + h * s.D
                if pack { p.update(from: t, count: s.D) }
                else if accumulate { axpy(1, p, t, s.D) }
                else { t.update(from: p, count: s.D) }
            }
        }
    }
}

