/// SentencePiece-style BPE with byte fallback (Llama 2, Mistral, TinyLlama; GGUF
/// `tokenizer.ggml.model = llama`): no regex split; spaces become "▁" (U+2581), optionally with
/// one prepended; the whole text is one word of Unicode scalars merged by rank; a scalar missing
/// from the vocabulary becomes its UTF-8 bytes as `<0xNN>` tokens.
public struct SentencePieceModel: Sendable {
    /// Where a "▁" is put in front of the text, as tokenizers spells it.
    public enum Prepend: String, Sendable {
        /// Never (tokenizer.json Metaspace prepend_scheme "never"; GGUF add_space_prefix false).
        case never
        /// To the text's first segment, unless it already starts with "▁" (Metaspace "first").
        case first
        /// To every segment between added tokens, unless it starts with "▁" (Metaspace "always").
        case always
        /// To every segment, always (the older normalizer Sequence[Prepend("▁"), Replace(" ", "▁")]).
        case normalizer
    }

    public let tokens: [String]                // id → vocabulary string
    /// UTF-8 bytes → id (the last id of a repeated string, as transformers builds it). Keyed by
    /// bytes, not String: Swift compares strings by canonical equivalence, which would make
    /// "e\u{301}" and "é", or U+212B and "Å", one token.
    public let vocab: [[UInt8]: Int32]
    public let merges: [(String, String)]      // rank order
    public let scores: [Float]?                // GGUF scores, kept for export
    public let prepend: Prepend
    /// The decoder drops one leading space (transformers' LlamaTokenizer with a prefix space).
    public let stripLeadingSpace: Bool
    public let unkId: Int32?
    let mergeTable: [UInt64: (rank: Int32, id: Int32)]
    public let byteTokens: [Int32]             // byte → id of "<0xNN>", −1 when absent
    let scalarIds: [UInt32: Int32]             // code point → id of the one-scalar token
    /// Tokens that hold "▁" right after another character, with the byte offset of each such
    /// "▁": a merge can cross a word start only inside one of them. With none or a few (Gemma's
    /// vocabulary has one, ">▁</"), text is cut before each "▁" that follows a non-"▁", except
    /// inside an occurrence of these, and each word is merged alone: exactly the same result.
    let crossing: [([UInt8], Int)]
    public var splitsAtWordStarts: Bool { crossing.count <= 64 }

    public init(tokens: [String], merges: [(String, String)], scores: [Float]? = nil, prepend: Prepend,
                stripLeadingSpace: Bool, unkId: Int32?) throws {
        self.tokens = tokens; self.merges = merges; self.scores = scores
        self.prepend = prepend; self.stripLeadingSpace = stripLeadingSpace; self.unkId = unkId
        var vocab: [[UInt8]: Int32] = [:]
        vocab.reserveCapacity(tokens.count)
        for (i, t) in tokens.enumerated() { vocab[Array(t.utf8)] = Int32(i) }
        self.vocab = vocab
        var table: [UInt64: (rank: Int32, id: Int32)] = [:]
        table.reserveCapacity(merges.count)
        for (rank, (a, b)) in merges.enumerated() {
            guard let ia = vocab[Array(a.utf8)], let ib = vocab[Array(b.utf8)], let m = vocab[Array(a.utf8) + Array(b.utf8)] else {
                throw TokenizerError.invalid("merge \(rank) \"\(a) \(b)\" names a token missing from the vocabulary")
            }
            let key = UInt64(UInt32(ia)) << 32 | UInt64(UInt32(ib))
            if table[key] == nil { table[key] = (Int32(rank), m) }
        }
        mergeTable = table
        byteTokens = (0..<256).map { vocab[Array(String(format: "<0x%02X>", $0).utf8)] ?? -1 }
        var single: [UInt32: Int32] = [:]
        for (bytes, id) in vocab {
            let t = String(decoding: bytes, as: UTF8.self).unicodeScalars
            if t.count == 1, let u = t.first, Array(String(u).utf8) == bytes { single[u.value] = id }
        }
        scalarIds = single
        var crossing: [([UInt8], Int)] = []
        for t in tokens {
            let bytes = Array(t.utf8)
            for k in bytes.indices.dropFirst() where Self.isWordStart(bytes, k) { crossing.append((bytes, k)) }
        }
        self.crossing = crossing
    }

