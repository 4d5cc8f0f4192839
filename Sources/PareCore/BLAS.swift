#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif

/// The one place Pare calls BLAS. Row-major single-precision GEMM:
/// `C (M, N) = alpha · op(A) (M, K) · op(B) (K, N) + beta · C`.
public enum BLAS {
    @inlinable
    public static func sgemm(
        transA: Bool, transB: Bool, M: Int, N: Int, K: Int,
        alpha: Float = 1, A: UnsafePointer<Float>, lda: Int,
        B: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, C: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(M), Int32(N), Int32(K), alpha, A, Int32(lda), B, Int32(ldb), beta, C, Int32(ldc))
    }

    /// Solves A X = B in float64 for symmetric positive definite A (n, n), by LAPACK's
    /// Cholesky (dposv). `b` holds the nrhs right-hand sides as rows (nrhs, n) row-major, which
    /// is LAPACK's column-major (n, nrhs), and receives the solutions the same way. `a` is
    /// overwritten by its factor. Returns false when A is not positive definite.
    public static func solvePositiveDefinite(_ a: inout [Double], _ b: inout [Double], n: Int, nrhs: Int) -> Bool {
        precondition(a.count == n * n && b.count == n * nrhs)
        var uplo: CChar = 76   // "L": A is symmetric, either triangle does
        #if canImport(Accelerate)
        var n32 = __CLPK_integer(n), r32 = __CLPK_integer(nrhs), lda = __CLPK_integer(n), ldb = __CLPK_integer(n), info: __CLPK_integer = 0
        #else
        var n32 = Int32(n), r32 = Int32(nrhs), lda = Int32(n), ldb = Int32(n), info: Int32 = 0
        #endif
        a.withUnsafeMutableBufferPointer { ap in
            b.withUnsafeMutableBufferPointer { bp in dposv_(&uplo, &n32, &r32, ap.baseAddress!, &lda, bp.baseAddress!, &ldb, &info) }
        }
        precondition(info >= 0, "dposv: argument \(-info) is invalid")
        return info == 0
    }

    /// Threads BLAS may use. OpenBLAS's workers spin after each call, so Pare keeps this equal
    /// to its own thread count rather than letting both pools fight over the cores.
    /// The BLAS implementation and kernel in use, e.g. "OpenBLAS 0.3.21 … (core Haswell)":
    /// OpenBLAS picks its kernel at load time (OPENBLAS_CORETYPE overrides the detection),
    /// and the kernel decides most of a training step's speed.
    public static var description: String {
        #if canImport(Accelerate)
        return "Accelerate"
        #else
        let config = String(cString: openblas_get_config())
        let restarted = getenvString(detectedCoreVariable).map { "; OPENBLAS_CORETYPE set by Pare, OpenBLAS had detected \($0)" } ?? ""
        return "\(config) (core \(String(cString: openblas_get_corename()))\(restarted))"
        #endif
    }

    /// Set (to the core OpenBLAS detected) when `pare` restarted itself with OPENBLAS_CORETYPE
    /// because OpenBLAS took the CPU for an older one.
    public static let detectedCoreVariable = "PARE_OPENBLAS_DETECTED_CORE"

    public static func setThreads(_ n: Int) {
        #if !canImport(Accelerate)
        openblas_set_num_threads(Int32(max(1, n)))
        #endif
    }
}
