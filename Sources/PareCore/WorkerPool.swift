#if canImport(Synchronization) && os(Linux)
import Synchronization
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Persistent worker threads that spin briefly between jobs before sleeping.
///
/// Why: a decode step or a small kernel runs for tens of microseconds, and waking a sleeping
/// GCD worker costs ~10 µs each time — with ~250 parallel regions per decoded token that
/// overhead cancelled the second core entirely. A worker that is still spinning picks a job
/// up in well under a microsecond; after ~200 µs idle it sleeps on a semaphore, so an idle
/// process does not burn CPU. A pool that is replaced must be `shutDown()`: its threads hold it,
/// so dropping the last reference alone would leave them waking every 10 ms forever.
final class WorkerPool: @unchecked Sendable {
    let size: Int                       // threads including the caller
    private let epoch = Atomic<Int>(0)  // bumped once per job
    private let pending = Atomic<Int>(0)
    private final class Flag: Sendable { let value = Atomic<Bool>(false) }
    private let sleeping: [Flag]
    private let wake: [DispatchSemaphore]
    private let busy = Atomic<Bool>(false)
    private let stopping = Atomic<Bool>(false)
    nonisolated(unsafe) private var job: (Int) -> Void = { _ in }
    nonisolated(unsafe) private var jobWidth = 0

    init(threads: Int) {
        size = threads
        sleeping = (0..<threads).map { _ in Flag() }
        wake = (0..<threads).map { _ in DispatchSemaphore(value: 0) }
        for w in 1..<max(threads, 1) {
            let t = Thread { self.workerLoop(w) }
            t.stackSize = 1 << 20
            t.start()
        }
    }

    /// Runs body(k) for k in 0..<width (width ≤ size), k = 0 on the calling thread. Returns
    /// false (running nothing) when the pool is already busy, e.g. a nested call.
    func run(width: Int, _ body: (Int) -> Void) -> Bool {
        guard width <= size, busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        withoutActuallyEscaping(body) { body in
            job = body
            jobWidth = width
            // Every worker acknowledges every job (those beyond `width` do no work), so none
            // can still be reading this job's state when the next one is posted.
            pending.store(size - 1, ordering: .relaxed)
            // Sequentially consistent: with the worker's store-then-load below this is Dekker's
            // pattern, which acquire/release does not order (x86 reorders a store after a load).
            epoch.add(1, ordering: .sequentiallyConsistent)
            for w in 1..<size where sleeping[w].value.exchange(false, ordering: .sequentiallyConsistent) { wake[w].signal() }
            body(0)
            while pending.load(ordering: .acquiring) > 0 { spinPause() }
            // Every worker is done with it: drop the reference before the closure's lifetime ends.
            job = { _ in }
            jobWidth = 0
        }
        busy.store(false, ordering: .releasing)
        return true
    }

    /// Stops the worker threads and waits until each has left its loop. The pool must not be
    /// used afterwards.
    func shutDown() {
        while !busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged { spinPause() }
        pending.store(size - 1, ordering: .relaxed)
        stopping.store(true, ordering: .sequentiallyConsistent)
        epoch.add(1, ordering: .sequentiallyConsistent)
        for w in 1..<max(size, 1) { wake[w].signal() }
        while pending.load(ordering: .acquiring) > 0 { spinPause() }
    }

    private func workerLoop(_ w: Int) {
        // Epoch 0 is the pool's start: a job may be posted before this thread first runs, and
        // loading the epoch here instead would take that job as already seen (the caller then
        // waits forever for its acknowledgement).
        var seen = 0
        while true {
            var spins = 0
            var e = epoch.load(ordering: .acquiring)
            while e == seen {
                spins += 1
                if spins < 20_000 { spinPause() } else {
                    // Sleep; re-check after announcing it so a job posted meanwhile is not missed.
                    // The timed wait is a safety net: even a missed signal costs at most 10 ms.
                    // A timeout with no job goes back to sleep without spinning again: an idle
                    // worker costs one wakeup per 10 ms, not 20k spins per 10 ms.
                    sleeping[w].value.store(true, ordering: .sequentiallyConsistent)
                    if epoch.load(ordering: .sequentiallyConsistent) == seen { _ = wake[w].wait(timeout: .now() + .milliseconds(10)) }
                    sleeping[w].value.store(false, ordering: .sequentiallyConsistent)
                }
                e = epoch.load(ordering: .acquiring)
            }
            seen = e
            if stopping.load(ordering: .acquiring) { pending.subtract(1, ordering: .releasing); return }
            if w < jobWidth { job(w) }
            pending.subtract(1, ordering: .releasing)
        }
    }
}

@inline(__always) func spinPause() {
    #if arch(x86_64)
    // PAUSE via a compiler intrinsic is not exposed; a short dependent loop is a stand-in.
    var x = 0
    for i in 0..<8 { x &+= i }
    _blackHole(x)
    #endif
}
@inline(never) func _blackHole(_ x: Int) {}
#endif
