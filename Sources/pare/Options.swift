import ArgumentParser
import PareCore

/// Thread count shared by every command that computes.
struct ThreadOptions: ParsableArguments {
    @Option(help: "Threads for Pare's kernels and BLAS (default: all cores, or PARE_THREADS).")
    var threads: Int?

    func apply() {
        Parallel.configure(threads: threads ?? DataParallel.defaultThreads)
    }
}

/// Prints to stderr and exits non-zero: the CLI is the only place that exits.
func fail(_ message: String) -> ExitCode {
    var err = StandardError()
    print("pare: error: \(message)", to: &err)
    return ExitCode.failure
}

struct StandardError: TextOutputStream {
    mutating func write(_ s: String) {
        #if canImport(Glibc)
        fputs(s, stderr)
        #endif
    }
}
#if canImport(Glibc)
import Glibc
#endif
