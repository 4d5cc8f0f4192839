import Foundation
import PareCore

/// Documents from a corpus argument: `wiki-summaries` (the bundled Wikipedia summaries), a
/// JSONL file (one document per line, text under `jsonKey`), a plain-text file (documents
/// separated by blank lines), or a folder of such files (in name order, recursively).
public enum TextSources {
    public static func documents(_ spec: String, jsonKey: String = "text", cache: String) throws -> [String] {
        if spec == "wiki-summaries" { return try Corpus.documents(path: cache + "/summaries_en-us.json") }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: spec, isDirectory: &isDir) else {
            throw FormatError.io(path: spec, message: "no such file or folder (or use wiki-summaries for the bundled corpus)")
        }
        if isDir.boolValue {
            guard let walker = FileManager.default.enumerator(atPath: spec) else { throw FormatError.io(path: spec, message: "cannot list the folder") }
            let files = (walker.allObjects as? [String] ?? []).filter { $0.hasSuffix(".jsonl") || $0.hasSuffix(".txt") }.sorted()
            guard !files.isEmpty else { throw FormatError.io(path: spec, message: "the folder holds no .jsonl or .txt files") }
            return try files.flatMap { try documents(spec + "/" + $0, jsonKey: jsonKey, cache: cache) }
        }
        if spec.hasSuffix(".jsonl") || spec.hasSuffix(".json") { return try JSONLText.read(path: spec, key: jsonKey) }
        guard let data = FileManager.default.contents(atPath: spec) else { throw FormatError.io(path: spec, message: "cannot read the file") }
        guard let text = String(data: data, encoding: .utf8) else { throw FormatError.corrupt(path: spec, message: "not UTF-8 text") }
        return blankLineBlocks(text)
    }

    /// Blocks of text separated by one or more blank lines, trimmed; empty blocks dropped.
    public static func blankLineBlocks(_ text: String) -> [String] {
        var out: [String] = [], current: [Substring] = []
        // "\r\n" is one Character in Swift, so normalise line endings before splitting.
        let text = text.replacingOccurrences(of: "\r\n", with: "\n")
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.allSatisfy({ $0.isWhitespace }) {
                if !current.isEmpty { out.append(current.joined(separator: "\n")); current.removeAll() }
            } else {
                current.append(line)
            }
        }
        if !current.isEmpty { out.append(current.joined(separator: "\n")) }
        return out
    }

    /// A JSONL line {"text": …}.
    public static func jsonLine(_ text: String, key: String = "text") -> String {
        "{" + JSONString.quoted(key) + ": " + JSONString.quoted(text) + "}"
    }
}

/// Deterministic document split by a stable hash of the text (FNV-1a 64, mixed with the
/// seed): the same document lands in the same split on every run and machine, whatever the
/// order or the other documents.
public enum DocumentSplit {
    public enum Part: String, CaseIterable { case train, val, test }

    public static func part(of text: String, valFraction: Double, testFraction: Double, seed: UInt64) -> Part {
        var z = FNV1a.hash(text.utf8) ^ (seed &* 0x9E37_79B9_7F4A_7C15)
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        let u = Double(z >> 11) / Double(1 << 53)
        if u < valFraction { return .val }
        if u < valFraction + testFraction { return .test }
        return .train
    }
}
