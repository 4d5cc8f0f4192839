#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The softmax of the project, one row of V logits at a time, max-shifted, in SIMD: the
// cross-entropy, the KD losses and the sampler all call these. `scale` is 1/τ for a
// temperature τ. The naive twins are the Double versions beside each caller's kernel.

/// log Σ_j exp(scale · row[j]). The sum is accumulated in Double: in Float, each of a
/// vocabulary's ~50,000 small terms is rounded against a running sum near 1 and the ones below
/// half an ulp are dropped, so the sum came out low by a few parts per million every time — a
/// bias, not noise: piqa's longest continuations (ll ≈ −360) scored up to 1.9e-3 above an fp64
/// forward with a float64 log-softmax; summed in Double, within 1.5e-4 (200 sampled requests).
@inlinable
public func logSumExpRow(_ row: UnsafePointer<Float>, _ V: Int, scale: Float = 1) -> Float {
    var mv = F8(repeating: -.infinity)
    var j = 0
    while j + 8 <= V { mv = max8(mv, load8(row + j)); j += 8 }
    var m = mv.max()
    while j < V { m = max(m, row[j]); j += 1 }
    let mm = F8(repeating: m), sc = F8(repeating: scale)
    var sv = SIMD8<Double>()
    j = 0
    while j + 8 <= V { sv += SIMD8<Double>(exp8((load8(row + j) - mm) * sc)); j += 8 }
    var s = sv.sum()
    while j < V { s += Double(expf((row[j] - m) * scale)); j += 1 }
    return m * scale + Float(log(s))
}

/// out[j] = log softmax(scale · z)[j] (out may be z).
@inlinable
public func logSoftmaxRow(out: UnsafeMutablePointer<Float>, _ z: UnsafePointer<Float>, _ V: Int, scale: Float = 1) {
    let lse = logSumExpRow(z, V, scale: scale)
    let lv = F8(repeating: lse), sc = F8(repeating: scale)
    var j = 0
    while j + 8 <= V { store8(load8(z + j) * sc - lv, out + j); j += 8 }
    while j < V { out[j] = z[j] * scale - lse; j += 1 }
}
