/// Byte-level BPE: vocabulary, merges by rank, and the merge loop.
public struct BPEModel: Sendable {
    public let tokens: [String]            // id → vocabulary string
    public let vocab: [String: Int32]       // vocabulary string → id
    public let merges: [(String, String)]   // rank order
    /// (left id << 32 | right id) → (rank, merged id)
    let mergeTable: [UInt64: (rank: Int32, id: Int32)]
    /// byte → id of its single-byte token, or −1 when the vocabulary lacks it (then the
    /// byte is dropped, as HF tokenizers and llama.cpp do).
    let byteIds: [Int32]

    public init(tokens: [String], merges: [(String, String)]) throws {
        self.tokens = tokens
        var vocab: [String: Int32] = [:]
        vocab.reserveCapacity(tokens.count)
        for (i, t) in tokens.enumerated() where vocab[t] == nil { vocab[t] = Int32(i) }
        self.vocab = vocab
        self.merges = merges
        var table: [UInt64: (rank: Int32, id: Int32)] = [:]
        table.reserveCapacity(merges.count)
        for (rank, (a, b)) in merges.enumerated() {
            guard let ia = vocab[a], let ib = vocab[b], let m = vocab[a + b] else {
                throw TokenizerError.invalid("merge \(rank) \"\(a) \(b)\" names a token missing from the vocabulary")
            }
            let key = UInt64(UInt32(ia)) << 32 | UInt64(UInt32(ib))
            if table[key] == nil { table[key] = (Int32(rank), m) }
        }
        mergeTable = table
        byteIds = (0..<256).map { vocab[String(ByteLevel.byteToChar[$0])] ?? -1 }
    }

    /// Ids for one pre-tokenized piece: start from single bytes and repeatedly merge the
    /// adjacent pair of lowest rank (leftmost on ties) until no pair is ranked.
    func encodePiece(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) {
        var ids: [Int32] = []
        ids.reserveCapacity(bytes.count)
        for b in bytes { let id = byteIds[Int(b)]; if id >= 0 { ids.append(id) } }
        if ids.count > 1 {
            // ranks[k]: rank of the pair (ids[k], ids[k+1]), Int32.max when not mergeable.
            var ranks = [Int32](repeating: .max, count: ids.count - 1)
            var merged = [Int32](repeating: 0, count: ids.count - 1)
            @inline(__always) func look(_ k: Int) {
                if let m = mergeTable[UInt64(UInt32(ids[k])) << 32 | UInt64(UInt32(ids[k + 1]))] {
                    ranks[k] = m.rank; merged[k] = m.id
                } else { ranks[k] = .max }
            }
            for k in 0..<ranks.count { look(k) }
            while true {
                var best = -1, bestRank = Int32.max
                for k in 0..<ranks.count where ranks[k] < bestRank { bestRank = ranks[k]; best = k }
                if best < 0 { break }
                ids[best] = merged[best]
                ids.remove(at: best + 1)
                ranks.remove(at: best); merged.remove(at: best)
                if best < ranks.count { look(best) }
                if best > 0 { look(best - 1) }
            }
        }
        out.append(contentsOf: ids)
    }
}
