// Linear layers, PyTorch convention: weight (O, I), out = inp · weightᵀ + bias.
// N rows (tokens), I input features, O output features.

/// out (N, O) = inp (N, I) · weight (O, I)ᵀ + bias (O)
public func matmulForward(
    out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    bias: UnsafePointer<Float>?, N: Int, I: Int, O: Int
) {
    if N == 1 {  // decoding one token: a memory-bound matrix-vector product
        matvecForward(out: out, weight: weight, x: inp, bias: bias, O: O, I: I)
        return
    }
    if let bias {
        for n in 0..<N { (out + n * O).update(from: bias, count: O) }
    }
    BLAS.sgemm(transA: false, transB: true, M: N, N: O, K: I, A: inp, lda: I, B: weight, ldb: I,
               beta: bias == nil ? 0 : 1, C: out, ldc: O)
}

/// dinp (N, I) += dout · weight;  dweight (O, I) += doutᵀ · inp;  dbias (O) += Σ_n dout.
/// `dinp` may be nil when the input needs no gradient.
public func matmulBackward(
    dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
    dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
    weight: UnsafePointer<Float>, N: Int, I: Int, O: Int
) {
    if let dinp {
        BLAS.sgemm(transA: false, transB: false, M: N, N: I, K: O, A: dout, lda: O, B: weight, ldb: I,
                   beta: 1, C: dinp, ldc: I)
    }
    BLAS.sgemm(transA: true, transB: false, M: O, N: I, K: N, A: dout, lda: O, B: inp, ldb: I,
               beta: 1, C: dweight, ldc: I)
    if let dbias {
        for n in 0..<N { axpy(1, dout + n * O, dbias, O) }
    }
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
