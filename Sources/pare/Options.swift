import ArgumentParser
import PareCore
import PareRecipes

/// Thread count shared by every command that computes.
struct ThreadOptions: ParsableArguments {
    @Option(help: "Threads for Pare's kernels and BLAS (default: all cores, or PARE_THREADS).")
    var threads: Int?

    func apply() throws {
        Parallel.configure(threads: try checkedThreads(threads, name: "--threads"))
    }
}

/// `--attention blas|onednn` for the step benchmarks: which engine runs attention's products.
struct AttentionEngineOption: ParsableArguments {
    @Option(help: "Attention's products: blas (OpenBLAS per head, the default) or onednn (batched oneDNN matmuls).")
    var attention = "blas"

    func apply() throws {
        guard let e = AttentionEngine(rawValue: attention) else { throw fail("--attention must be blas or onednn, not \"\(attention)\"") }
        guard AttentionEngine.available.contains(e) else { throw fail("--attention onednn needs oneDNN, which this build or machine does not have") }
        AttentionEngine.current = e
    }
}

/// `--precision fp32|bf16` for the bench commands, whose settings are not a job's.
struct PrecisionOption: ParsableArguments {
    @Option(help: "Matmul precision: \(precisionHelp) (default fp32).")
    var precision: String?

    /// The parsed value (nil when absent), as the jobs parse theirs; an unknown name or bf16 on a
    /// machine without it exits with a message.
    func resolved() throws -> Precision? {
        guard let precision else { return nil }
        do { return try PrecisionSetting.parse(precision) } catch { throw fail(RecipeError.message(error, naming: SettingName.flag)) }
    }
}

/// A thread count: at least 1; above twice the cores it is capped there with a warning, since
/// spinning workers on an oversubscribed machine slow every parallel region to a crawl.
func checkedThreads(_ requested: Int?, name: String) throws -> Int {
    guard let n = requested else { return DataParallel.defaultThreads }
    guard n >= 1 else { throw fail("\(name) must be at least 1, not \(n)") }
    let cores = ProcessInfoLite.activeProcessorCount
    if n > 2 * cores {
        var err = StandardError()
        print("pare: warning: \(name) \(n) is more than twice the \(cores) cores; using \(2 * cores)", to: &err)
        return 2 * cores
    }
    return n
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
