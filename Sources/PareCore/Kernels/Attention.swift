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
// dimension. The (Tq × Tk) probabilities are not stored: backward recomputes them, which
// costs one extra Q·Kᵀ and saves B·H·T² floats per layer.

public struct AttentionShape: Sendable {
    public var B: Int, Tq: Int, Tk: Int, H: Int, KV: Int, D: Int
    public init(B: Int, Tq: Int, Tk: Int, H: Int, KV: Int, D: Int) {
        precondition(H % KV == 0 && Tk >= Tq)
        self.B = B; self.Tq = Tq; self.Tk = Tk; self.H = H; self.KV = KV; self.D = D
    }
    public var past: Int { Tk - Tq }
    public var scale: Float { 1 / Float(D).squareRoot() }
    /// Scratch floats needed by forward (one Tq × Tk matrix) and backward (two).
    public var scratchCount: Int { 2 * Tq * Tk }
}

/// P (Tq × Tk, ld Tk) = causal softmax(scale · Q·Kᵀ) for batch b, head h.
@inline(__always)
func attentionProbs(_ P: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, b: Int, h: Int, s: AttentionShape) {
    let g = h / (s.H / s.KV)
    let Q = q + b * s.Tq * s.H * s.D + h * s.D
    let K = k + b * s.Tk * s.KV * s.D + g * s.D
    BLAS.sgemm(transA: false, transB: true, M: s.Tq, N: s.Tk, K: s.D, alpha: s.scale,
               A: Q, lda: s.H * s.D, B: K, ldb: s.KV * s.D, C: P, ldc: s.Tk)
    for i in 0..<s.Tq {
        let row = P + i * s.Tk
        let L = s.past + i + 1
        var mv = F8(repeating: -.infinity)
        var j = 0
        while j + 8 <= L { mv = max8(mv, load8(row + j)); j += 8 }
        var m = mv.max()
        while j < L { m = max(m, row[j]); j += 1 }
        var sv = F8()
        j = 0
        let mm = F8(repeating: m)
        while j + 8 <= L { let e = exp8(load8(row + j) - mm); store8(e, row + j); sv += e; j += 8 }
        var sum = sv.sum()
        while j < L { let e = expf(row[j] - m); row[j] = e; sum += e; j += 1 }
        let inv = 1 / sum
        j = 0
        let iv = F8(repeating: inv)
        while j + 8 <= L { store8(load8(row + j) * iv, row + j); j += 8 }
        while j < L { row[j] *= inv; j += 1 }
        (row + L).update(repeating: 0, count: s.Tk - L)
    }
}

/// out (B, Tq, H·D) = attention(q, k, v). `scratch` holds at least `shape.scratchCount` floats.
public func attentionForward(out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, shape s: AttentionShape, scratch: UnsafeMutablePointer<Float>) {
    for b in 0..<s.B {
        for h in 0..<s.H {
            let g = h / (s.H / s.KV)
            attentionProbs(scratch, q: q, k: k, b: b, h: h, s: s)
            BLAS.sgemm(transA: false, transB: false, M: s.Tq, N: s.D, K: s.Tk, A: scratch, lda: s.Tk,
                       B: v + b * s.Tk * s.KV * s.D + g * s.D, ldb: s.KV * s.D,
                       C: out + b * s.Tq * s.H * s.D + h * s.D, ldc: s.H * s.D)
        }
    }
}

/// dq += ∂/∂q, dk += ∂/∂k, dv += ∂/∂v given dout (B, Tq, H·D).
public func attentionBackward(
    dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
    dout: UnsafePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    shape s: AttentionShape, scratch: UnsafeMutablePointer<Float>
) {
    let P = scratch, dP = scratch + s.Tq * s.Tk
    for b in 0..<s.B {
        for h in 0..<s.H {
            let g = h / (s.H / s.KV)
            let qOff = b * s.Tq * s.H * s.D + h * s.D, kOff = b * s.Tk * s.KV * s.D + g * s.D
            attentionProbs(P, q: q, k: k, b: b, h: h, s: s)
            // dP = dO · Vᵀ
            BLAS.sgemm(transA: false, transB: true, M: s.Tq, N: s.Tk, K: s.D, A: dout + qOff, lda: s.H * s.D,
                       B: v + kOff, ldb: s.KV * s.D, C: dP, ldc: s.Tk)
            // dV += Pᵀ · dO
            BLAS.sgemm(transA: true, transB: false, M: s.Tk, N: s.D, K: s.Tq, A: P, lda: s.Tk,
                       B: dout + qOff, ldb: s.H * s.D, beta: 1, C: dv + kOff, ldc: s.KV * s.D)
            // dS = P ⊙ (dP − Σ_j P·dP), row by row over the causal prefix
            for i in 0..<s.Tq {
                let p = P + i * s.Tk, dp = dP + i * s.Tk
                let L = s.past + i + 1
                let r = F8(repeating: dot(p, dp, L))
                var j = 0
                while j + 8 <= L { store8(load8(p + j) * (load8(dp + j) - r), dp + j); j += 8 }
                while j < L { dp[j] = p[j] * (dp[j] - r[0]); j += 1 }
                (dp + L).update(repeating: 0, count: s.Tk - L)
            }
            // dQ += scale · dS · K ;  dK += scale · dSᵀ · Q
            BLAS.sgemm(transA: false, transB: false, M: s.Tq, N: s.D, K: s.Tk, alpha: s.scale, A: dP, lda: s.Tk,
                       B: k + kOff, ldb: s.KV * s.D, beta: 1, C: dq + qOff, ldc: s.H * s.D)
            BLAS.sgemm(transA: true, transB: false, M: s.Tk, N: s.D, K: s.Tq, alpha: s.scale, A: dP, lda: s.Tk,
                       B: q + qOff, ldb: s.H * s.D, beta: 1, C: dk + kOff, ldc: s.KV * s.D)
        }
    }
}

/// Naive twin: explicit loops in Double, probabilities kept per row.
public func attentionForwardNaive(out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, shape s: AttentionShape) {
    var p = [Double](repeating: 0, count: s.Tk)
    for b in 0..<s.B {
        for h in 0..<s.H {
            let g = h / (s.H / s.KV)
            for i in 0..<s.Tq {
                let L = s.past + i + 1
                var m = -Double.infinity
                for j in 0..<L {
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
