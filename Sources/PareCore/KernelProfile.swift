#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a kernel's time is counted as in `pare bench train|distill --breakdown`.
public enum KernelFamily: Int, CaseIterable, Sendable {
    case matmul, attention, norms, elementwise, bf16Rounding, loss, optimizer
    public var label: String {
        switch self {
        case .matmul: return "matmul (GEMM)"
        case .attention: return "attention"
        case .norms: return "norms"
        case .elementwise: return "elementwise (RoPE, SwiGLU, residual, embedding)"
        case .bf16Rounding: return "bf16 rounding and widening"
        case .loss: return "loss (cross-entropy, KD)"
        case .optimizer: return "optimizer (AdamW, bf16 weight refresh, grad norm)"
        }
    }
}

/// Wall time per kernel family, for the breakdown of a step. Off (one branch per kernel call)
/// unless a benchmark turns it on. Time is exclusive: a kernel that calls another (a bf16
/// matmul rounding its input) is charged only for its own part, so the families add up to
/// the time spent inside kernels, and the rest of the step (zeroing, copies) is what is left.
/// Only the thread that turned it on is counted: kernels are called from one thread and
/// parallelise inside, so this is the step's wall time.
public enum KernelProfile {
    nonisolated(unsafe) private static var owner: pthread_t? = nil
    nonisolated(unsafe) private static var seconds = [Double](repeating: 0, count: KernelFamily.allCases.count)
    nonisolated(unsafe) private static var gemmFlops: Double = 0
    /// The open sections, innermost last, and when the innermost one's clock (re)started.
    nonisolated(unsafe) private static var stack: [KernelFamily] = []
    nonisolated(unsafe) private static var since: Double = 0

    /// Starts counting on the calling thread, from zero.
    public static func start() {
        owner = pthread_self()
        seconds = seconds.map { _ in 0 }; gemmFlops = 0; stack = []
    }

    /// Stops counting and returns seconds per family and the GEMM FLOPs seen.
    public static func stop() -> (seconds: [KernelFamily: Double], gemmFlops: Double) {
        owner = nil
        var out: [KernelFamily: Double] = [:]
        for f in KernelFamily.allCases { out[f] = seconds[f.rawValue] }
        return (out, gemmFlops)
    }

    @inline(__always) private static var counting: Bool {
        guard let o = owner else { return false }
        return pthread_equal(o, pthread_self()) != 0
    }

    /// Opens a section of `family`; pair with `end(_:)` (use `defer`). Returns whether it counts.
    @inline(__always) public static func begin(_ family: KernelFamily) -> Bool {
        guard counting else { return false }
        let now = ProcessInfoLite.now()
        if let parent = stack.last { seconds[parent.rawValue] += now - since }
        stack.append(family); since = now
        return true
    }

    @inline(__always) public static func end(_ counted: Bool) {
        guard counted, let f = stack.popLast() else { return }
        let now = ProcessInfoLite.now()
        seconds[f.rawValue] += now - since; since = now
    }

    /// Adds a GEMM's floating-point operations (2·M·N·K), so matmul time becomes GFLOP/s.
    @inline(__always) public static func countGemm(M: Int, N: Int, K: Int) {
        guard counting else { return }
        gemmFlops += 2 * Double(M) * Double(N) * Double(K)
    }
}