    /// Merges generated from scores, as transformers' `generate_merges` does for a GGUF without
    /// merges: every split (a, b) of a token into two tokens, ordered by the token's score
    /// (highest first), then the longer left and right parts, then token order.
    public static func mergesFromScores(tokens: [String], scores: [Float]) -> [(String, String)] {
        var vocab: [[UInt8]: Int32] = [:]
        for (i, t) in tokens.enumerated() { vocab[Array(t.utf8)] = Int32(i) }
        // (score, left length, right length, sequence) → merge; sequence keeps token order.
        var all: [(score: Float, l: Int, r: Int, seq: Int, a: String, b: String)] = []
        var seq = 0
        // transformers iterates dict(zip(tokens, scores)): each distinct string once, at its first
        // position, with the score of its last.
        var lastScore: [[UInt8]: Float] = [:]
        for (t, s) in zip(tokens, scores) { lastScore[Array(t.utf8)] = s }
        var seen = Set<[UInt8]>()
        for t in tokens where seen.insert(Array(t.utf8)).inserted {
            let scalars = Array(t.unicodeScalars)   // Python slices strings by code point
            guard scalars.count > 1 else { continue }
            var local: [(Int32, Int32, String, String)] = []
            for k in 1..<scalars.count {
                let a = String(String.UnicodeScalarView(scalars[..<k])), b = String(String.UnicodeScalarView(scalars[k...]))
                if let ia = vocab[Array(a.utf8)], let ib = vocab[Array(b.utf8)] { local.append((ia, ib, a, b)) }
            }
            local.sort { ($0.0, $0.1) < ($1.0, $1.1) }
            for m in local {
                all.append((lastScore[Array(t.utf8)]!, m.2.unicodeScalars.count, m.3.unicodeScalars.count, seq, m.2, m.3))
                seq += 1
            }
        }
        all.sort { x, y in
            if x.score != y.score { return x.score > y.score }
            if x.l != y.l { return x.l > y.l }
            if x.r != y.r { return x.r > y.r }
            return x.seq < y.seq
        }
        return all.map { ($0.a, $0.b) }
    }

    /// The text as the model sees it: spaces as "▁", with the prefix the settings ask for.
    /// `first` says whether this segment starts the text (for prepend "first").
    func normalize(_ text: String, first: Bool) -> String {
        var s = String(String.UnicodeScalarView(text.unicodeScalars.map { $0 == " " ? "\u{2581}" : $0 }))
        switch prepend {
        case .never: break
        case .first: if first && s.unicodeScalars.first != "\u{2581}" { s = "\u{2581}" + s }
        case .always: if s.unicodeScalars.first != "\u{2581}" { s = "\u{2581}" + s }
        case .normalizer: s = "\u{2581}" + s
        }
        return s
    }

