// Linear layers, PyTorch convention: weight (O, I), out = inp · weightᵀ + bias.
// N rows (tokens), I input features, O output features.

/// A linear layer's weight (O, I): the f32 master copy, and its bf16 copy when the model runs
/// in bf16 (then every matmul with more than one row reads bf16 weights and bf16-rounded
/// activations, accumulating in f32). A read-only model may hold the bf16 copy alone
/// (`f32` nil): then every product, a single row's too, reads bf16.
public struct LinearWeight {
    public let f32: UnsafePointer<Float>?
    public let bf16: UnsafePointer<UInt16>?
    public init(f32: UnsafePointer<Float>?, bf16: UnsafePointer<UInt16>? = nil) {
        precondition(f32 != nil || bf16 != nil, "a linear weight needs an f32 or a bf16 copy")
        self.f32 = f32; self.bf16 = bf16
    }
}

/// out (N, O) = inp (N, I) · weight (O, I)ᵀ + bias (O), in the weight's precision.
/// `inpBF16`, when given, is inp already rounded to bf16 (by the kernel that wrote inp, once
/// for every matmul that reads it); a bf16 product then reads it instead of rounding again.
public func matmulForward(
    out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, inpBF16: UnsafePointer<UInt16>? = nil, weight: LinearWeight,
    bias: UnsafePointer<Float>?, N: Int, I: Int, O: Int
) {
    let profiled = KernelProfile.begin(.matmul); defer { KernelProfile.end(profiled) }
    // Decoding one token reads each weight once: the f32 matrix-vector kernel is memory-bound
    // either way, and keeps decode bit-identical between precisions' KV caches.
    if let w = weight.f32, weight.bf16 == nil || N == 1 {
        return matmulForward(out: out, inp: inp, weight: w, bias: bias, N: N, I: I, O: O)
    }
    let wh = weight.bf16!
    biasFill(out: out, bias: bias, N: N, O: O)
    withBF16(inp, rounded: inpBF16, count: N * I) { xh in
        GEMM.gemm(transA: false, transB: true, M: N, N: O, K: I, A: xh, lda: I, B: wh, ldb: I,
                  beta: bias == nil ? 0 : 1, C: out, ldc: O)
    }
}

/// Runs `body` with x rounded to bf16: `rounded` when the caller has it, else a scratch copy.
private func withBF16(_ x: UnsafePointer<Float>, rounded: UnsafePointer<UInt16>?, count: Int, _ body: (UnsafePointer<UInt16>) -> Void) {
    if let rounded { return body(rounded) }
    BF16Scratch.with(count: count) { xh in
        bf16Round(out: xh, inp: x, count: count)
        body(xh)
    }
}

/// The backward of `matmulForward` in the weight's precision: in bf16, dout, inp and the
/// weight enter the products rounded to bf16; dinp and dweight accumulate in f32.
/// `inpBF16`, when given, is inp already rounded to bf16 (see `matmulForward`). With
/// `overwriteDinp`, dinp receives the product instead of adding it (no zeroing pass before the
/// first of the matmuls that write it). Not always the same bits: for a product without the
/// added C oneDNN may pick another kernel (the width-pruned demo student's first gradient norm
/// moved 45.370 → 45.364; the teacher's shapes gave identical bits).
public func matmulBackward(
    dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
    dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
    inpBF16: UnsafePointer<UInt16>? = nil, weight: LinearWeight, N: Int, I: Int, O: Int, overwriteDinp: Bool = false
) {
    let profiled = KernelProfile.begin(.matmul); defer { KernelProfile.end(profiled) }
    guard let wh = weight.bf16 else {
        return matmulBackward(dinp: dinp, dweight: dweight, dbias: dbias, dout: dout, inp: inp, weight: weight.f32!, N: N, I: I, O: O,
                              overwriteDinp: overwriteDinp)
    }
    BF16Scratch.with(count: N * O) { gh in
        bf16Round(out: gh, inp: dout, count: N * O)
        if let dinp {
            GEMM.gemm(transA: false, transB: false, M: N, N: I, K: O, A: gh, lda: O, B: wh, ldb: I,
                      beta: overwriteDinp ? 0 : 1, C: dinp, ldc: I)
        }
        withBF16(inp, rounded: inpBF16, count: N * I) { xh in
            GEMM.gemm(transA: true, transB: false, M: O, N: I, K: N, A: gh, lda: O, B: xh, ldb: I,
                      beta: 1, C: dweight, ldc: I)
        }
    }
    biasBackward(dbias: dbias, dout: dout, N: N, O: O)
}

/// Every row of out (N, O) starts as the bias; the GEMM then adds with beta = 1.
private func biasFill(out: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, N: Int, O: Int) {
    guard let bias else { return }
    for n in 0..<N { (out + n * O).update(from: bias, count: O) }
}

/// dbias (O) += Σ_n dout (N, O), in f32 whatever the matmuls' precision.
private func biasBackward(dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>, N: Int, O: Int) {
    guard let dbias else { return }
    for n in 0..<N { axpy(1, dout + n * O, dbias, O) }
}

/// out (N, O) = inp (N, I) · weight (O, I)ᵀ + bias (O)
public func matmulForward(
    out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    bias: UnsafePointer<Float>?, N: Int, I: Int, O: Int
) {
    let profiled = KernelProfile.begin(.matmul); defer { KernelProfile.end(profiled) }
    if N == 1 {  // decoding one token: a memory-bound matrix-vector product
        matvecForward(out: out, weight: weight, x: inp, bias: bias, O: O, I: I)
        return
    }
    biasFill(out: out, bias: bias, N: N, O: O)
    GEMM.gemm(transA: false, transB: true, M: N, N: O, K: I, A: inp, lda: I, B: weight, ldb: I,
              beta: bias == nil ? 0 : 1, C: out, ldc: O)
}

/// dinp (N, I) += dout · weight;  dweight (O, I) += doutᵀ · inp;  dbias (O) += Σ_n dout.
/// `dinp` may be nil when the input needs no gradient.
public func matmulBackward(
    dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
    dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
    weight: UnsafePointer<Float>, N: Int, I: Int, O: Int, overwriteDinp: Bool = false
) {
    let profiled = KernelProfile.begin(.matmul); defer { KernelProfile.end(profiled) }
    if let dinp {
        GEMM.gemm(transA: false, transB: false, M: N, N: I, K: O, A: dout, lda: O, B: weight, ldb: I,
                  beta: overwriteDinp ? 0 : 1, C: dinp, ldc: I)
    }
    GEMM.gemm(transA: true, transB: false, M: O, N: I, K: N, A: dout, lda: O, B: inp, ldb: I,
              beta: 1, C: dweight, ldc: I)
    biasBackward(dbias: dbias, dout: dout, N: N, O: O)
}

public func matmulForwardNaive(
    out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    bias: UnsafePointer<Float>?, N: Int, I: Int, O: Int
) {
    for n in 0..<N {
        for o in 0..<O {
            var s: Float = bias?[o] ?? 0
            for i in 0..<I { s += inp[n * I + i] * weight[o * I + i] }
            out[n * O + o] = s
        }
    }
}

public func matmulBackwardNaive(
    dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
    dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
    weight: UnsafePointer<Float>, N: Int, I: Int, O: Int
) {
    for n in 0..<N {
        for o in 0..<O {
            let d = dout[n * O + o]
            dbias?[o] += d
            for i in 0..<I {
                dinp?[n * I + i] += d * weight[o * I + i]
                dweight[o * I + i] += d * inp[n * I + i]
            }
        }
    }
}
