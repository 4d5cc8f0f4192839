import CMPI
import PareCore
import PareTrain

/// Data parallelism over MPI (Open MPI). Created once per process, when `mpirun` started it.
/// Gradients are all-reduced in place in buckets of `bucketFloats` (MPI counts are 32-bit,
/// and bounded buckets keep Open MPI's shared-memory segments small).
public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int
    public private(set) var communicationSeconds = 0.0
    let bucketFloats: Int

    public init(bucketFloats: Int = 16 << 20) throws {
        var provided: Int32 = 0
        // Collectives are called from the main thread only; the worker pool never calls MPI.
        try check(MPI_Init_thread(nil, nil, Int32(MPI_THREAD_FUNNELED), &provided), "MPI_Init_thread")
        // Errors come back as codes (then Pare stops with a message) instead of aborting silently.
        MPI_Comm_set_errhandler(pare_mpi_comm_world(), pare_mpi_errors_return())
        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(pare_mpi_comm_world(), &r)
        MPI_Comm_size(pare_mpi_comm_world(), &s)
        rank = Int(r); size = Int(s)
        self.bucketFloats = bucketFloats
    }

    public func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws {
        let t0 = ProcessInfoLite.now()
        defer { communicationSeconds += ProcessInfoLite.now() - t0 }
        var offset = 0
        while offset < count {
            let n = min(bucketFloats, count - offset)
            try check(MPI_Allreduce(pare_mpi_in_place(), buffer + offset, Int32(n), pare_mpi_float(), pare_mpi_sum(), pare_mpi_comm_world()),
                      "MPI_Allreduce (gradients)")
            offset += n
        }
    }

    public func allReduceSum(_ values: inout [Double]) throws {
        let t0 = ProcessInfoLite.now()
        defer { communicationSeconds += ProcessInfoLite.now() - t0 }
        let n = Int32(values.count)
        try values.withUnsafeMutableBufferPointer {
            try check(MPI_Allreduce(pare_mpi_in_place(), $0.baseAddress!, n, pare_mpi_double(), pare_mpi_sum(), pare_mpi_comm_world()),
                      "MPI_Allreduce (losses)")
        }
    }

    public func barrier() throws {
        let t0 = ProcessInfoLite.now()
        defer { communicationSeconds += ProcessInfoLite.now() - t0 }
        try check(MPI_Barrier(pare_mpi_comm_world()), "MPI_Barrier")
    }

    /// Ends MPI; call once, after the last collective.
    public func finish() { MPI_Finalize() }

    /// Ends every rank of the job (after an error on this one, so the others do not wait forever).
    public func abort(code: Int32) -> Never {
        MPI_Abort(pare_mpi_comm_world(), code)
        fatalError("MPI_Abort returned")
    }
}

public struct MPIError: Error, CustomStringConvertible {
    public let description: String
}

private func check(_ code: Int32, _ what: String) throws {
    guard code != MPI_SUCCESS else { return }
    var text = [CChar](repeating: 0, count: Int(MPI_MAX_ERROR_STRING) + 1)
    var len: Int32 = 0
    MPI_Error_string(code, &text, &len)
    throw MPIError(description: "\(what) failed: \(String(cString: text)) — another rank probably died; the job stops (rerun with --resume to continue from the last checkpoint)")
}
