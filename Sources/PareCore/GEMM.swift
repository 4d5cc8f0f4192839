#if canImport(COneDNN)
import COneDNN
#endif

/// The arithmetic a model's matmuls run in. `bf16` is mixed precision as NeMo/Megatron and
/// PyTorch autocast do it: matmul inputs (activations and weights) rounded to bf16, products
/// accumulated and written in f32; master weights, gradients, optimizer state, norms,
/// softmax, RoPE and losses stay f32.
public enum Precision: String, Sendable, Codable, CaseIterable {
    case fp32, bf16
}

public enum PrecisionError: Error, CustomStringConvertible {
    case bf16Unavailable(String)
    public var description: String {
        switch self {
        case .bf16Unavailable(let why): return "bf16 is not available: \(why); use --precision fp32 (precision: fp32)"
        }
    }
}

/// The one place Pare multiplies matrices: row-major, BLAS-style
/// `C (M, N) = alpha · op(A) (M, K) · op(B) (K, N) + beta · C`, C in f32.
///
/// f32 goes to oneDNN's matmul when Pare was built with it (it measured faster than
/// OpenBLAS's sgemm on every training shape; `pare bench sgemm` shows both), else to CBLAS.
/// bf16 needs oneDNN and a CPU with native bf16 dot products (AVX512_BF16 or AMX): oneDNN's
/// reference fallback on other CPUs is tens of times slower, so Pare refuses instead.
public enum GEMM {
    public enum Backend: String, Sendable { case cblas, onednn }

    /// Where f32 GEMMs run (settable for benchmarks and tests).
    nonisolated(unsafe) public static var f32Backend: Backend = oneDNNAvailable ? .onednn : .cblas

    /// Whether this build links oneDNN (without starting it).
    public static let builtWithOneDNN: Bool = {
        #if canImport(COneDNN)
        return true
        #else
        return false
        #endif
    }()

    public static let oneDNNAvailable: Bool = {
        #if canImport(COneDNN)
        return pare_onednn_init() == 0
        #else
        return false
        #endif
    }()

    /// Why bf16 cannot run here, or nil when it can.
    public static let bf16Unavailability: String? = {
        #if canImport(COneDNN)
        guard oneDNNAvailable else { return "oneDNN's CPU engine did not start" }
        guard pare_onednn_native_bf16() != 0 else {
            return "this CPU has no native bf16 instructions (needs AVX512_BF16 or AMX; oneDNN sees \(String(cString: pare_onednn_description())))"
        }
        return nil
        #else
        return "this build of Pare has no oneDNN (install libdnnl-dev, e.g. with scripts/setup, and rebuild)"
        #endif
    }()

    /// Throws a clear error when `precision` cannot run on this machine.
    public static func check(_ precision: Precision) throws {
        if precision == .bf16, let why = bf16Unavailability { throw PrecisionError.bf16Unavailable(why) }
    }

    /// e.g. "f32 GEMM: oneDNN 2.6.3 (avx512_core_bf16); bf16 GEMM: native, oneDNN 2.6.3 (avx512_core_bf16)".
    public static var description: String {
        #if canImport(COneDNN)
        let dnnl = oneDNNAvailable ? String(cString: pare_onednn_description()) : "oneDNN unavailable"
        #else
        let dnnl = "no oneDNN in this build"
        #endif
        let f32 = f32Backend == .onednn ? dnnl : BLAS.description
        return "f32 GEMM: \(f32); bf16 GEMM: \(bf16Unavailability == nil ? "native, \(dnnl)" : "unavailable"); "
            + "Pare's kernels on \(Parallel.onOpenMPTeam ? "oneDNN's OpenMP team" : "a pool of their own")"
    }

    /// The implementation oneDNN picked for the latest new f32 or bf16 shape (e.g. "brg:avx512_core_bf16").
    public static func lastImplementation(_ precision: Precision) -> String {
        #if canImport(COneDNN)
        return String(cString: pare_onednn_last_impl(precision == .bf16 ? 1 : 0))
        #else
        return ""
        #endif
    }

    static func setThreads(_ n: Int) {
        #if canImport(COneDNN)
        pare_onednn_set_threads(Int32(n))
        #endif
    }

