import Foundation

/// Which pre-tokenizer the vocabulary was trained with. Each is an exact hand-written matcher
/// of one regex (see PreTokenizer.swift); the raw value is llama.cpp's GGUF `pre` name.
public enum PreTokenizerKind: String, Sendable, CaseIterable {
    /// Digits split one by one, then GPT-2's pattern (SmolLM2).
    case smollm
    /// GPT-2's pattern alone (llama.cpp: "gpt-2"; it has no "gpt2" and refuses the file).
    case gpt2 = "gpt-2"
    /// Llama 3's tiktoken (cl100k-style) pattern, numbers in runs of up to three.
    case llama3 = "llama-bpe"
    /// Qwen2's: Llama 3's pattern with single digits.
    case qwen2

    /// The `Split` regex of a tokenizer.json for the patterns written as one (as tokenizers
    /// and transformers spell them); nil for the GPT-2 family, written as ByteLevel(use_regex).
    public var splitPattern: String? {
        switch self {
        case .smollm, .gpt2: nil
        case .llama3: #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        case .qwen2: #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        }
    }

    /// From a GGUF's `tokenizer.ggml.pre`: llama.cpp's names for these patterns.
    public init?(ggufName: String) {
        switch ggufName {
        case "smollm": self = .smollm
        case "gpt-2", "gpt2", "default": self = .gpt2
        case "llama-bpe", "llama3", "llama-v3": self = .llama3
        case "qwen2": self = .qwen2
        default: return nil
        }
    }
}

/// A token matched literally before BPE (control tokens such as <|im_start|>), with
/// tokenizers' options: `lstrip`/`rstrip` swallow the whitespace beside a match.
public struct AddedToken: Sendable, Equatable {
    public let id: Int32
    public let content: String
    public let special: Bool
    public var lstrip = false
    public var rstrip = false
    public var normalized = false

    public init(id: Int32, content: String, special: Bool, lstrip: Bool = false, rstrip: Bool = false, normalized: Bool = false) {
        self.id = id; self.content = content; self.special = special
        self.lstrip = lstrip; self.rstrip = rstrip; self.normalized = normalized
    }
}

/// Text normalization before pre-tokenization (tokenizer.json `normalizer`).
public enum TextNormalizer: String, Sendable {
    case none
    /// Unicode canonical composition (Qwen2's tokenizer.json).
    case nfc = "NFC"
}

/// A GPT-2-style byte-level BPE tokenizer, read from GGUF metadata or a `tokenizer.json`.
/// Immutable and shareable across threads; each thread encodes through its own
/// `TokenEncoder`, which caches pieces it has seen.
public final class Tokenizer: Sendable {
    public let model: BPEModel
    public let preTokenizer: PreTokenizerKind
    public let normalizer: TextNormalizer
    public let addedTokens: [AddedToken]
    public let bosTokenId: Int32?
    public let eosTokenId: Int32?
    public let unkTokenId: Int32?
    public let padTokenId: Int32?
    public let chatTemplate: String?
    /// Whether a text starts with BOS (GGUF `tokenizer.ggml.add_bos_token`, tokenizer_config's
    /// `add_bos_token`): Gemma's and Llama 3's do; `pare generate` adds it to a plain prompt.
    public let addsBosToken: Bool
    /// Set for SentencePiece-style vocabularies; `model` then only lists the tokens.
    public let sentencePiece: SentencePieceModel?
    let addedById: [Int32: AddedToken]
    let addedFirstBytes: [Bool]              // 256 entries
    let addedByFirstByte: [UInt8: [(bytes: [UInt8], id: Int32, special: Bool)]]   // longest first
    let tokenBytes: [[UInt8]]               // id → bytes it decodes to
    let hasOrdinaryAddedTokens: Bool

    public init(model: BPEModel, preTokenizer: PreTokenizerKind, normalizer: TextNormalizer = .none, addedTokens: [AddedToken],
                bos: Int32?, eos: Int32?, unk: Int32?, pad: Int32?, chatTemplate: String?, sentencePiece: SentencePieceModel? = nil,
                addsBos: Bool = false) {
        self.model = model
        self.sentencePiece = sentencePiece
        self.preTokenizer = preTokenizer
        self.normalizer = normalizer
        self.addedTokens = addedTokens
        bosTokenId = bos; eosTokenId = eos; unkTokenId = unk; padTokenId = pad
        addsBosToken = addsBos && bos != nil
        self.chatTemplate = chatTemplate
        var byId: [Int32: AddedToken] = [:]
        var first = [Bool](repeating: false, count: 256)
        var byFirst: [UInt8: [(bytes: [UInt8], id: Int32, special: Bool)]] = [:]
        for t in addedTokens {
            byId[t.id] = t
            let b = Array(t.content.utf8)
            guard let f = b.first else { continue }
            first[Int(f)] = true
            byFirst[f, default: []].append((b, t.id, t.special))
        }
        for k in byFirst.keys { byFirst[k]!.sort { $0.bytes.count > $1.bytes.count } }
        addedById = byId; addedFirstBytes = first; addedByFirstByte = byFirst
        hasOrdinaryAddedTokens = addedTokens.contains { !$0.special }
        tokenBytes = model.tokens.enumerated().map { (i, t) in
            byId[Int32(i)].map { Array($0.content.utf8) } ?? sentencePiece?.bytes(of: t) ?? ByteLevel.decode(t) ?? Array(t.utf8)
        }
    }