    /// Ids of one normalized segment: scalars (or their bytes as <0xNN>), then the pair of
    /// lowest rank merged first, leftmost on ties, until no adjacent pair is ranked. A heap
    /// keeps this O(n log n) on whole documents, which are one word here.
    func encode(_ text: String, into out: inout [Int32]) {
        var ids: [Int32] = []
        ids.reserveCapacity(text.unicodeScalars.count)
        for u in text.unicodeScalars {
            if let id = scalarIds[u.value] { ids.append(id); continue }
            var bytes: [Int32] = []
            for b in String(u).utf8 { bytes.append(byteTokens[Int(b)]) }
            if bytes.allSatisfy({ $0 >= 0 }) { ids += bytes } else if let unk = unkId { ids.append(unk) }
        }
        let n = ids.count
        guard n > 1 else { out += ids; return }
        var next = Array(1...n), prev = Array(-1..<(n - 1))
        var alive = [Bool](repeating: true, count: n)
        var heap = MergeHeap()
        @inline(__always) func push(_ i: Int) {
            let j = next[i]
            guard j < n, let m = mergeTable[UInt64(UInt32(ids[i])) << 32 | UInt64(UInt32(ids[j]))] else { return }
            heap.push(.init(rank: m.rank, pos: Int32(i), left: ids[i], right: ids[j]))
        }
        for i in 0..<(n - 1) { push(i) }
        while let top = heap.pop() {
            let i = Int(top.pos)
            guard alive[i], next[i] < n else { continue }
            let j = next[i]
            guard ids[i] == top.left, ids[j] == top.right,
                  let m = mergeTable[UInt64(UInt32(ids[i])) << 32 | UInt64(UInt32(ids[j]))], m.rank == top.rank else { continue }
            ids[i] = m.id
            alive[j] = false
            next[i] = next[j]
            if next[j] < n { prev[next[j]] = i }
            if prev[i] >= 0 { push(prev[i]) }
            push(i)
        }
        var i = 0
        while i < n { out.append(ids[i]); i = next[i] }
    }

    /// Calls `word(start, end)` with byte ranges that tile `b`, cut before each "▁" (E2 96 81)
    /// that follows something other than "▁" and is not inside an occurrence of a crossing token.
    func words(_ b: UnsafeBufferPointer<UInt8>, _ word: (Int, Int) -> Void) {
        var start = 0, i = 0
        func insideCrossing(_ i: Int) -> Bool {
            for (t, off) in crossing where i - off >= 0 && i - off + t.count <= b.count {
                var same = true
                for k in 0..<t.count where b[i - off + k] != t[k] { same = false; break }
                if same { return true }
            }
            return false
        }
        while i < b.count {
            if i > start, Self.isWordStart(b, i), !insideCrossing(i) { word(start, i); start = i }
            i += Self.isMark(b, i) ? 3 : 1
        }
        if b.count > start { word(start, b.count) }
    }

    /// Whether "▁" (E2 96 81) starts at byte k.
    @inline(__always)
    static func isMark<C: RandomAccessCollection>(_ b: C, _ k: Int) -> Bool where C.Element == UInt8, C.Index == Int {
        k >= 0 && k + 2 < b.count && b[k] == 0xE2 && b[k + 1] == 0x96 && b[k + 2] == 0x81
    }

    /// A "▁" at byte k that follows something other than "▁": where a word starts.
    @inline(__always)
    static func isWordStart<C: RandomAccessCollection>(_ b: C, _ k: Int) -> Bool where C.Element == UInt8, C.Index == Int {
        k > 0 && isMark(b, k) && !isMark(b, k - 3)
    }

    /// Bytes a token decodes to: "▁" as a space, "<0xNN>" as the byte.
    func bytes(of token: String) -> [UInt8] {
        if token.count == 6, token.hasPrefix("<0x"), token.hasSuffix(">"), let b = UInt8(token.dropFirst(3).prefix(2), radix: 16) {
            return [b]
        }
        return Array(token.replacingOccurrences(of: "\u{2581}", with: " ").utf8)
    }
}

/// A binary min-heap of candidate merges ordered by (rank, position).
struct MergeHeap {
    struct Entry { var rank: Int32, pos: Int32, left: Int32, right: Int32 }
    var items: [Entry] = []

    @inline(__always) static func less(_ a: Entry, _ b: Entry) -> Bool { a.rank != b.rank ? a.rank < b.rank : a.pos < b.pos }

    mutating func push(_ e: Entry) {
        items.append(e)
        var k = items.count - 1
        while k > 0 {
            let p = (k - 1) / 2
            guard Self.less(items[k], items[p]) else { break }
            items.swapAt(k, p); k = p
        }
    }

    mutating func pop() -> Entry? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var k = 0
            while true {
                let l = 2 * k + 1, r = l + 1
                var m = k
                if l < items.count && Self.less(items[l], items[m]) { m = l }
                if r < items.count && Self.less(items[r], items[m]) { m = r }
                if m == k { break }
                items.swapAt(k, m); k = m
            }
        }
        return top
    }
}
