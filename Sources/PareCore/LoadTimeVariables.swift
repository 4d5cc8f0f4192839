#if canImport(Glibc)
import Glibc
#endif

/// Settings two libraries read once, while they load, before `main` runs: the only way for
/// the program to choose them is to set them and exec itself again (once, for both).
///
/// - OMP_WAIT_POLICY=PASSIVE: oneDNN runs its matmuls on an OpenMP team (Debian's build uses
///   libgomp), whose threads by default spin for a while after each parallel region; between two
///   matmuls Pare's own kernels need those cores: a bf16 training step measured 287 tokens/s
///   with spinning OpenMP threads and 373 with PASSIVE (distillation 310–348 vs 357–392).
/// - OPENBLAS_CORETYPE, when OpenBLAS took the CPU for an older one (`BLASKernelCheck`): its
///   kernel for the CPU's vector units instead of SSE3 code.
///
/// A variable the user set is kept.
public enum LoadTimeVariables {
    /// Re-executes the program when a variable needs setting. Returns only when no exec
    /// happened (nothing to set, or exec failed: then the defaults, which are only slower).
    public static func adopt() {
        #if os(Linux)
        var changed = false
        if GEMM.builtWithOneDNN, getenv("OMP_WAIT_POLICY") == nil {
            setenv("OMP_WAIT_POLICY", "PASSIVE", 1); changed = true
        }
        if case let .misdetected(core, _, suggested) = BLASKernelCheck.current {
            setenv("OPENBLAS_CORETYPE", suggested, 1)
            setenv(BLAS.detectedCoreVariable, core, 1)   // so `BLAS.description` can say what happened
            changed = true
        }
        if changed { execv("/proc/self/exe", CommandLine.unsafeArgv) }
        #endif
    }
}
