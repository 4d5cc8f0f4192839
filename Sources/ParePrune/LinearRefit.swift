import PareCore

/// Running sums over calibration tokens for refitting linear layers by least squares: Σ x xᵀ
/// and Σ x of the inputs x (I), and Σ u xᵀ, Σ u of another per-token vector u (U) — the
/// teacher's own input to the layer, or the target itself. Float64 totals of f32 per-batch
/// products (one GEMM per batch).
public struct Moments {
    public let I: Int, U: Int
    public private(set) var xx: [Double]      // (I, I) Σ x xᵀ
    public private(set) var xSum: [Double]    // (I)
    public private(set) var ux: [Double]      // (U, I) Σ u xᵀ
    public private(set) var uSum: [Double]    // (U)
    public private(set) var count = 0
    private var scratch: FloatBuffer   // (max(I, U), I) one batch's product

    public init(inputs I: Int, against U: Int) {
        self.I = I; self.U = U
        xx = [Double](repeating: 0, count: I * I); xSum = [Double](repeating: 0, count: I)
        ux = [Double](repeating: 0, count: U * I); uSum = [Double](repeating: 0, count: U)
        scratch = FloatBuffer(count: max(I, U) * I)
    }

    /// Adds N tokens: x (N, I) and u (N, U), both row-major.
    public mutating func add(x: UnsafePointer<Float>, u: UnsafePointer<Float>, rows N: Int) {
        let s = scratch.pointer
        BLAS.sgemm(transA: true, transB: false, M: I, N: I, K: N, A: x, lda: I, B: x, ldb: I, C: s, ldc: I)
        for i in 0..<(I * I) { xx[i] += Double(s[i]) }
        BLAS.sgemm(transA: true, transB: false, M: U, N: I, K: N, A: u, lda: U, B: x, ldb: I, C: s, ldc: I)
        for i in 0..<(U * I) { ux[i] += Double(s[i]) }
        for n in 0..<N {
            for i in 0..<I { xSum[i] += Double(x[n * I + i]) }
            for j in 0..<U { uSum[j] += Double(u[n * U + j]) }
        }
        count += N
    }

    /// The mean of Σ x xᵀ's diagonal: the scale the damping is relative to.
    public var meanSquare: Double { (0..<I).reduce(0.0) { $0 + xx[$1 * I + $1] } / Double(max(I, 1)) }
}

/// One linear layer's refit: y ≈ W' x (+ b') over calibration tokens, ridge-damped toward
/// the weights it starts from,
///   minimise Σ_tokens ‖y − W' x − b'‖² + λ (‖W' − W₀‖² + ‖b' − b₀‖²),  λ = damping · mean diag(Σ x xᵀ),
/// i.e. [W' b'] (G + λ) = Σ y x̃ᵀ + λ [W₀ b₀] with x̃ = [x; 1] and G = Σ x̃ x̃ᵀ (GPTQ's relative
/// damping). A fit whose targets are already W₀ x + b₀ returns W₀ exactly.
public enum LinearRefit {
    /// The targets are the teacher's own layer on its input u: y = W_t u + b_t, where `teacher`
    /// (O, U) and `teacherBias` (O) are the kept rows. Σ y x̃ᵀ = [W_t Σ u xᵀ + b_t Σ xᵀ,  W_t Σ u + N b_t].
    public static func fitToTeacher(_ m: Moments, teacher: UnsafePointer<Float>, teacherBias: UnsafePointer<Float>?, O: Int,
                             start w0: UnsafeMutablePointer<Float>, bias b0: UnsafeMutablePointer<Float>?, damping: Double) -> Bool {
        let I = m.I, U = m.U
        // W_t (O, U) · Σ u xᵀ (U, I), in f32 (the sums' relative precision is kept by f64 totals).
        let uxF = FloatBuffer(count: U * I), prod = FloatBuffer(count: O * I)
        for i in 0..<(U * I) { uxF.pointer[i] = Float(m.ux[i]) }
        BLAS.sgemm(transA: false, transB: false, M: O, N: I, K: U, A: teacher, lda: U, B: uxF.pointer, ldb: I, C: prod.pointer, ldc: I)
        let wide = I + (b0 == nil ? 0 : 1)
        var cross = [Double](repeating: 0, count: O * wide)
        for o in 0..<O {
            let bt = teacherBias.map { Double($0[o]) } ?? 0
            for i in 0..<I { cross[o * wide + i] = Double(prod.pointer[o * I + i]) + bt * m.xSum[i] }
            if b0 != nil {
                var s = 0.0
                for u in 0..<U { s += Double(teacher[o * U + u]) * m.uSum[u] }
                cross[o * wide + I] = s + Double(m.count) * bt
            }
        }
        return solve(m, cross: &cross, O: O, start: w0, bias: b0, damping: damping)
    }

    /// The targets are u itself (U = O): the layer's output must become u.
    public static func fitToTargets(_ m: Moments, start w0: UnsafeMutablePointer<Float>, bias b0: UnsafeMutablePointer<Float>?, damping: Double) -> Bool {
        let I = m.I, O = m.U, wide = I + (b0 == nil ? 0 : 1)
        var cross = [Double](repeating: 0, count: O * wide)
        for o in 0..<O {
            for i in 0..<I { cross[o * wide + i] = m.ux[o * I + i] }
            if b0 != nil { cross[o * wide + I] = m.uSum[o] }
        }
        return solve(m, cross: &cross, O: O, start: w0, bias: b0, damping: damping)
    }

    /// Solves for [W' b'] given Σ y x̃ᵀ (O, I+1 with a bias), writes W' over w0 (O, I) and b'
    /// over b0. False when G + λ is not positive definite (nothing is written).
    private static func solve(_ m: Moments, cross: inout [Double], O: Int, start w0: UnsafeMutablePointer<Float>,
                              bias b0: UnsafeMutablePointer<Float>?, damping: Double) -> Bool {
        let I = m.I, wide = I + (b0 == nil ? 0 : 1)
        let lambda = damping * m.meanSquare
        var g = [Double](repeating: 0, count: wide * wide)
        for r in 0..<I { for c in 0..<I { g[r * wide + c] = m.xx[r * I + c] } }
        if b0 != nil {
            for i in 0..<I { g[i * wide + I] = m.xSum[i]; g[I * wide + i] = m.xSum[i] }
            g[I * wide + I] = Double(m.count)
        }
        for i in 0..<wide { g[i * wide + i] += lambda }
        for o in 0..<O {
            for i in 0..<I { cross[o * wide + i] += lambda * Double(w0[o * I + i]) }
            if let b = b0 { cross[o * wide + I] += lambda * Double(b[o]) }
        }
        guard BLAS.solvePositiveDefinite(&g, &cross, n: wide, nrhs: O) else { return false }
        for o in 0..<O {
            for i in 0..<I { w0[o * I + i] = Float(cross[o * wide + i]) }
            if let b = b0 { b[o] = Float(cross[o * wide + I]) }
        }
        return true
    }
}
