/// Block quantisers, as ggml's reference `quantize_row_*_ref` (ggml-quants.c): the same
/// rounding, so files match what llama.cpp's own tools would write.
public enum Quantize {
    /// Q8_0: d = max|x| / 127, q = round(x / d) (half away from zero).
    public static func q8_0(_ x: UnsafePointer<Float>, count: Int, into out: inout [UInt8]) {
        for b in 0..<count / 32 {
            let v = x + b * 32
            var amax: Float = 0
            for j in 0..<32 { amax = max(amax, abs(v[j])) }
            let d = amax / 127, id: Float = d != 0 ? 1 / d : 0
            appendF16(d, &out)
            for j in 0..<32 { out.append(UInt8(bitPattern: Int8((v[j] * id).rounded()))) }
        }
    }

    /// Q4_0: d = (the value of largest magnitude) / −8, q = min(15, trunc(x / d + 8.5)),
    /// element j in the low nibble of byte j, element j + 16 in the high nibble.
    public static func q4_0(_ x: UnsafePointer<Float>, count: Int, into out: inout [UInt8]) {
        for b in 0..<count / 32 {
            let v = x + b * 32
            var amax: Float = 0, mx: Float = 0
            for j in 0..<32 where abs(v[j]) > amax { amax = abs(v[j]); mx = v[j] }
            let d = mx / -8, id: Float = d != 0 ? 1 / d : 0
            appendF16(d, &out)
            for j in 0..<16 {
                let a = min(15, Int8(v[j] * id + 8.5)), c = min(15, Int8(v[j + 16] * id + 8.5))
                out.append(UInt8(a) | UInt8(c) << 4)
            }
        }
    }

    public static func f16(_ x: UnsafePointer<Float>, count: Int, into out: inout [UInt8]) {
        for i in 0..<count { appendF16(x[i], &out) }
    }

    @inline(__always) static func appendF16(_ v: Float, _ out: inout [UInt8]) {
        let bits = Float16(v).bitPattern
        out.append(UInt8(bits & 0xFF)); out.append(UInt8(bits >> 8))
    }
}
