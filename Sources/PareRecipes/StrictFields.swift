import Foundation

/// Decoding a job from YAML or JSON where every key present must be one the job knows and
/// every key absent keeps the job's default. Errors carry the key's full path.
struct StrictFields {
    let container: KeyedDecodingContainer<AnyKey>
    let path: [String]

    init(_ decoder: Decoder, known: [String]) throws {
        container = try decoder.container(keyedBy: AnyKey.self)
        path = decoder.codingPath.map(\.stringValue)
        for k in container.allKeys where !known.contains(k.stringValue) {
            let full = (path + [k.stringValue]).joined(separator: ".")
            let close = known.filter { editDistance($0, k.stringValue) <= 2 }
            throw RecipeError.failed("unknown key \"\(full)\"" + (close.isEmpty ? "" : " (did you mean \(close.joined(separator: " or "))?)")
                                     + "; known here: \(known.joined(separator: ", "))")
        }
    }

    /// Overwrites `value` when `key` is present.
    func read<T: Decodable>(_ key: String, _ value: inout T) throws {
        guard container.contains(AnyKey(key)) else { return }
        value = try container.decode(T.self, forKey: AnyKey(key))
    }

    /// For optional settings: present and null means nil (off), absent keeps the default.
    func read<T: Decodable>(_ key: String, _ value: inout T?) throws {
        guard container.contains(AnyKey(key)) else { return }
        value = try container.decodeNil(forKey: AnyKey(key)) ? nil : try container.decode(T.self, forKey: AnyKey(key))
    }
}

struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

/// Levenshtein distance, for "did you mean" on mistyped keys.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    var row = Array(0...b.count)
    for i in 1...max(a.count, 1) where !a.isEmpty {
        var prev = row[0]; row[0] = i
        for j in 1...max(b.count, 1) where !b.isEmpty {
            let cur = row[j]
            row[j] = min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1))
            prev = cur
        }
    }
    return row[b.count]
}
