// Decoupled-weight-decay Adam (Loshchilov & Hutter; torch.optim.AdamW's update order):
//   p ← p − lr·wd·p;  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
//   p ← p − lr · (m / (1−β1ᵗ)) / (sqrt(v / (1−β2ᵗ)) + eps)

public struct AdamWHyper: Sendable {
    public var lr: Float, beta1: Float, beta2: Float, eps: Float, weightDecay: Float
    public init(lr: Float, beta1: Float = 0.9, beta2: Float = 0.95, eps: Float = 1e-8, weightDecay: Float = 0.1) {
        self.lr = lr; self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
    }
}

/// Updates `count` parameters in place at step `t` (1-based); `decay` false skips weight decay.
/// With `bf16Copy`, also writes the updated parameters' bf16 copy (rounded as `bf16Round`),
/// block by block while the block is still in cache: the bf16 model's weight refresh in the
/// same pass over memory instead of a second one.
public func adamwUpdate(
    params: UnsafeMutablePointer<Float>, grads: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>,
    v: UnsafeMutablePointer<Float>, count: Int, hyper h: AdamWHyper, step t: Int, decay: Bool,
    bf16Copy: UnsafeMutablePointer<UInt16>? = nil
) {
    let profiled = KernelProfile.begin(.optimizer); defer { KernelProfile.end(profiled) }
    // Bias corrections in Double, as torch computes them in Python floats.
    let bc1 = 1 - pow(Double(h.beta1), Double(t)), bc2 = 1 - pow(Double(h.beta2), Double(t))
    let stepSize = Float(Double(h.lr) / bc1)
    let bc2Sqrt = Float(bc2.squareRoot())
    let keep = decay ? 1 - h.lr * h.weightDecay : 1
    let box = UncheckedBox((params, m, v, bf16Copy))
    Parallel.forRange(count, costPerItem: 8) { s0, e0 in
        let (p, m, v, copy) = box.value
        let b1 = F8(repeating: h.beta1), b2 = F8(repeating: h.beta2)
        let ob1 = F8(repeating: 1 - h.beta1), ob2 = F8(repeating: 1 - h.beta2)
        let kv = F8(repeating: keep), ss = F8(repeating: stepSize), bc = F8(repeating: bc2Sqrt), ep = F8(repeating: h.eps)
        // Blocks of 4096 parameters (64 KiB over each of p, g, m, v): the bf16 copy then reads p from cache.
        for s in stride(from: s0, to: e0, by: 4096) {
            let e = min(e0, s + 4096)
            var i = s
            while i + 8 <= e {
                let g = load8(grads + i)
                let mi = b1 * load8(m + i) + ob1 * g
                let vi = b2 * load8(v + i) + ob2 * g * g
                store8(mi, m + i); store8(vi, v + i)
                store8(load8(p + i) * kv - ss * mi / (vi.squareRoot() / bc + ep), p + i)
                i += 8
            }
            while i < e {
                let g = grads[i]
                m[i] = h.beta1 * m[i] + (1 - h.beta1) * g
                v[i] = h.beta2 * v[i] + (1 - h.beta2) * g * g
                p[i] = p[i] * keep - stepSize * m[i] / (v[i].squareRoot() / bc2Sqrt + h.eps)
                i += 1
            }
            if let copy { bf16RoundOneThread(out: copy + s, inp: p + s, count: e - s) }
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
