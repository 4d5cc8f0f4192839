import ArgumentParser
import PareCore
import PareTrain
#if PARE_MPI
import PareMPI
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The process's place in a data-parallel job: MPI ranks when `mpirun` started an MPI build
/// of pare, else a single process exactly as before.
enum DataParallel {
    nonisolated(unsafe) private static var shared: Communicator?
    #if PARE_MPI
    nonisolated(unsafe) private static var mpi: MPICommunicator?
    #endif

    /// Ranks started by a launcher, from its environment (before MPI is initialised). One rank
    /// (or no launcher) runs as a single process, without MPI.
    static var launcherSize: Int {
        for key in ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"] { if let s = getenvString(key), let n = Int(s) { return n } }
        return 1
    }

    /// Ranks on this machine, for the default thread count (cores are shared between them).
    static var localSize: Int { getenvString("OMPI_COMM_WORLD_LOCAL_SIZE").flatMap { Int($0) } ?? 1 }

    /// The communicator for training commands; initialises MPI on first use under mpirun.
    static func communicator() throws -> Communicator {
        if let c = shared { return c }
        if launcherSize > 1 {
            #if PARE_MPI
            do { mpi = try MPICommunicator() } catch { throw fail(SystemErrorText.describe(error)) }
            shared = mpi
            return mpi!
            #else
            throw fail("started by mpirun with \(launcherSize) ranks, but this pare was built without MPI; build it with `apt-get install -y libopenmpi-dev openmpi-bin && PARE_MPI=1 swift build -c release` (every rank would otherwise train the whole job alone)")
            #endif
        }
        shared = SingleProcess()
        return shared!
    }

    /// Threads per rank when --threads is not given: the cores divided among the local ranks.
    static var defaultThreads: Int {
        if getenvString("PARE_THREADS") != nil { return Parallel.defaultThreads() }
        return max(1, ProcessInfoLite.activeProcessorCount / max(localSize, 1))
    }

    /// Ends MPI after a command succeeded.
    static func finish() {
        #if PARE_MPI
        mpi?.finish()
        #endif
    }

    /// Whether this process is one of several MPI ranks.
    static var isParallel: Bool { (shared?.size ?? 1) > 1 }

    /// After a command failed on this rank: end every rank (the others would wait forever in
    /// their next all-reduce).
    static func abortJob(code: Int32) {
        #if PARE_MPI
        if let m = mpi, m.size > 1 {
            var err = StandardError()
            print("pare: rank \(m.rank) failed; stopping all \(m.size) ranks", to: &err)
            m.abort(code: code)
        }
        #endif
    }
}
