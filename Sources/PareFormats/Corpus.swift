import Foundation

/// The bundled Wikipedia summaries (`summaries_en-us.json`: title → {title, extract}, ~10,000
/// vital articles), in file order. A document is `title + "\n" + extract`.
public enum Corpus {
    public static func documents(path: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FormatError.io(path: path, message: "cannot read the corpus; run scripts/setup")
        }
        // JSONSerialization loses key order, so walk the top-level object's keys in order.
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw FormatError.corrupt(path: path, message: "not a JSON object of articles")
        }
        let order = try topLevelKeyOrder(data, path: path)
        return try order.map { key in
            guard let a = root[key] as? [String: Any], let title = a["title"] as? String, let extract = a["extract"] as? String else {
                throw FormatError.corrupt(path: path, message: "article \"\(key)\" lacks title or extract")
            }
            return title + "\n" + extract
        }
    }

    /// Keys of the top-level JSON object in file order (decoded as JSON strings).
    static func topLevelKeyOrder(_ data: Data, path: String) throws -> [String] {
        var keys: [String] = []
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let b = raw.bindMemory(to: UInt8.self)
            var depth = 0, i = 0, expectKey = false
            while i < b.count {
                let c = b[i]
                if c == UInt8(ascii: "\"") {
                    // Scan the string, honouring escapes.
                    let start = i
                    i += 1
                    while i < b.count && b[i] != UInt8(ascii: "\"") { i += b[i] == UInt8(ascii: "\\") ? 2 : 1 }
                    if depth == 1 && expectKey {
                        let lit = Data(b[start...i])
                        guard let s = try? JSONSerialization.jsonObject(with: lit, options: .fragmentsAllowed) as? String else {
                            throw FormatError.corrupt(path: path, message: "bad key at byte \(start)")
                        }
                        keys.append(s)
                        expectKey = false
                    }
                } else if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
                    depth += 1
                    if depth == 1 { expectKey = true }
                } else if c == UInt8(ascii: "}") || c == UInt8(ascii: "]") {
                    depth -= 1
                } else if c == UInt8(ascii: ",") && depth == 1 {
                    expectKey = true
                }
                i += 1
            }
        }
        return keys
    }
}
