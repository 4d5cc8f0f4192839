// bfloat16: the top 16 bits of an IEEE f32 (8-bit exponent, 7-bit mantissa). Pare keeps bf16
// values as their bit patterns in UInt16; matmuls read them, everything else stays f32.
#if canImport(COneDNN)
import COneDNN
#endif

/// The bf16 nearest to x (round to nearest, ties to even), as bits; NaN stays a quiet NaN.
@inlinable
public func bf16Bits(_ x: Float) -> UInt16 {
    let b = x.bitPattern
    if x.isNaN { return UInt16(truncatingIfNeeded: b >> 16) | 0x0040 }
    return UInt16(truncatingIfNeeded: (b &+ 0x7FFF &+ ((b >> 16) & 1)) >> 16)
}

/// The f32 a bf16 bit pattern stands for (exact).
@inlinable
public func floatFromBF16Bits(_ h: UInt16) -> Float { Float(bitPattern: UInt32(h) << 16) }

/// out[i] = bf16(inp[i]) over `count` values on every thread. With oneDNN in the build this is
/// a C loop over AVX512_BF16's conversion instruction where the CPU has it (Swift's generic
/// SIMD narrowing compiled to a scalar loop, 3 ns a value); f32 denormals then become zero,
/// as in oneDNN's own conversions.
public func bf16Round(out: UnsafeMutablePointer<UInt16>, inp: UnsafePointer<Float>, count: Int) {
    let profiled = KernelProfile.begin(.bf16Rounding); defer { KernelProfile.end(profiled) }
    let o = UncheckedBox(out)
    Parallel.forRange(count, costPerItem: 1) { s, e in bf16RoundOneThread(out: o.value + s, inp: inp + s, count: e - s) }
}

/// `bf16Round` on the calling thread alone, for kernels that round inside their own parallel loop.
@inline(__always)
func bf16RoundOneThread(out: UnsafeMutablePointer<UInt16>, inp: UnsafePointer<Float>, count: Int) {
    #if canImport(COneDNN)
    pare_bf16_round(out, inp, Int64(count))
    #else
    bf16RoundNaive(out: out, inp: inp, count: count)
    #endif
}

/// The scalar twin of `bf16Round`.
public func bf16RoundNaive(out: UnsafeMutablePointer<UInt16>, inp: UnsafePointer<Float>, count: Int) {
    for i in 0..<count { out[i] = bf16Bits(inp[i]) }
}

/// out[i] = the f32 value of bf16 bits inp[i] (exact) over `count` values on every thread.
public func bf16Widen(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<UInt16>, count: Int) {
    let profiled = KernelProfile.begin(.bf16Rounding); defer { KernelProfile.end(profiled) }
    let o = UncheckedBox(out)
    Parallel.forRange(count, costPerItem: 1) { s, e in bf16WidenNaive(out: o.value + s, inp: inp + s, count: e - s) }
}

/// The scalar loop of `bf16Widen` (the compiler vectorises it: a zero-extend and a shift).
public func bf16WidenNaive(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<UInt16>, count: Int) {
    for i in 0..<count { out[i] = floatFromBF16Bits(inp[i]) }
}

/// An owned, 64-byte-aligned array of bf16 bit patterns: a model's low-precision weight copy,
/// or matmul scratch.
public final class BF16Buffer: @unchecked Sendable {
    public let count: Int
    public let pointer: UnsafeMutablePointer<UInt16>

    public init(count: Int) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 2, alignment: 64)
        pointer = raw.bindMemory(to: UInt16.self, capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }
}
