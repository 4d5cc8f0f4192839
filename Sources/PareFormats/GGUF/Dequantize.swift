// Block dequantisers, following ggml's reference `dequantize_row_*` (ggml-quants.c).
// Each reads `count` elements (a whole number of blocks) from `src` and writes fp32 `dst`.

@inline(__always) func f16(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
    Float(Float16(bitPattern: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))))
}

public enum Dequantize {
    public static func row(_ type: GGMLType, src: UnsafeRawPointer, dst: UnsafeMutablePointer<Float>, count: Int) {
        switch type {
        case .f32:
            for i in 0..<count { dst[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
        case .f16:
            for i in 0..<count { dst[i] = f16(src, 2 * i) }
        case .bf16:
            for i in 0..<count { dst[i] = Float(bitPattern: UInt32(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16) }
        case .q8_0: q8_0(src, dst, count)
        case .q4_0: q4_0(src, dst, count)
        case .q4_1: q4_1(src, dst, count)
        case .q5_0: q5(src, dst, count, hasMin: false)
        case .q5_1: q5(src, dst, count, hasMin: true)
        case .q4_K: q4_K(src, dst, count)
        case .q6_K: q6_K(src, dst, count)
        default: preconditionFailure("Dequantize.row: \(type.name) is not supported; check canDequantize first")
        }
    }

    /// Q8_0: f16 d, 32 × i8 → q·d.
    static func q8_0(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ count: Int) {
        for b in 0..<count / 32 {
            let blk = src + b * 34, y = dst + b * 32
            let d = f16(blk, 0)
            for j in 0..<32 { y[j] = Float(blk.load(fromByteOffset: 2 + j, as: Int8.self)) * d }
        }
    }

    /// Q4_0: f16 d, 16 bytes; byte j holds element j (low nibble) and j+16 (high) → (q − 8)·d.
    static func q4_0(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ count: Int) {
        for b in 0..<count / 32 {
            let blk = src + b * 18, y = dst + b * 32
            let d = f16(blk, 0)
            for j in 0..<16 {
                let q = blk.load(fromByteOffset: 2 + j, as: UInt8.self)
                y[j] = Float(Int(q & 0x0F) - 8) * d
                y[j + 16] = Float(Int(q >> 4) - 8) * d
            }
        }
    }

    /// Q4_1: f16 d, f16 m, 16 nibble bytes → q·d + m.
    static func q4_1(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ count: Int) {
        for b in 0..<count / 32 {
            let blk = src + b * 20, y = dst + b * 32
            let d = f16(blk, 0), m = f16(blk, 2)
            for j in 0..<16 {
                let q = blk.load(fromByteOffset: 4 + j, as: UInt8.self)
                y[j] = Float(q & 0x0F) * d + m
                y[j + 16] = Float(q >> 4) * d + m
            }
        }
    }

    /// Q5_0 (f16 d, u32 qh, 16 bytes → (q − 16)·d) and Q5_1 (f16 d, f16 m, u32 qh, 16 bytes →
    /// q·d + m): the fifth bit of element j is bit j of qh, of element j+16 bit j+16.
    static func q5(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ count: Int, hasMin: Bool) {
        let size = hasMin ? 24 : 22, qhAt = hasMin ? 4 : 2
        for b in 0..<count / 32 {
            let blk = src + b * size, y = dst + b * 32
            let d = f16(blk, 0), m = hasMin ? f16(blk, 2) : 0
            let qh = UInt32(littleEndian: blk.loadUnaligned(fromByteOffset: qhAt, as: UInt32.self))
            for j in 0..<16 {
                let q = blk.load(fromByteOffset: qhAt + 4 + j, as: UInt8.self)
                let h0 = Int((qh >> UInt32(j)) << 4) & 0x10
                let h1 = Int(qh >> UInt32(j + 12)) & 0x10
                let x0 = Int(q & 0x0F) | h0, x1 = Int(q >> 4) | h1
                if hasMin {
                    y[j] = Float(x0) * d + m
                    y[j + 16] = Float(x1) * d + m
                } else {
                    y[j] = Float(x0 - 16) * d
                    y[j + 16] = Float(x1 - 16) * d
                }
            }
        }
    }

    /// The 6-bit scale and min of sub-block j in a K-quant's 12 packed scale bytes.
    @inline(__always) static func scaleMinK4(_ j: Int, _ q: UnsafeRawPointer) -> (Float, Float) {
        func at(_ i: Int) -> UInt8 { q.load(fromByteOffset: i, as: UInt8.self) }
        if j < 4 { return (Float(at(j) & 63), Float(at(j + 4) & 63)) }
        let d = (at(j + 4) & 0x0F) | ((at(j - 4) >> 6) << 4)
        let m = (at(j + 4) >> 4) | ((at(j) >> 6) << 4)
        return (Float(d), Float(m))
    }

    /// Q4_K: super-blocks of 256 = 8 sub-blocks of 32: f16 d, f16 dmin, 12 scale bytes, 128 nibble bytes.
    static func q4_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ count: Int) {
        for b in 0..<count / 256 {
            let blk = src + b * 144
            var y = dst + b * 256
            let d = f16(blk, 0), dmin = f16(blk, 2)
            let scales = blk + 4
            var q = blk + 16
            var s = 0
            for _ in 0..<4 {
                let (sc1, m1) = scaleMinK4(s, scales), (sc2, m2) = scaleMinK4(s + 1, scales)
                let d1 = d * sc1, min1 = dmin * m1, d2 = d * sc2, min2 = dmin * m2
                for l in 0..<32 { y[l] = d1 * Float(q.load(fromByteOffset: l, as: UInt8.self) & 0x0F) - min1 }
                for l in 0..<32 { y[32 + l] = d2 * Float(q.load(fromByteOffset: l, as: UInt8.self) >> 4) - min2 }
                y += 64; q += 32; s += 2
            }
        }
    }

    /// Q6_K: 128 low-nibble bytes, 64 high-bit bytes, 16 i8 scales, f16 d; values (q − 32)·d·scale.
    static func q6_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ count: Int) {
        for b in 0..<count / 256 {
            let blk = src + b * 210
            let d = f16(blk, 208)
            var y = dst + b * 256
            var ql = blk, qh = blk + 128, sc = blk + 192
            for _ in 0..<2 {
                for l in 0..<32 {
                    let i = l / 16
                    let l0 = ql.load(fromByteOffset: l, as: UInt8.self), l32 = ql.load(fromByteOffset: l + 32, as: UInt8.self)
                    let h = qh.load(fromByteOffset: l, as: UInt8.self)
                    let q1 = Int((l0 & 0x0F) | (((h >> 0) & 3) << 4)) - 32
                    let q2 = Int((l32 & 0x0F) | (((h >> 2) & 3) << 4)) - 32
                    let q3 = Int((l0 >> 4) | (((h >> 4) & 3) << 4)) - 32
                    let q4 = Int((l32 >> 4) | (((h >> 6) & 3) << 4)) - 32
                    func s(_ k: Int) -> Float { Float(sc.load(fromByteOffset: k, as: Int8.self)) }
                    y[l] = d * s(i) * Float(q1)
                    y[l + 32] = d * s(i + 2) * Float(q2)
                    y[l + 64] = d * s(i + 4) * Float(q3)
                    y[l + 96] = d * s(i + 6) * Float(q4)
                }
                y += 128; ql += 64; qh += 32; sc += 8
            }
        }
    }
}
