import Dispatch
#if canImport(COneDNN)
import COneDNN
#endif

/// Row-chunked parallel-for. Dispatch costs ~1 µs a call, so work is split into at most
/// `Parallel.threads` contiguous chunks of rows, never per element.
public enum Parallel {
    /// Threads used by Pare's own kernels (and, via `configure`, by BLAS).
    nonisolated(unsafe) public static var threads: Int = defaultThreads()

    public static func defaultThreads() -> Int {
        if let s = getenvString("PARE_THREADS"), let n = Int(s), n > 0 { return n }
        return ProcessInfoLite.activeProcessorCount
    }

    /// Sets the thread count for Pare's kernels and BLAS together.
    public static func configure(threads n: Int) {
        threads = max(1, n)
        BLAS.setThreads(threads)
        GEMM.setThreads(threads)
        #if canImport(Synchronization) && os(Linux)
        if onOpenMPTeam { return }
        if pool?.size != threads {
            pool?.shutDown()   // its threads would otherwise outlive it, waking every 10 ms
            pool = threads > 1 ? WorkerPool(threads: threads) : nil
        }
        #endif
    }

    #if canImport(Synchronization) && os(Linux)
    nonisolated(unsafe) static var pool: WorkerPool? = nil
    #endif

    /// Whether Pare's kernels run on oneDNN's OpenMP team instead of a pool of their own
    /// (pare_openmp.h says why). Chosen by measurement: on a CPU with AMX, where a matmul takes
    /// a fraction of a millisecond and waking a sleeping team was a large share of it, the
    /// shared team made the bf16 train step 1.35× faster (Emerald Rapids); without AMX it was
    /// slower (Zen 4: fp32 train step −4%, bf16 −1%, alternating runs), so the pool stays there.
    /// PARE_PARALLEL=team or =pool overrides.
    public static let onOpenMPTeam: Bool = {
        #if canImport(COneDNN)
        switch getenvString("PARE_PARALLEL") {
        case "pool": return false
        case "team": return pare_openmp_available() != 0
        default: return pare_openmp_available() != 0 && pare_onednn_has_amx() != 0
        }
        #else
        return false
        #endif
    }()

    #if canImport(COneDNN)
    /// Runs body(k) for k in 0..<width on the OpenMP team, k = 0 on the calling thread.
    private static func runOnOpenMPTeam(width: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            var job = body
            withUnsafeMutablePointer(to: &job) { p in
                pare_openmp_run(Int32(width), { ctx, c in ctx!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(Int(c)) }, p)
            }
        }
    }
    #endif

    /// Calls `body(start, end)` on disjoint ranges covering `0..<count`. Runs inline when
    /// the work is too small (`count * costPerItem` below ~32K ops) to pay for a dispatch.
    public static func forRange(_ count: Int, costPerItem: Int = 1, _ body: (Int, Int) -> Void) {
        let chunks = min(threads, count, max(1, count * costPerItem / 32_768))
        if chunks <= 1 {
            if count > 0 { body(0, count) }
            return
        }
        /// Chunk c of `chunks` contiguous ones.
        func chunk(_ c: Int) { body(count * c / chunks, count * (c + 1) / chunks) }
        #if canImport(COneDNN)
        if onOpenMPTeam { return runOnOpenMPTeam(width: chunks, chunk) }
        #endif
        #if canImport(Synchronization) && os(Linux)
        if let pool, chunks <= pool.size, pool.run(width: chunks, chunk) { return }
        #endif
        withoutActuallyEscaping(chunk) { chunk in
            let box = UncheckedBox(chunk)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in box.value(c) }
        }
    }
}

/// Lets `@Sendable` closures capture pointers and non-Sendable closures whose disjoint use
/// the caller guarantees.
public struct UncheckedBox<T>: @unchecked Sendable {
    public let value: T
    @inlinable public init(_ value: T) { self.value = value }
}
