// RMSNorm as in HF LlamaRMSNorm: out = x · rsqrt(mean(x²) + eps) · weight.
// N rows, C channels. rstd (N) is saved for backward.
// `weightOffset` 1 gives Gemma's form, x · rsqrt(…) · (1 + weight): the checkpoint's weight is
// kept as it is (its gradient is the same), and the offset is added where it is read.

/// With `outBF16` (N, C), also writes the output rounded to bf16 (as `bf16Round`), row by row
/// while the row is in cache: the input of the bf16 matmuls that read this norm, rounded once.
public func rmsnormForward(
    out: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
    weight: UnsafePointer<Float>, N: Int, C: Int, eps: Float, weightOffset: Float = 0, outBF16: UnsafeMutablePointer<UInt16>? = nil
) {
    let profiled = KernelProfile.begin(.norms); defer { KernelProfile.end(profiled) }
    let o = UncheckedBox((out, rstd, outBF16))
    Parallel.forRange(N, costPerItem: C * 3) { start, end in
        let (out, rstd, outBF16) = o.value
        for n in start..<end {
            let x = inp + n * C, y = out + n * C
            let r = 1 / (dot(x, x, C) / Float(C) + eps).squareRoot()
            rstd[n] = r
            var c = 0
            let rv = F8(repeating: r), ov = F8(repeating: weightOffset)
            while c + 8 <= C { store8(load8(x + c) * rv * (load8(weight + c) + ov), y + c); c += 8 }
            while c < C { y[c] = x[c] * r * (weight[c] + weightOffset); c += 1 }
            if let outBF16 { bf16RoundOneThread(out: outBF16 + n * C, inp: y, count: C) }
        }
    }
}

/// dinp (N, C) += ∂/∂x;  dweight (C) += Σ_n dout · x · rstd.
public func rmsnormBackward(
    dinp: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>,
    dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    rstd: UnsafePointer<Float>, N: Int, C: Int, weightOffset: Float = 0
) {
    let profiled = KernelProfile.begin(.norms); defer { KernelProfile.end(profiled) }
    // dx = rstd · (dy·w − x · rstd² · mean(dy·w·x)), w = weight + weightOffset
    let d = UncheckedBox(dinp)
    Parallel.forRange(N, costPerItem: C * 6) { start, end in
        let dinp = d.value
        for n in start..<end {
            let x = inp + n * C, dy = dout + n * C, dx = dinp + n * C
            let r = rstd[n]
            var acc = F8()
            var c = 0
            let ov = F8(repeating: weightOffset)
            while c + 8 <= C { acc = acc.addingProduct(load8(dy + c) * (load8(weight + c) + ov), load8(x + c)); c += 8 }
            var s = acc.sum()
            while c < C { s += dy[c] * (weight[c] + weightOffset) * x[c]; c += 1 }
            let k = r * r * r * s / Float(C)
            c = 0
            let rv = F8(repeating: r), kv = F8(repeating: k)
            while c + 8 <= C {
                store8(load8(dx + c) + rv * load8(dy + c) * (load8(weight + c) + ov) - kv * load8(x + c), dx + c)
                c += 8
            }
            while c < C { dx[c] += r * dy[c] * (weight[c] + weightOffset) - k * x[c]; c += 1 }
        }
    }
    // Weight gradient: split by channel blocks so threads never write the same element.
    let dw = UncheckedBox(dweight)
    let blocks = (C + 63) / 64
    Parallel.forRange(blocks, costPerItem: N * 64) { b0, b1 in
        let dweight = dw.value
        let c0 = b0 * 64, c1 = min(C, b1 * 64)
        for n in 0..<N {
            let x = inp + n * C, dy = dout + n * C
            let rv = F8(repeating: rstd[n])
            var c = c0
            while c + 8 <= c1 { store8(load8(dweight + c).addingProduct(load8(dy + c) * load8(x + c), rv), dweight + c); c += 8 }
            while c < c1 { dweight[c] += dy[c] * x[c] * rstd[n]; c += 1 }
        }
    }
}

public func rmsnormForwardNaive(
    out: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
    weight: UnsafePointer<Float>, N: Int, C: Int, eps: Float, weightOffset: Float = 0
) {
    for n in 0..<N {
        var ss: Double = 0
        for c in 0..<C { ss += Double(inp[n * C + c]) * Double(inp[n * C + c]) }
        let r = Float(1 / (ss / Double(C) + Double(eps)).squareRoot())
        rstd[n] = r
        for c in 0..<C { out[n * C + c] = inp[n * C + c] * r * (weight[c] + weightOffset) }
    }
}

public func rmsnormBackwardNaive(
    dinp: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>,
    dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    rstd: UnsafePointer<Float>, N: Int, C: Int, weightOffset: Float = 0
) {
    for n in 0..<N {
        let r = rstd[n]
        var s: Float = 0
        for c in 0..<C { s += dout[n * C + c] * (weight[c] + weightOffset) * inp[n * C + c] }
        for c in 0..<C {
            let i = n * C + c
            dinp[i] += r * dout[i] * (weight[c] + weightOffset) - r * r * r * s / Float(C) * inp[i]
            dweight[c] += dout[i] * inp[i] * r
        }
    }
}
