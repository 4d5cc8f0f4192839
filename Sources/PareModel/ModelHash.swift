import Foundation
import PareCore

extension LlamaModel {
    /// A fingerprint of what the model computes: its config and every parameter, bit for bit
    /// (FNV-1a over 64-bit words, split across threads). The same weights loaded from a GGUF or
    /// from the Hugging Face folder converted from it hash alike; any change to a weight does not.
    public var contentHash: String {
        if let h = hashBeforeRelease { return h }
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        var h = FNV1a()
        h.mix((try? enc.encode(config)) ?? Data())
        let words = params.count / 2, parts = 16
        let partial = UnsafeMutablePointer<UInt64>.allocate(capacity: parts)
        defer { partial.deallocate() }
        let box = UncheckedBox((UnsafeRawPointer(params.pointer).assumingMemoryBound(to: UInt64.self), partial))
        // Fixed parts, so the hash does not depend on the thread count.
        Parallel.forRange(parts, costPerItem: words / parts + 1) { s, e in
            let (w, out) = box.value
            for p in s..<e {
                var x = FNV1a(FNV1a.offsetBasis ^ UInt64(p))
                for i in (words * p / parts)..<(words * (p + 1) / parts) { x.mix(word: w[i]) }
                out[p] = x.value
            }
        }
        for p in 0..<parts { h.mix(word: partial[p]) }
        if params.count % 2 == 1 { h.mix(word: UInt64(params.pointer[params.count - 1].bitPattern)) }
        return h.hex
    }
}
