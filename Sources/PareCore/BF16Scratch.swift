import Foundation

/// Reusable bf16 buffers for the activations a bf16 matmul rounds on the way in. A step uses
/// a handful of sizes over and over; buffers are kept and grown, never freed, so a step
/// allocates nothing after the first. Thread-safe (a lock around the free list).
public enum BF16Scratch {
    nonisolated(unsafe) private static var free: [BF16Buffer] = []
    private static let lock = NSLock()

    /// Runs `body` with a buffer of at least `count` bf16 values, valid only during the call.
    public static func with<R>(count: Int, _ body: (UnsafeMutablePointer<UInt16>) throws -> R) rethrows -> R {
        lock.lock()
        // The smallest free buffer that fits, else a new one (the smallest free one is
        // replaced so the list does not grow with every new size).
        var pick: Int? = nil
        for (i, b) in free.enumerated() where b.count >= count && (pick == nil || b.count < free[pick!].count) { pick = i }
        let buffer: BF16Buffer
        if let pick { buffer = free.remove(at: pick) }
        else {
            if free.count >= 4, let i = free.indices.min(by: { free[$0].count < free[$1].count }) { free.remove(at: i) }
            buffer = BF16Buffer(count: count)
        }
        lock.unlock()
        defer { lock.lock(); free.append(buffer); lock.unlock() }
        return try body(buffer.pointer)
    }
}