    public var vocabularySize: Int { model.tokens.count }

    /// Token ids of `text`. With `parseSpecial`, added tokens written in the text (e.g.
    /// "<|im_start|>") become their ids; without, they are ordinary text.
    public func encode(_ text: String, parseSpecial: Bool = false) -> [Int32] {
        var e = TokenEncoder(self)
        return e.encode(text, parseSpecial: parseSpecial)
    }

    /// A prompt's ids as transformers and llama.cpp encode it: BOS first where the tokenizer
    /// adds it (Gemma, Llama 3), unless the text (a rendered chat template) already starts with it.
    public func encodePrompt(_ text: String, parseSpecial: Bool = false) -> [Int32] {
        var ids = encode(text, parseSpecial: parseSpecial)
        if addsBosToken, let bos = bosTokenId, ids.first != bos { ids.insert(bos, at: 0) }
        return ids
    }

    /// Text of `ids`; invalid UTF-8 (a character cut between tokens) becomes U+FFFD.
    public func decode<C: Collection>(_ ids: C, skipSpecial: Bool = false) -> String where C.Element == Int32 {
        var bytes: [UInt8] = []
        for id in ids {
            guard id >= 0 && Int(id) < tokenBytes.count else { continue }
            if skipSpecial, let a = addedById[id], a.special { continue }
            bytes.append(contentsOf: tokenBytes[Int(id)])
        }
        // SentencePiece's decoder drops the space its prefix put in front (Strip left 1).
        if sentencePiece?.stripLeadingSpace == true, bytes.first == 0x20 { bytes.removeFirst() }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Bytes of one token (for streaming output that holds back incomplete characters).
    public func bytes(of id: Int32) -> [UInt8] {
        id >= 0 && Int(id) < tokenBytes.count ? tokenBytes[Int(id)] : []
    }

    public func isSpecial(_ id: Int32) -> Bool { addedById[id]?.special ?? false }
}

/// Encodes text with a cache of pieces already seen (one per thread).
public struct TokenEncoder {
    public let tokenizer: Tokenizer
    // Pieces of up to 16 bytes, packed into two words, → a range of `pool`.
    var cache: [PieceKey: (Int32, Int32)] = [:]
    var pool: [Int32] = []
    var normalized: [UInt8] = []   // SentencePiece: the segment with its spaces as "▁"

    struct PieceKey: Hashable { let a: UInt64, b: UInt64, n: UInt8 }

    public init(_ tokenizer: Tokenizer) { self.tokenizer = tokenizer }

    public mutating func encode(_ text: String, parseSpecial: Bool = false) -> [Int32] {
        var out: [Int32] = []
        var text = text
        text.withUTF8 { bytes in
            out.reserveCapacity(bytes.count / 3)
            // Added tokens that are not special (user-defined) are always matched whole, as
            // tokenizers and llama.cpp do; special (control) ones only with parseSpecial.
            guard (parseSpecial && !tokenizer.addedTokens.isEmpty) || tokenizer.hasOrdinaryAddedTokens else {
                encodeOrdinary(bytes, first: true, into: &out)
                return
            }
            var start = 0, i = 0
            while i < bytes.count {
                if tokenizer.addedFirstBytes[Int(bytes[i])], let (len, id) = matchAdded(bytes, at: i, special: parseSpecial) {
                    // lstrip / rstrip: the token swallows the whitespace beside it (Unicode
                    // White_Space, what the \s of tokenizers' Rust regex matches).
                    var before = i, after = i + len
                    if let a = tokenizer.addedById[id] {
                        if a.lstrip { while before > start, let n = Self.whitespace(bytes, endingAt: before) { before -= n } }
                        if a.rstrip { while after < bytes.count, let n = Self.whitespace(bytes, at: after) { after += n } }
                    }
                    if before > start { encodeOrdinary(UnsafeBufferPointer(rebasing: bytes[start..<before]), first: start == 0, into: &out) }
                    out.append(id)
                    i = after
                    start = i
                } else {
                    i += 1
                }
            }
            if start < bytes.count { encodeOrdinary(UnsafeBufferPointer(rebasing: bytes[start...]), first: start == 0, into: &out) }
        }
        return out
    }

