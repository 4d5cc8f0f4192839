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
    let mergeTable: MergeTable
    public let byteTokens: [Int32]             // byte → id of "<0xNN>", −1 when absent
    /// Code point → id of the one-scalar token, −1 when absent: an array over the Basic
    /// Multilingual Plane (every scalar of the text is looked up), a dictionary above it.
    let bmpIds: [Int32]
    let astralIds: [UInt32: Int32]
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
        var table = MergeTable(capacity: merges.count)
        for (rank, (a, b)) in merges.enumerated() {
            guard let ia = vocab[Array(a.utf8)], let ib = vocab[Array(b.utf8)], let m = vocab[Array(a.utf8) + Array(b.utf8)] else {
                throw TokenizerError.invalid("merge \(rank) \"\(a) \(b)\" names a token missing from the vocabulary")
            }
            table.insert(left: ia, right: ib, rank: Int32(rank), id: m)
        }
        mergeTable = table
        byteTokens = (0..<256).map { vocab[Array(String(format: "<0x%02X>", $0).utf8)] ?? -1 }
        var bmp = [Int32](repeating: -1, count: 0x10000), astral: [UInt32: Int32] = [:]
        for (bytes, id) in vocab {
            let t = String(decoding: bytes, as: UTF8.self).unicodeScalars
            guard t.count == 1, let u = t.first, Array(String(u).utf8) == bytes else { continue }
            if u.value < 0x10000 { bmp[Int(u.value)] = id } else { astral[u.value] = id }
        }
        bmpIds = bmp; astralIds = astral
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

    /// The text as the model sees it, as UTF-8 in `out` (replaced): spaces as "▁" (E2 96 81),
    /// with the prefix the settings ask for. `first` says whether this segment starts the text
    /// (for prepend "first"). An empty segment gets the prefix too, as Metaspace gives it.
    func normalize(_ text: UnsafeBufferPointer<UInt8>, first: Bool, into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        out.reserveCapacity(text.count + text.count / 2 + 3)
        let startsWithMark = text.first == 0x20 || Self.isMark(text, 0)
        let prefix: Bool
        switch prepend {
        case .never: prefix = false
        case .first: prefix = first && !startsWithMark
        case .always: prefix = !startsWithMark
        case .normalizer: prefix = true
        }
        if prefix { out.append(contentsOf: Self.mark) }
        var run = 0   // start of the bytes not yet copied
        for k in 0..<text.count where text[k] == 0x20 {
            out.append(contentsOf: UnsafeBufferPointer(rebasing: text[run..<k]))
            out.append(contentsOf: Self.mark)
            run = k + 1
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: text[run...]))
    }

    static let mark: [UInt8] = [0xE2, 0x96, 0x81]   // "▁" U+2581

    /// Ids of one normalized segment (valid UTF-8: slices of a Swift string cut at scalar
    /// boundaries): each scalar's token, or its UTF-8 bytes as <0xNN> (unk when a byte token is
    /// missing), then merged by rank.
    func encode(_ text: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) {
        var ids: [Int32] = []
        ids.reserveCapacity(text.count)
        var i = 0
        while i < text.count {
            let (u, n) = UTF8Scalar.decode(text, at: i)
            let id = u < 0x10000 ? bmpIds[Int(u)] : astralIds[u] ?? -1
            if id >= 0 { ids.append(id) } else {
                var fallback = true
                for k in i..<(i + n) where byteTokens[Int(text[k])] < 0 { fallback = false }
                if fallback { for k in i..<(i + n) { ids.append(byteTokens[Int(text[k])]) } }
                else if let unk = unkId { ids.append(unk) }
            }
            i += n
        }
        mergeTable.merge(&ids)
        out.append(contentsOf: ids)
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
