/// Byte-level BPE: vocabulary, merges by rank, and the merge loop.
public struct BPEModel: Sendable {
    public private(set) var tokens: [String]            // id → vocabulary string
    public private(set) var vocab: [String: Int32]       // vocabulary string → id
    public let merges: [(String, String)]   // rank order
    /// (left id, right id) → (rank, merged id)
    private(set) var mergeTable: MergeTable
    /// byte → id of its single-byte token, or −1 when the vocabulary lacks it (then the
    /// byte is dropped, as HF tokenizers and llama.cpp do).
    let byteIds: [Int32]
    /// A piece that is itself a token becomes that token without merging (tokenizers'
    /// `ignore_merges`, tiktoken's behaviour; Llama 3 sets it).
    public let ignoreMerges: Bool

    public init(tokens: [String], merges: [(String, String)], ignoreMerges: Bool = false) throws {
        self.tokens = tokens
        self.ignoreMerges = ignoreMerges
        var vocab: [String: Int32] = [:]
        vocab.reserveCapacity(tokens.count)
        for (i, t) in tokens.enumerated() where vocab[t] == nil { vocab[t] = Int32(i) }
        self.vocab = vocab
        self.merges = merges
        var table = MergeTable(capacity: merges.count)
        for (rank, (a, b)) in merges.enumerated() {
            guard let ia = vocab[a], let ib = vocab[b], let m = vocab[a + b] else {
                throw TokenizerError.invalid("merge \(rank) \"\(a) \(b)\" names a token missing from the vocabulary")
            }
            table.insert(left: ia, right: ib, rank: Int32(rank), id: m)
        }
        mergeTable = table
        byteIds = (0..<256).map { vocab[String(ByteLevel.byteToChar[$0])] ?? -1 }
    }

    /// A vocabulary given as tiktoken ranks (Meta's Llama 3 `tokenizer.model`): `ranked[r]` is
    /// the bytes of token r. tiktoken merges the adjacent pair whose concatenation has the
    /// lowest rank, so every split (a, b) of a token t into two tokens is a merge of rank
    /// rank(t). `merges` lists them as transformers' converter writes them (by rank(t), then
    /// rank(a), rank(b)), for tokenizer.json and GGUF files.
    public init(tiktokenRanks ranked: [[UInt8]]) throws {
        let tokens = ranked.map { ByteLevel.encode($0) }
        var byBytes: [[UInt8]: Int32] = [:]
        byBytes.reserveCapacity(ranked.count)
        for (r, b) in ranked.enumerated() {
            guard byBytes[b] == nil else { throw TokenizerError.invalid("rank \(r) repeats the bytes of rank \(byBytes[b]!)") }
            byBytes[b] = Int32(r)
        }
        var pairs: [(Int32, Int32, Int32)] = []   // (merged, left, right)
        for (r, b) in ranked.enumerated() where b.count > 1 {
            for k in 1..<b.count {
                if let l = byBytes[Array(b[..<k])], let rr = byBytes[Array(b[k...])] { pairs.append((Int32(r), l, rr)) }
            }
        }
        pairs.sort { ($0.0, $0.1, $0.2) < ($1.0, $1.1, $1.2) }
        try self.init(tokens: tokens, merges: pairs.map { (tokens[Int($0.1)], tokens[Int($0.2)]) }, ignoreMerges: true)
        // tiktoken's priority is the merged token's rank, not the merge's position in the list.
        var table = mergeTable
        for (m, l, r) in pairs { table.insert(left: l, right: r, rank: m, id: m, replace: true) }
        mergeTable = table
    }

    /// The same model with `extra` tokens after the vocabulary (added tokens, whose ids
    /// follow the last ordinary one).
    public func appending(_ extra: [String]) -> BPEModel {
        var m = self
        for t in extra where m.vocab[t] == nil { m.vocab[t] = Int32(m.tokens.count); m.tokens.append(t) }
        return m
    }

    /// Ids for one pre-tokenized piece: start from single bytes and repeatedly merge the
    /// adjacent pair of lowest rank (leftmost on ties) until no pair is ranked.
    func encodePiece(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) {
        if ignoreMerges, bytes.count > 1, let id = vocab[ByteLevel.encode(bytes)] { out.append(id); return }
        var ids: [Int32] = []
        ids.reserveCapacity(bytes.count)
        for b in bytes { let id = byteIds[Int(b)]; if id >= 0 { ids.append(id) } }
        mergeTable.merge(&ids)
        out.append(contentsOf: ids)
    }
}
