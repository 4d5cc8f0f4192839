#if canImport(Glibc)
import Glibc
#endif

/// oneDNN runs its matmuls on an OpenMP team (Debian's build uses libgomp). By default
/// libgomp's threads spin for a while after each parallel region, and between two matmuls
/// Pare's own kernels need those cores: a bf16 training step measured 287 tokens/s with
/// spinning OpenMP threads and 373 with `OMP_WAIT_POLICY=PASSIVE` (distillation 310–348 vs
/// 357–392). libgomp reads the variable once, when it loads, before `main` runs, so the only
/// way for the program to set it is to set it and exec itself again.
public enum OpenMPWaitPolicy {
    /// Re-executes the program with OMP_WAIT_POLICY=PASSIVE unless the user set the variable
    /// (theirs is kept) or the build has no oneDNN. Returns only when no exec happened.
    public static func adoptPassive() {
        #if os(Linux)
        guard GEMM.builtWithOneDNN, getenv("OMP_WAIT_POLICY") == nil else { return }
        setenv("OMP_WAIT_POLICY", "PASSIVE", 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // exec failed (no /proc?): carry on with libgomp's default, which is only slower.
        #endif
    }
}
