#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Rotary position embedding in HF's "rotate half" layout: within each head of D dims,
// dims j and j + D/2 (j < D/2) form one rotated pair with frequency invFreq[j].

/// cos/sin of position · invFreq, computed in fp32 exactly as HF does (fp32 product, fp32 cos).
public final class RopeTable: @unchecked Sendable {
    public let invFreq: [Float]     // (D/2)
    public private(set) var positions = 0
    var cosTable: [Float] = []      // (positions, D/2)
    var sinTable: [Float] = []      // (positions, D/2)

    public init(invFreq: [Float]) { self.invFreq = invFreq }

    public var halfDim: Int { invFreq.count }

    /// Grows the table to cover positions 0..<n.
    public func reserve(_ n: Int) {
        guard n > positions else { return }
        let h = halfDim
        cosTable.reserveCapacity(n * h)
        for p in positions..<n {
            for j in 0..<h {
                let f = Float(p) * invFreq[j]
                cosTable.append(cosf(f))
                sinTable.append(sinf(f))
            }
        }
        positions = n
    }

    /// Plain inverse frequencies: theta^(−2j/D), computed in fp32 like HF.
    public static func defaultInvFreq(headDim D: Int, theta: Double) -> [Float] {
        (0..<(D / 2)).map { j in 1 / powf(Float(theta), Float(2 * j) / Float(D)) }
    }
}

/// Rotates x (N, nHeads · D) in place. Row n sits at position pos0 + n % T, or at
/// `positions[n]` (N) when given (packed rows, where each sequence counts from its own start).
public func ropeForward(x: UnsafeMutablePointer<Float>, table: RopeTable, N: Int, T: Int, pos0: Int, nHeads: Int, D: Int,
                        positions: UnsafePointer<Int32>? = nil) {
    let profiled = KernelProfile.begin(.elementwise); defer { KernelProfile.end(profiled) }
    ropeApply(x: x, table: table, N: N, T: T, pos0: pos0, nHeads: nHeads, D: D, sign: 1, positions: positions)
}

/// The rotation is orthogonal: its backward is the inverse rotation, applied in place to dx.
public func ropeBackward(dx: UnsafeMutablePointer<Float>, table: RopeTable, N: Int, T: Int, pos0: Int, nHeads: Int, D: Int) {
    let profiled = KernelProfile.begin(.elementwise); defer { KernelProfile.end(profiled) }
    ropeApply(x: dx, table: table, N: N, T: T, pos0: pos0, nHeads: nHeads, D: D, sign: -1)
}

func ropeApply(x: UnsafeMutablePointer<Float>, table: RopeTable, N: Int, T: Int, pos0: Int, nHeads: Int, D: Int, sign: Float,
               positions: UnsafePointer<Int32>? = nil) {
    precondition(D == 2 * table.halfDim, "rope table head size mismatch")
    if let pos = positions {
        var top: Int32 = 0
        for n in 0..<N { precondition(pos[n] >= 0, "negative position"); top = max(top, pos[n]) }
        table.reserve(Int(top) + 1)
    } else {
        table.reserve(pos0 + min(T, N))
    }
    let pb = UncheckedBox(positions)
    let h = D / 2
    let xb = UncheckedBox(x)
    table.cosTable.withUnsafeBufferPointer { cosB in
        table.sinTable.withUnsafeBufferPointer { sinB in
            let cs = UncheckedBox((cosB.baseAddress!, sinB.baseAddress!))
            Parallel.forRange(N, costPerItem: nHeads * D * 3) { start, end in
                let x = xb.value
                let (cosP, sinP) = cs.value
                let sv = F8(repeating: sign)
                let positions = pb.value
                for n in start..<end {
                    let p = positions.map { Int($0[n]) } ?? pos0 + n % T
                    let c = cosP + p * h, s = sinP + p * h
                    for hd in 0..<nHeads {
                        let a = x + n * nHeads * D + hd * D, b = a + h
                        var j = 0
                        while j + 8 <= h {
                            let x1 = load8(a + j), x2 = load8(b + j), cv = load8(c + j), sn = load8(s + j) * sv
                            store8(x1 * cv - x2 * sn, a + j)
                            store8(x2 * cv + x1 * sn, b + j)
                            j += 8
                        }
                        while j < h {
                            let x1 = a[j], x2 = b[j], sn = s[j] * sign
                            a[j] = x1 * c[j] - x2 * sn
                            b[j] = x2 * c[j] + x1 * sn
                            j += 1
                        }
                    }
                }
            }
        }
    }
}

/// Naive twin: recomputes the angles per element.
public func ropeForwardNaive(x: UnsafeMutablePointer<Float>, invFreq: [Float], N: Int, T: Int, pos0: Int, nHeads: Int, D: Int,
                             positions: [Int32]? = nil) {
    let h = D / 2
    for n in 0..<N {
        let p = Float(positions.map { Int($0[n]) } ?? pos0 + n % T)
        for hd in 0..<nHeads {
            for j in 0..<h {
                let a = n * nHeads * D + hd * D + j
                let f = p * invFreq[j]
                let c = cosf(f), s = sinf(f)
                let x1 = x[a], x2 = x[a + h]
                x[a] = x1 * c - x2 * s
                x[a + h] = x2 * c + x1 * s
            }
        }
    }
}
