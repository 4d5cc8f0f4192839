#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An owned, 64-byte-aligned, zero-initialised array of floats: the storage behind every
/// flat parameter, gradient, optimizer-state and activation buffer.
public final class FloatBuffer: @unchecked Sendable {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>
    /// Page ranges given back by `release` (start address, bytes), made readable again on deinit.
    private var released: [(UnsafeMutableRawPointer, Int)] = []

    public init(count: Int) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit {
        for (start, bytes) in released { mprotect(start, bytes, PROT_READ | PROT_WRITE) }
        UnsafeMutableRawPointer(pointer).deallocate()
    }

    /// Gives the memory pages lying wholly inside elements `range` back to the system and makes
    /// them unreadable: for values that now live elsewhere (a read-only model's matrices kept in
    /// bf16 only). A later read or write of those pages stops the process at once instead of
    /// seeing zeros. The up-to-two partial pages at the ends stay. Returns the bytes released.
    @discardableResult
    public func release(_ range: Range<Int>) -> Int {
        precondition(range.lowerBound >= 0 && range.upperBound <= count)
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let lo = (Int(bitPattern: pointer + range.lowerBound) + page - 1) / page * page
        let hi = Int(bitPattern: pointer + range.upperBound) / page * page
        guard hi > lo, let start = UnsafeMutableRawPointer(bitPattern: lo) else { return 0 }
        // Unreadable first: if the system refuses (e.g. out of memory mappings), the values stay
        // where they are rather than turning into zeros.
        guard mprotect(start, hi - lo, PROT_NONE) == 0 else { return 0 }
        released.append((start, hi - lo))
        #if canImport(Darwin)
        madvise(start, hi - lo, MADV_FREE)
        #else
        madvise(start, hi - lo, MADV_DONTNEED)
        #endif
        return hi - lo
    }

    public var buffer: UnsafeMutableBufferPointer<Float> { .init(start: pointer, count: count) }
    /// Sets every value to 0, on all of Pare's threads (a model's gradients are ~0.5 GB; one
    /// core's stores do not reach the memory bandwidth two do).
    public func zero() {
        let p = UncheckedBox(pointer)
        Parallel.forRange(count, costPerItem: 1) { s, e in (p.value + s).update(repeating: 0, count: e - s) }
    }
    public func toArray() -> [Float] { Array(buffer) }
    public subscript(i: Int) -> Float {
        get { pointer[i] }
        set { pointer[i] = newValue }
    }
}
