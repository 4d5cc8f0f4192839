// SwiGLU MLP activation: out = silu(gate) · up, elementwise over N·F values.

@inlinable @inline(__always)
func sigmoid8(_ x: F8) -> F8 { 1 / (1 + exp8(-x)) }

/// With `outBF16`, also writes out rounded to bf16 (as `bf16Round`), block by block while the
/// block is in cache: down_proj's bf16 input, rounded in the same pass.
public func swigluForward(out: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int,
                          outBF16: UnsafeMutablePointer<UInt16>? = nil) {
    let profiled = KernelProfile.begin(.elementwise); defer { KernelProfile.end(profiled) }
    let o = UncheckedBox((out, outBF16))
    let blocks = (count + 1023) / 1024
    Parallel.forRange(blocks, costPerItem: 1024 * 8) { b0, b1 in
        let (out, outBF16) = o.value
        for b in b0..<b1 {
            var i = b * 1024
            let start = i, end = min(count, i + 1024)
            while i + 8 <= end {
                let g = load8(gate + i)
                store8(g * sigmoid8(g) * load8(up + i), out + i)
                i += 8
            }
            while i < end { let g = gate[i]; out[i] = g / (1 + expf(-g)) * up[i]; i += 1 }
            if let outBF16 { bf16RoundOneThread(out: outBF16 + start, inp: out + start, count: end - start) }
        }
    }
}

/// dgate = dout · up · silu'(gate), dup = dout · silu(gate)  (both overwritten, not accumulated).
/// dgate may be gate and dup may be up (each value is read before it is written).
public func swigluBackward(
    dgate: UnsafeMutablePointer<Float>, dup: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
    gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int
) {
    let profiled = KernelProfile.begin(.elementwise); defer { KernelProfile.end(profiled) }
    let o = UncheckedBox((dgate, dup))
    let blocks = (count + 1023) / 1024
    Parallel.forRange(blocks, costPerItem: 1024 * 10) { b0, b1 in
        let (dgate, dup) = o.value
        var i = b0 * 1024
        let end = min(count, b1 * 1024)
        while i + 8 <= end {
            let g = load8(gate + i), s = sigmoid8(g), d = load8(dout + i)
            // silu'(g) = s · (1 + g · (1 − s))
            store8(d * load8(up + i) * s * (1 + g * (1 - s)), dgate + i)
            store8(d * g * s, dup + i)
            i += 8
        }
        while i < end {
            let g = gate[i], s = 1 / (1 + expf(-g)), d = dout[i]
            dgate[i] = d * up[i] * s * (1 + g * (1 - s))
            dup[i] = d * g * s
            i += 1
        }
    }
}

public func swigluForwardNaive(out: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int) {
    for i in 0..<count { let g = Double(gate[i]); out[i] = Float(g / (1 + exp(-g))) * up[i] }
}

public func swigluBackwardNaive(
    dgate: UnsafeMutablePointer<Float>, dup: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
    gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int
) {
    for i in 0..<count {
        let g = Double(gate[i]), s = 1 / (1 + exp(-g))
        dgate[i] = dout[i] * up[i] * Float(s * (1 + g * (1 - s)))
        dup[i] = dout[i] * Float(g * s)
    }
}
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
