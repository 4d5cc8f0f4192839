/// SmolLM2's pre-tokenizer (tokenizer.json: Sequence[Digits(individual_digits: true),
/// ByteLevel(use_regex: true)]), over UTF-8 bytes:
///  1. every numeric character (\p{N}) becomes its own piece;
///  2. the rest is split by GPT-2's pattern
///     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
/// implemented by hand (a regex engine is the slowest part of tokenizers that use one).
enum CharClass: UInt8 { case letter, number, space, other }

struct PreTokenizer {
    /// Classes of ASCII bytes; other scalars are looked up by Unicode general category.
    static let asciiClass: [CharClass] = (0..<128).map { b in
        let s = Unicode.Scalar(UInt8(b))
        if s.properties.isWhitespace { return .space }
        if (65...90).contains(b) || (97...122).contains(b) { return .letter }
        if (48...57).contains(b) { return .number }
        return .other
    }

    @inline(__always)
    static func classify(_ v: UInt32) -> CharClass {
        if v < 128 { return asciiClass[Int(v)] }
        guard let s = Unicode.Scalar(v) else { return .other }
        if s.properties.isWhitespace { return .space }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    /// Calls `piece(start, end)` with byte ranges of `bytes` that tile it.
    static func split(_ bytes: UnsafeBufferPointer<UInt8>, _ piece: (Int, Int) -> Void) {
        let (starts, classes, values) = scalars(bytes)
        // Segments between numeric characters; each numeric character alone.
        var segStart = 0
        let count = classes.count
        for k in 0...count {
            if k == count || classes[k] == .number {
                if k > segStart { gpt2Split(segStart, k, starts, classes, values, piece) }
                if k < count { piece(starts[k], starts[k + 1]) }
                segStart = k + 1
            }
        }
    }

    /// GPT-2's pattern alone (numbers grouped by ` ?\p{N}+`).
    static func splitGPT2(_ bytes: UnsafeBufferPointer<UInt8>, _ piece: (Int, Int) -> Void) {
        let (starts, classes, values) = scalars(bytes)
        gpt2Split(0, classes.count, starts, classes, values, piece)
    }

    /// The Llama 3 (tiktoken cl100k-style) pattern, and Qwen2's (`maxDigits` 1 instead of 3):
    ///   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
    /// The alternatives are tried in order at each position, as the regex engines do
    /// (leftmost alternative that matches, each quantifier greedy).
    static func splitCL100K(_ bytes: UnsafeBufferPointer<UInt8>, maxDigits: Int, _ piece: (Int, Int) -> Void) {
        let (starts, cls, val) = scalars(bytes)
        let hi = cls.count
        @inline(__always) func isNewline(_ k: Int) -> Bool { val[k] == 0x0A || val[k] == 0x0D }
        var i = 0
        while i < hi {
            let end = cl100kMatch(i, hi, cls, val, maxDigits, isNewline)
            piece(starts[i], starts[end])
            i = end
        }
    }

    /// End (exclusive, in scalars) of the cl100k-style match starting at scalar i.
    @inline(__always)
    static func cl100kMatch(_ i: Int, _ hi: Int, _ cls: [CharClass], _ val: [UInt32], _ maxDigits: Int, _ isNewline: (Int) -> Bool) -> Int {
        // (?i:'s|'t|'re|'ve|'m|'ll|'d): case-insensitive, so 'S and 'ſ (U+017F folds to s) too.
        if val[i] == 0x27 && i + 1 < hi {
            let a = val[i + 1] < 128 ? val[i + 1] | 0x20 : val[i + 1]
            if a == 0x73 || a == 0x17F || a == 0x74 || a == 0x6D || a == 0x64 { return i + 2 }
            if i + 2 < hi {
                let b = val[i + 2] < 128 ? val[i + 2] | 0x20 : val[i + 2]
                if (a == 0x72 && b == 0x65) || (a == 0x76 && b == 0x65) || (a == 0x6C && b == 0x6C) { return i + 3 }
            }
        }
        let c = cls[i]
        // [^\r\n\p{L}\p{N}]?\p{L}+: letters, optionally after one character that is neither a
        // letter, a number nor a line break (a space, a tab, punctuation, an emoji, a mark).
        var j = i
        if c != .letter && c != .number && !isNewline(i) && i + 1 < hi && cls[i + 1] == .letter { j = i + 1 }
        if cls[j] == .letter {
            var end = j + 1
            while end < hi && cls[end] == .letter { end += 1 }
            return end
        }
        // \p{N}{1,maxDigits}
        if c == .number {
            var end = i + 1
            while end < hi && end - i < maxDigits && cls[end] == .number { end += 1 }
            return end
        }
        //  ?[^\s\p{L}\p{N}]+[\r\n]*
        let k = (val[i] == 0x20 && i + 1 < hi) ? i + 1 : i
        if cls[k] == .other {
            var end = k + 1
            while end < hi && cls[end] == .other { end += 1 }
            while end < hi && isNewline(end) { end += 1 }
            return end
        }
        // Whitespace (cls[i] is .space here): \s*[\r\n]+ ends at the run's last line break;
        // otherwise \s+(?!\S) leaves the run's last character to the next piece, and \s+ takes
        // a single whitespace character before a non-space.
        var end = i
        var lastNewline = -1
        while end < hi && cls[end] == .space { if isNewline(end) { lastNewline = end }; end += 1 }
        if lastNewline >= 0 { return lastNewline + 1 }
        if end == hi { return end }
        return end - i >= 2 ? end - 1 : i + 1
    }

    /// GPT-2's pattern over scalars [lo, hi).
    static func gpt2Split(_ lo: Int, _ hi: Int, _ starts: [Int], _ cls: [CharClass], _ val: [UInt32], _ piece: (Int, Int) -> Void) {
        var i = lo
        let apostrophe: UInt32 = 0x27, space: UInt32 = 0x20
        while i < hi {
            var end = i
            // 's 't 're 've 'm 'll 'd (case-sensitive)
            if val[i] == apostrophe && i + 1 < hi {
                let a = val[i + 1]
                if a == 0x73 || a == 0x74 || a == 0x6D || a == 0x64 { end = i + 2 }
                else if i + 2 < hi {
                    let b = val[i + 2]
                    if (a == 0x72 && b == 0x65) || (a == 0x76 && b == 0x65) || (a == 0x6C && b == 0x6C) { end = i + 3 }
                }
            }
            if end == i {
                // ` ?\p{L}+` | ` ?\p{N}+` | ` ?[^\s\p{L}\p{N}]+`: an optional space, then a run of one class.
                let j = (val[i] == space && i + 1 < hi) ? i + 1 : i
                let c = cls[j]
                if c != .space {
                    end = j + 1
                    while end < hi && cls[end] == c { end += 1 }
                } else {
                    // `\s+(?!\S)` then `\s+`: a whitespace run, leaving its last character to
                    // prefix the next word when one follows.
                    var k = i
                    while k < hi && cls[k] == .space { k += 1 }
                    end = k == hi ? k : (k - i >= 2 ? k - 1 : i + 1)
                }
            }
            piece(starts[i], starts[end])
            i = end
        }
    }

    /// Decodes the scalars once: starts[k] is the byte offset of scalar k (plus a final
    /// entry for the end), classes[k] its class, values[k] its code point.
    static func scalars(_ bytes: UnsafeBufferPointer<UInt8>) -> ([Int], [CharClass], [UInt32]) {
        let n = bytes.count
        var starts: [Int] = [], classes: [CharClass] = [], values: [UInt32] = []
        starts.reserveCapacity(n + 1); classes.reserveCapacity(n); values.reserveCapacity(n)
        var i = 0
        while i < n {
            let (v, len) = UTF8Scalar.decode(bytes, at: i)
            starts.append(i); classes.append(classify(v)); values.append(v)
            i += len
        }
        starts.append(n)
        return (starts, classes, values)
    }
}
