/// GPT-2's reversible byte → printable-character map: printable Latin-1 bytes stand for
/// themselves; the other 68 bytes, in order, map to U+0100 onwards (space → "Ġ", "\n" → "Ċ").
/// Vocabulary strings are written in these characters.
public enum ByteLevel {
    public static let byteToChar: [Character] = {
        var map = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            if printable { map[b] = UInt32(b) } else { map[b] = next; next += 1 }
        }
        return map.map { Character(Unicode.Scalar($0)!) }
    }()

    public static let charToByte: [Character: UInt8] = {
        var d: [Character: UInt8] = [:]
        for (b, c) in byteToChar.enumerated() { d[c] = UInt8(b) }
        return d
    }()

    /// The vocabulary spelling of raw bytes.
    public static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        String(bytes.map { byteToChar[Int($0)] })
    }

    /// The bytes a vocabulary string spells; nil if it holds a character outside the map.
    public static func decode(_ token: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(token.count)
        for c in token {
            guard let b = charToByte[c] else { return nil }
            out.append(b)
        }
        return out
    }
}