    /// C (M, N) = alpha · op(A) (M, K) · op(B) (K, N) + beta · C, row-major, in f32 (`T` is
    /// Float) or bf16 (`T` is UInt16: bf16 bit patterns, products accumulated in f32; call
    /// only after `check(.bf16)` succeeded).
    @inlinable
    public static func gemm<T: GEMMInput>(
        transA: Bool, transB: Bool, M: Int, N: Int, K: Int,
        alpha: Float = 1, A: UnsafePointer<T>, lda: Int,
        B: UnsafePointer<T>, ldb: Int,
        beta: Float = 0, C: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        KernelProfile.countGemm(M: M, N: N, K: K)
        #if canImport(COneDNN)
        if T.isBF16 || f32Backend == .onednn {
            onednn(transA, transB, M, N, K, alpha, UnsafeRawPointer(A), lda, UnsafeRawPointer(B), ldb, beta, C, ldc, bf16: T.isBF16)
            return
        }
        #else
        precondition(!T.isBF16, "bf16 GEMM without oneDNN: GEMM.check(.bf16) must be called first")
        #endif
        func f32(_ p: UnsafePointer<T>) -> UnsafePointer<Float> { UnsafeRawPointer(p).assumingMemoryBound(to: Float.self) }
        BLAS.sgemm(transA: transA, transB: transB, M: M, N: N, K: K, alpha: alpha, A: f32(A), lda: lda, B: f32(B), ldb: ldb, beta: beta, C: C, ldc: ldc)
    }

    /// One operand of `batchedSgemm`: where it starts, and its dims and element strides,
    /// outermost first (the last two are the matrix's rows and columns).
    public struct Strided<P> {
        public var pointer: P, dims: [Int], strides: [Int]
        public init(_ pointer: P, dims: [Int], strides: [Int]) { self.pointer = pointer; self.dims = dims; self.strides = strides }
    }

    /// A batched f32 product over strided operands in one oneDNN call: C (…, M, N) = alpha ·
    /// A (…, M, K) · B (…, K, N) + beta · C, 3 to 5 dims each; a batch dim of A or B may be 1
    /// (the same matrix for every C along it, though oneDNN 2.6 runs that on its reference code,
    /// ~100× slower). Call only when `oneDNNAvailable`.
    public static func batchedSgemm(A: Strided<UnsafePointer<Float>>, B: Strided<UnsafePointer<Float>>, C: Strided<UnsafeMutablePointer<Float>>,
                                    alpha: Float = 1, beta: Float = 0) {
        #if canImport(COneDNN)
        let n = C.dims.count
        precondition(A.dims.count == n && B.dims.count == n && A.strides.count == n && B.strides.count == n && C.strides.count == n)
        let status = A.dims.map(Int64.init).withUnsafeBufferPointer { ad in A.strides.map(Int64.init).withUnsafeBufferPointer { astr in
            B.dims.map(Int64.init).withUnsafeBufferPointer { bd in B.strides.map(Int64.init).withUnsafeBufferPointer { bstr in
                C.dims.map(Int64.init).withUnsafeBufferPointer { cd in C.strides.map(Int64.init).withUnsafeBufferPointer { cstr in
                    pare_onednn_batched_gemm(Int32(n), ad.baseAddress, astr.baseAddress, A.pointer, bd.baseAddress, bstr.baseAddress, B.pointer,
                                             cd.baseAddress, cstr.baseAddress, C.pointer, alpha, beta, Int32(PARE_ONEDNN_F32))
                } }
            } }
        } }
        precondition(status == 0, "oneDNN batched matmul A \(A.dims)/\(A.strides) B \(B.dims)/\(B.strides) C \(C.dims)/\(C.strides) failed with dnnl status \(status)")
        #else
        preconditionFailure("batched GEMM without oneDNN: check GEMM.oneDNNAvailable first")
        #endif
    }

    #if canImport(COneDNN)
    @usableFromInline
    static func onednn(_ transA: Bool, _ transB: Bool, _ M: Int, _ N: Int, _ K: Int, _ alpha: Float,
                       _ A: UnsafeRawPointer, _ lda: Int, _ B: UnsafeRawPointer, _ ldb: Int, _ beta: Float,
                       _ C: UnsafeMutablePointer<Float>, _ ldc: Int, bf16: Bool) {
        let status = pare_onednn_gemm(transA ? 1 : 0, transB ? 1 : 0, Int64(M), Int64(N), Int64(K), alpha, A, Int64(lda), B, Int64(ldb),
                                      beta, C, Int64(ldc), Int32(bf16 ? PARE_ONEDNN_BF16 : PARE_ONEDNN_F32))
        // Shapes and strides come from Pare's own layouts: a refusal here is a bug, not an input error.
        precondition(status == 0, "oneDNN matmul \(bf16 ? "bf16" : "f32") \(transA ? "T" : "N")\(transB ? "T" : "N") M=\(M) N=\(N) K=\(K) lda=\(lda) ldb=\(ldb) ldc=\(ldc) failed with dnnl status \(status)")
    }
    #endif
}

/// What GEMM multiplies: f32, or bf16 bit patterns (UInt16).
public protocol GEMMInput { static var isBF16: Bool { get } }
extension Float: GEMMInput { @inlinable public static var isBF16: Bool { false } }
extension UInt16: GEMMInput { @inlinable public static var isBF16: Bool { true } }
