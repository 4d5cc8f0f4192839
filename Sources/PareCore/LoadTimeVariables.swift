#if canImport(Glibc)
import Glibc
#endif

/// Settings two libraries read once, while they load, before `main` runs: the only way for
/// the program to choose them is to set them and exec itself again (once, for both).
///
/// - OMP_WAIT_POLICY=PASSIVE, only when Pare's kernels run on a pool of their own
///   (`Parallel.onOpenMPTeam` false): oneDNN runs its matmuls on an OpenMP team (Debian's build
///   uses libgomp), whose threads by default spin for a while after each parallel region, and
///   between two matmuls Pare's own threads need those cores (Zen 4, bf16 training step: 287
///   tokens/s with spinning OpenMP threads, 373 with PASSIVE). On one shared team libgomp's
///   default, a short spin before sleeping, is what keeps the team warm between kernels.
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
        if GEMM.builtWithOneDNN, !Parallel.onOpenMPTeam, getenv("OMP_WAIT_POLICY") == nil {
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
