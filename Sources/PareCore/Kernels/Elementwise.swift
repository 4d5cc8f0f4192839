// Residual adds and other whole-buffer elementwise operations.

/// out = a + b over `count` floats (out may alias a).
public func residualForward(out: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>, count: Int) {
    let profiled = KernelProfile.begin(.elementwise); defer { KernelProfile.end(profiled) }
    let o = UncheckedBox(out)
    Parallel.forRange(count, costPerItem: 1) { s, e in
        let out = o.value
        var i = s
        while i + 8 <= e { store8(load8(a + i) + load8(b + i), out + i); i += 8 }
        while i < e { out[i] = a[i] + b[i]; i += 1 }
    }
}

/// dst += src over `count` floats: the residual's backward sends its gradient to both inputs.
public func accumulate(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, count: Int) {
    let profiled = KernelProfile.begin(.elementwise); defer { KernelProfile.end(profiled) }
    let o = UncheckedBox(dst)
    Parallel.forRange(count, costPerItem: 1) { s, e in axpy(1, src + s, o.value + s, e - s) }
}

/// Σ x² over `count` floats in Double (for gradient norms).
public func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Double {
    let profiled = KernelProfile.begin(.elementwise); defer { KernelProfile.end(profiled) }
    var total: Double = 0
    var i = 0
    while i < count {
        let n = min(65_536, count - i)
        total += Double(dot(x + i, x + i, n))
        i += n
    }
    return total
}

/// x *= alpha
public func scale(_ x: UnsafeMutablePointer<Float>, by alpha: Float, count: Int) {
    let o = UncheckedBox(x)
    Parallel.forRange(count, costPerItem: 1) { s, e in
        let x = o.value
        var i = s
        let a = F8(repeating: alpha)
        while i + 8 <= e { store8(load8(x + i) * a, x + i); i += 8 }
        while i < e { x[i] *= alpha; i += 1 }
    }
}
