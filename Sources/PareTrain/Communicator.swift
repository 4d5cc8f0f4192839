/// The processes of a data-parallel job. Each rank trains on its own shard of every global
/// batch; gradients and loss sums are summed across ranks, so the numbers are those of one
/// process taking the whole batch. `SingleProcess` is the default; PareMPI supplies MPI.
public protocol Communicator: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    /// Sums `count` floats across ranks, in place (every rank gets the sum).
    func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws
    /// Sums doubles across ranks, in place.
    func allReduceSum(_ values: inout [Double]) throws
    /// Waits until every rank arrives (e.g. until rank 0 has written a checkpoint).
    func barrier() throws
    /// Seconds spent inside collectives so far (reported per step).
    var communicationSeconds: Double { get }
}

extension Communicator {
    public var isRoot: Bool { rank == 0 }
}

/// One process: every collective is the identity.
public final class SingleProcess: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws {}
    public func allReduceSum(_ values: inout [Double]) throws {}
    public func barrier() throws {}
    public var communicationSeconds: Double { 0 }
}
