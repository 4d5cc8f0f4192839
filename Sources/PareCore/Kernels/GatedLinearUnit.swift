#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The gated MLP activation: out = act(gate) · up, elementwise over N·F values.
//   silu (SwiGLU: Llama, Mistral, Qwen)       act(g) = g · σ(g)
//   geluTanh (GeGLU: Gemma's gelu_pytorch_tanh) act(g) = ½g(1 + tanh(u)) = g · σ(2u),
//                                               u = √(2/π)(g + 0.044715 g³)

public enum GatedActivation: String, Sendable {
    case silu, geluTanh
}

@inlinable @inline(__always)
func sigmoid8(_ x: F8) -> F8 { 1 / (1 + exp8(-x)) }

private let geluC: Float = 0.7978845608028654   // √(2/π)
private let geluK: Float = 0.044715

/// act(g) and act'(g), eight lanes at a time.
@inline(__always)
private func activation8(_ g: F8, _ kind: GatedActivation) -> (value: F8, slope: F8) {
    switch kind {
    case .silu:
        let s = sigmoid8(g)
        return (g * s, s * (1 + g * (1 - s)))
    case .geluTanh:
        let g2 = g * g, s = sigmoid8(2 * geluC * g * (1 + geluK * g2))
        return (g * s, s + g * s * (1 - s) * (2 * geluC) * (1 + 3 * geluK * g2))
    }
}

@inline(__always)
private func activation(_ g: Float, _ kind: GatedActivation) -> (value: Float, slope: Float) {
    switch kind {
    case .silu:
        let s = 1 / (1 + expf(-g))
        return (g * s, s * (1 + g * (1 - s)))
    case .geluTanh:
        let g2 = g * g, s = 1 / (1 + expf(-2 * geluC * g * (1 + geluK * g2)))
        return (g * s, s + g * s * (1 - s) * (2 * geluC) * (1 + 3 * geluK * g2))
    }
}

/// out = act(gate) · up. With `outBF16`, also writes out rounded to bf16 (as `bf16Round`),
/// block by block while the block is in cache: down_proj's bf16 input, rounded in the same pass.
public func gluForward(out: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int,
                       activation kind: GatedActivation = .silu, outBF16: UnsafeMutablePointer<UInt16>? = nil) {
    let profiled = KernelProfile.begin(.elementwise); defer { KernelProfile.end(profiled) }
    let o = UncheckedBox((out, outBF16))
    let blocks = (count + 1023) / 1024
    Parallel.forRange(blocks, costPerItem: 1024 * 8) { b0, b1 in
        let (out, outBF16) = o.value
        for b in b0..<b1 {
            var i = b * 1024
            let start = i, end = min(count, i + 1024)
            while i + 8 <= end { store8(activation8(load8(gate + i), kind).value * load8(up + i), out + i); i += 8 }
            while i < end { out[i] = activation(gate[i], kind).value * up[i]; i += 1 }
            if let outBF16 { bf16RoundOneThread(out: outBF16 + start, inp: out + start, count: end - start) }
        }
    }
}

/// dgate = dout · up · act'(gate), dup = dout · act(gate)  (both overwritten, not accumulated).
/// dgate may be gate and dup may be up (each value is read before it is written).
public func gluBackward(
    dgate: UnsafeMutablePointer<Float>, dup: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
    gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int, activation kind: GatedActivation = .silu
) {
    let profiled = KernelProfile.begin(.elementwise); defer { KernelProfile.end(profiled) }
    let o = UncheckedBox((dgate, dup))
    let blocks = (count + 1023) / 1024
    Parallel.forRange(blocks, costPerItem: 1024 * 10) { b0, b1 in
        let (dgate, dup) = o.value
        var i = b0 * 1024
        let end = min(count, b1 * 1024)
        while i + 8 <= end {
            let (a, da) = activation8(load8(gate + i), kind), d = load8(dout + i)
            store8(d * load8(up + i) * da, dgate + i)
            store8(d * a, dup + i)
            i += 8
        }
        while i < end {
            let (a, da) = activation(gate[i], kind), d = dout[i]
            dgate[i] = d * up[i] * da
            dup[i] = d * a
            i += 1
        }
    }
}

/// The activation in Double, from its textbook form (tanh for GELU).
private func activationNaive(_ g: Double, _ kind: GatedActivation) -> (value: Double, slope: Double) {
    switch kind {
    case .silu:
        let s = 1 / (1 + exp(-g))
        return (g * s, s * (1 + g * (1 - s)))
    case .geluTanh:
        let c = (2 / Double.pi).squareRoot(), t = tanh(c * (g + 0.044715 * g * g * g))
        return (0.5 * g * (1 + t), 0.5 * (1 + t) + 0.5 * g * (1 - t * t) * c * (1 + 3 * 0.044715 * g * g))
    }
}

public func gluForwardNaive(out: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int,
                            activation kind: GatedActivation = .silu) {
    for i in 0..<count { out[i] = Float(activationNaive(Double(gate[i]), kind).value) * up[i] }
}

public func gluBackwardNaive(
    dgate: UnsafeMutablePointer<Float>, dup: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
    gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int, activation kind: GatedActivation = .silu
) {
    for i in 0..<count {
        let (a, da) = activationNaive(Double(gate[i]), kind)
        dgate[i] = dout[i] * up[i] * Float(da)
        dup[i] = dout[i] * Float(a)
    }
}