    @inline(__always) static func isASCIISpace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }

    /// The byte length of the White_Space scalar that starts at byte i of valid UTF-8, or nil.
    static func whitespace(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> Int? {
        if bytes[i] < 0x80 { return isASCIISpace(bytes[i]) ? 1 : nil }
        let (u, n) = UTF8Scalar.decode(bytes, at: i)
        return PreTokenizer.classify(u) == .space ? n : nil
    }

    /// The byte length of the White_Space scalar that ends just before byte i, or nil.
    static func whitespace(_ bytes: UnsafeBufferPointer<UInt8>, endingAt i: Int) -> Int? {
        var s = i - 1
        while s > 0 && i - s < 4 && bytes[s] & 0xC0 == 0x80 { s -= 1 }   // back over continuation bytes
        guard let n = whitespace(bytes, at: s), s + n == i else { return nil }
        return n
    }

    /// The longest added token at byte i (special ones only when `special`).
    func matchAdded(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int, special: Bool) -> (Int, Int32)? {
        guard let cands = tokenizer.addedByFirstByte[bytes[i]] else { return nil }
        for (b, id, isSpecial) in cands where b.count <= bytes.count - i && (special || !isSpecial) {
            var same = true
            for k in 1..<max(b.count, 1) where bytes[i + k] != b[k] { same = false; break }
            if same { return (b.count, id) }
        }
        return nil
    }

    /// Text between added tokens; `first` says whether it starts the text.
    mutating func encodeOrdinary(_ bytes: UnsafeBufferPointer<UInt8>, first: Bool, into out: inout [Int32]) {
        if let spm = tokenizer.sentencePiece {
            // The normalized text lives in one buffer the encoder keeps (taken out so it is
            // uniquely referenced while written, put back for the next segment).
            var text: [UInt8] = []
            swap(&text, &normalized)
            defer { swap(&text, &normalized) }
            spm.normalize(bytes, first: first, into: &text)
            text.withUnsafeBufferPointer { b in
                guard spm.splitsAtWordStarts else { spm.encode(b, into: &out); return }
                // No merge crosses a word start (outside a few crossing tokens): each word is
                // merged alone, and the encoder's cache serves repeated words.
                spm.words(b) { encodePiece(UnsafeBufferPointer(rebasing: b[$0..<$1]), into: &out) }
            }
            return
        }
        // NFC leaves ASCII unchanged: only text with other characters is normalized.
        if tokenizer.normalizer == .nfc, bytes.contains(where: { $0 >= 0x80 }) {
            var text = String(decoding: bytes, as: UTF8.self).precomposedStringWithCanonicalMapping
            text.withUTF8 { encodeSplit($0, into: &out) }
            return
        }
        encodeSplit(bytes, into: &out)
    }

    mutating func encodeSplit(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) {
        var pieces: [(Int, Int)] = []
        switch tokenizer.preTokenizer {
        case .smollm: PreTokenizer.split(bytes) { pieces.append(($0, $1)) }
        case .gpt2: PreTokenizer.splitGPT2(bytes) { pieces.append(($0, $1)) }
        case .llama3: PreTokenizer.splitCL100K(bytes, maxDigits: 3) { pieces.append(($0, $1)) }
        case .qwen2: PreTokenizer.splitCL100K(bytes, maxDigits: 1) { pieces.append(($0, $1)) }
        }
        for (s, e) in pieces { encodePiece(UnsafeBufferPointer(rebasing: bytes[s..<e]), into: &out) }
    }

    mutating func encodePiece(_ piece: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) {
        let n = piece.count
        guard n <= 16 else { encodeUncached(piece, into: &out); return }
        var a: UInt64 = 0, b: UInt64 = 0
        for k in 0..<n {
            if k < 8 { a |= UInt64(piece[k]) << (8 * UInt64(k)) } else { b |= UInt64(piece[k]) << (8 * UInt64(k - 8)) }
        }
        let key = PieceKey(a: a, b: b, n: UInt8(n))
        if let (start, count) = cache[key] {
            out.append(contentsOf: pool[Int(start)..<Int(start + count)])
            return
        }
        let before = out.count
        encodeUncached(piece, into: &out)
        if cache.count > 1_000_000 { cache.removeAll(keepingCapacity: true); pool.removeAll(keepingCapacity: true) }
        cache[key] = (Int32(pool.count), Int32(out.count - before))
        pool.append(contentsOf: out[before...])
    }

    func encodeUncached(_ piece: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) {
        if let spm = tokenizer.sentencePiece { spm.encode(piece, into: &out) }
        else { tokenizer.model.encodePiece(piece, into: &out) }
    }
}
