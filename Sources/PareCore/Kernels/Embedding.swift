// Token embedding lookup. N tokens, C channels, table (V, C).


/// out (N, C) = table[tokens]. Throws on an id outside the table rather than reading past it.
public func embeddingForward(out: UnsafeMutablePointer<Float>, tokens: UnsafePointer<Int32>, table: UnsafePointer<Float>, N: Int, C: Int, V: Int) throws {
    let profiled = KernelProfile.begin(.elementwise); defer { KernelProfile.end(profiled) }
    for n in 0..<N {
        let t = Int(tokens[n])
        guard t >= 0 && t < V else { throw KernelError.tokenOutOfRange(token: tokens[n], index: n, vocab: V) }
        (out + n * C).update(from: table + t * C, count: C)
    }
}

/// The same from a bf16 table (V, C): each row widened to f32 (exactly).
public func embeddingForward(out: UnsafeMutablePointer<Float>, tokens: UnsafePointer<Int32>, table: UnsafePointer<UInt16>, N: Int, C: Int, V: Int) throws {
    let profiled = KernelProfile.begin(.elementwise); defer { KernelProfile.end(profiled) }
    for n in 0..<N {
        let t = Int(tokens[n])
        guard t >= 0 && t < V else { throw KernelError.tokenOutOfRange(token: tokens[n], index: n, vocab: V) }
        bf16WidenNaive(out: out + n * C, inp: table + t * C, count: C)
    }
}

/// dtable[tokens[n]] += dout[n]. Split by channel ranges so repeated tokens never race.
public func embeddingBackward(dtable: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, tokens: UnsafePointer<Int32>, N: Int, C: Int) {
    let profiled = KernelProfile.begin(.elementwise); defer { KernelProfile.end(profiled) }
    let d = UncheckedBox(dtable)
    let blocks = (C + 31) / 32
    Parallel.forRange(blocks, costPerItem: N * 32) { b0, b1 in
        let dtable = d.value
        let c0 = b0 * 32, c1 = min(C, b1 * 32)
        for n in 0..<N { axpy(1, dout + n * C + c0, dtable + Int(tokens[n]) * C + c0, c1 - c0) }
    }
}
