import Foundation

/// The `model.vocab` object of a tokenizer.json read and written as raw JSON text, entry by entry.
/// A Swift dictionary keyed by String cannot hold it: Swift compares strings by canonical
/// equivalence, so distinct tokens such as "Å" (U+00C5) and "Å" (U+212B), or "é" and
/// "e\u{301}", would become one (SentencePiece vocabularies have such pairs).
enum VocabJSON {
    /// (token, id) pairs of the first `"vocab": {…}` object in `data`, in file order; nil if
    /// there is none or it is not an object of strings to integers.
    static func entries(_ data: Data) -> [(String, Int)]? {
        let b = [UInt8](data)
        guard var i = valueStart(b, key: "vocab", opening: 0x7B) else { return nil }
        var out: [(String, Int)] = []
        let ok = forEachItem(b, &i, closing: 0x7D) { i in
            guard let s = stringLiteral(b, &i), expect(b, &i, 0x3A) else { return false }
            skipWhitespace(b, &i)
            var n = 0, digits = 0
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { n = n * 10 + Int(b[i] - 0x30); i += 1; digits += 1 }
            out.append((s, n))
            return digits > 0
        }
        return ok ? out : nil
    }

    /// The merges of the first `"merges": […]` array: ["A", "B"] pairs or "A B" strings.
    /// (Foundation's JSON parser also drops U+FEFF inside strings, which vocabularies hold.)
    static func merges(_ data: Data) -> [(String, String)]? {
        let b = [UInt8](data)
        guard var i = valueStart(b, key: "merges", opening: 0x5B) else { return nil }
        var out: [(String, String)] = []
        let ok = forEachItem(b, &i, closing: 0x5D) { i in
            if b[i] == 0x5B {
                i += 1
                guard let l = stringLiteral(b, &i), expect(b, &i, 0x2C), let r = stringLiteral(b, &i), expect(b, &i, 0x5D) else { return false }
                out.append((l, r))
                return true
            }
            guard let m = stringLiteral(b, &i), let sp = m.unicodeScalars.firstIndex(of: " ") else { return false }
            out.append((String(m.unicodeScalars[..<sp]), String(m.unicodeScalars[m.unicodeScalars.index(after: sp)...])))
            return true
        }
        return ok ? out : nil
    }

    /// Calls `item` for each comma-separated item up to `closing` (] or }); `i` starts after the
    /// opening bracket and `item` starts at the item's first byte. False if anything is malformed.
    static func forEachItem(_ b: [UInt8], _ i: inout Int, closing: UInt8, _ item: (inout Int) -> Bool) -> Bool {
        skipWhitespace(b, &i)
        if i < b.count, b[i] == closing { i += 1; return true }
        while i < b.count {
            skipWhitespace(b, &i)
            guard i < b.count, item(&i) else { return false }
            skipWhitespace(b, &i)
            guard i < b.count else { return false }
            if b[i] == 0x2C { i += 1; continue }
            if b[i] == closing { i += 1; return true }
            return false
        }
        return false
    }

    /// Whitespace, then byte `c`.
    static func expect(_ b: [UInt8], _ i: inout Int, _ c: UInt8) -> Bool {
        skipWhitespace(b, &i)
        guard i < b.count, b[i] == c else { return false }
        i += 1
        return true
    }

    /// Whitespace, then a string literal.
    static func stringLiteral(_ b: [UInt8], _ i: inout Int) -> String? {
        skipWhitespace(b, &i)
        return i < b.count && b[i] == 0x22 ? string(b, &i) : nil
    }

    /// Index just after the opening bracket of the value of the first `"key":` followed by
    /// `opening` ({ or [), skipping string literals elsewhere.
    static func valueStart(_ b: [UInt8], key name: String, opening: UInt8) -> Int? {
        let key = Array("\"\(name)\"".utf8)
        var i = 0
        func skipSpace() { skipWhitespace(b, &i) }
        while i + key.count <= b.count {
            guard let at = b[i...].firstIndex(of: 0x22) else { return nil }
            i = at
            if Array(b[i..<min(i + key.count, b.count)]) == key {
                i += key.count; skipSpace()
                if i < b.count, b[i] == 0x3A { i += 1; skipSpace(); if i < b.count, b[i] == opening { return i + 1 } }
                continue
            }
            // Skip this string literal whole (it may contain escaped quotes).
            i += 1
            while i < b.count, b[i] != 0x22 { i += b[i] == 0x5C ? 2 : 1 }
            i += 1
        }
        return nil
    }

    /// A JSON string literal starting at b[i] (the quote); leaves i after the closing quote.
    static func string(_ b: [UInt8], _ i: inout Int) -> String? {
        i += 1
        var bytes: [UInt8] = []
        while i < b.count {
            let c = b[i]
            if c == 0x22 { i += 1; return String(decoding: bytes, as: UTF8.self) }
            if c != 0x5C { bytes.append(c); i += 1; continue }
            guard i + 1 < b.count else { return nil }
            let e = b[i + 1]; i += 2
            switch e {
            case 0x22, 0x5C, 0x2F: bytes.append(e)
            case 0x62: bytes.append(0x08)
            case 0x66: bytes.append(0x0C)
            case 0x6E: bytes.append(0x0A)
            case 0x72: bytes.append(0x0D)
            case 0x74: bytes.append(0x09)
            case 0x75:
                guard var u = hex4(b, i) else { return nil }
                i += 4
                if (0xD800..<0xDC00).contains(u), i + 6 <= b.count, b[i] == 0x5C, b[i + 1] == 0x75, let lo = hex4(b, i + 2), (0xDC00..<0xE000).contains(lo) {
                    u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00)
                    i += 6
                }
                bytes += Array(String(Unicode.Scalar(u).map(Character.init) ?? "\u{FFFD}").utf8)
            default: return nil
            }
        }
        return nil
    }

    static func skipWhitespace(_ b: [UInt8], _ i: inout Int) {
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
    }

    static func hex4(_ b: [UInt8], _ i: Int) -> UInt32? {
        guard i + 4 <= b.count, let v = UInt32(String(decoding: b[i..<i + 4], as: UTF8.self), radix: 16) else { return nil }
        return v
    }

    /// `{"token": id, …}` as JSON text, in id order.
    static func text(_ entries: [(String, Int)]) -> String {
        var s = "{"
        for (k, (t, id)) in entries.enumerated() {
            if k > 0 { s += "," }
            s += JSONString.quoted(t) + ":" + String(id)
        }
        return s + "}"
    }
}
