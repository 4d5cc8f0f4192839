// Vector helpers shared by the kernels. Marked @inlinable so other modules' hot loops
// specialise them (a non-inlinable generic call from another module ran 21× slower).

public typealias F8 = SIMD8<Float>

@inlinable @inline(__always)
public func load8(_ p: UnsafePointer<Float>) -> F8 {
    UnsafeRawPointer(p).loadUnaligned(as: F8.self)
}

@inlinable @inline(__always)
public func store8(_ v: F8, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: F8.self)
}

/// Cephes-style exp on 8 lanes; matches `expf` to ~3e-7 relative over the clamped range.
/// n = round(x·log2 e) comes from the 1.5·2²³ magic-number trick rather than a
/// Float→Int32 vector conversion, which Swift lowers to a slow generic per-lane path.
@inlinable @inline(__always)
public func exp8(_ xIn: F8) -> F8 {
    var x = xIn.replacing(with: 88.3762626647949, where: xIn .> 88.3762626647949)
    x.replace(with: -87.3365447504, where: x .< -87.3365447504)
    let magic = F8(repeating: 12_582_912)          // 1.5 · 2²³: adding it rounds to an integer
    let t = x * 1.44269504088896341 + magic
    let n = t - magic                                // round(x · log2 e), as a float
    x = x - n * 0.693359375
    x = x + n * 2.12194440e-4
    let z = x * x
    var y = F8(repeating: 1.9875691500E-4)
    y = y * x + 1.3981999507E-3
    y = y * x + 8.3334519073E-3
    y = y * x + 4.1665795894E-2
    y = y * x + 1.6666665459E-1
    y = y * x + 5.0000001201E-1
    y = y * z + x + 1
    // The low mantissa bits of t hold n (two's complement): build 2ⁿ's exponent from them.
    let bits = unsafeBitCast(t, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self)
    let pow2 = unsafeBitCast((bits &+ 127) &<< 23, to: F8.self)
    return y * pow2
}

@inlinable @inline(__always)
public func max8(_ a: F8, _ b: F8) -> F8 { a.replacing(with: b, where: b .> a) }

/// Σ a·b over n elements, SIMD accumulated (scalar reductions are not vectorised).
@inlinable
public func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = F8(), acc1 = F8()
    var i = 0
    while i + 16 <= n {
        acc0 = acc0.addingProduct(load8(a + i), load8(b + i))
        acc1 = acc1.addingProduct(load8(a + i + 8), load8(b + i + 8))
        i += 16
    }
    if i + 8 <= n { acc0 = acc0.addingProduct(load8(a + i), load8(b + i)); i += 8 }
    var s = (acc0 + acc1).sum()
    while i < n { s += a[i] * b[i]; i += 1 }
    return s
}

/// y += alpha · x
@inlinable
public func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    var i = 0
    let a = F8(repeating: alpha)
    while i + 8 <= n { store8(load8(y + i).addingProduct(a, load8(x + i)), y + i); i += 8 }
    while i < n { y[i] += alpha * x[i]; i += 1 }
}
