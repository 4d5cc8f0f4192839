import Foundation
import PareCore

/// Which tokenizer wrote an indexed dataset: `PREFIX.tokenizer.json` beside the .bin/.idx.
/// Ids are only meaningful for the tokenizer that made them, and data tokenized for another
/// model often fits the vocabulary, so without this a run on the wrong data goes unnoticed.
public struct DatasetTokenizer: Codable, Equatable, Sendable {
    /// `Tokenizer.contentHash` of the tokenizer used.
    public var hash: String
    public var vocabularySize: Int
    /// The model or tokenizer path given to `pare data tokenize` (for messages only).
    public var source: String

    public init(_ tokenizer: Tokenizer, source: String) {
        hash = tokenizer.contentHash; vocabularySize = tokenizer.vocabularySize; self.source = source
    }

    enum CodingKeys: String, CodingKey { case hash = "tokenizer_hash", vocabularySize = "vocabulary_size", source = "tokenizer" }

    /// The sidecar of the dataset at `prefix` (the resolved one, e.g. NAME_text_document).
    public static func path(prefix: String) -> String { prefix + ".tokenizer.json" }

    /// The record beside the dataset at `prefix`, or nil for data tokenized before it was kept.
    public static func read(prefix: String) throws -> DatasetTokenizer? {
        let p = path(prefix: prefix)
        guard let d = FileManager.default.contents(atPath: p) else { return nil }
        do { return try JSONDecoder().decode(DatasetTokenizer.self, from: d) }
        catch { throw FormatError.corrupt(path: p, message: "is not a tokenizer record; re-run pare data tokenize to write it again") }
    }

    public func write(prefix: String) throws {
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        try AtomicFileWriter.write(try enc.encode(self), to: DatasetTokenizer.path(prefix: prefix))
    }
}

extension Tokenizer {
    /// FNV-1a over the bytes every id decodes to, in id order: equal for the same vocabulary
    /// read from a GGUF or a tokenizer.json, different as soon as one id means another text.
    public var contentHash: String {
        var h = FNV1a()
        h.mix(word: UInt64(tokenBytes.count))
        for t in tokenBytes { h.mix(word: UInt64(t.count)); h.mix(t) }
        return h.hex
    }
}
