import Foundation

/// A training-data spec as NeMo's `data_prefix`: one indexed-dataset prefix ("A"), or weighted
/// prefixes ("0.7 A 0.3 B", spaces or commas between). A prefix may name the files with or
/// without Megatron's `_text_document` suffix.
public struct DataPrefix: Equatable, Sendable {
    public let parts: [(weight: Double, prefix: String)]

    public static func == (a: DataPrefix, b: DataPrefix) -> Bool {
        a.parts.map(\.weight) == b.parts.map(\.weight) && a.parts.map(\.prefix) == b.parts.map(\.prefix)
    }

    /// Parses the spec; the error says what is wrong with it (the caller names the field).
    public init(_ spec: String) throws {
        let words = spec.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
        guard !words.isEmpty else { throw DataPrefixError("\"\(spec)\" names no dataset") }
        if words.count == 1 { parts = [(1, words[0])]; return }
        guard words.count % 2 == 0 else { throw DataPrefixError("\"\(spec)\": give one prefix, or weight/prefix pairs") }
        var p: [(Double, String)] = []
        for i in stride(from: 0, to: words.count, by: 2) {
            guard let w = Double(words[i]), w > 0, w.isFinite else {
                throw DataPrefixError("\"\(spec)\": \"\(words[i])\" is not a positive weight")
            }
            p.append((w, words[i + 1]))
        }
        parts = p
    }

    /// The weights normalised to sum to 1.
    public var shares: [Double] {
        let total = parts.reduce(0) { $0 + $1.weight }
        return parts.map { $0.weight / total }
    }

    /// The prefix of the files on disk: as given when PREFIX.idx exists, else PREFIX_text_document.
    public static func resolve(_ prefix: String) -> String {
        FileManager.default.fileExists(atPath: prefix + ".idx") || prefix.hasSuffix("_text_document") ? prefix : prefix + "_text_document"
    }

    /// Opens every dataset and blends their sample streams by weight.
    public func stream(seqLength: Int, seed: UInt64) throws -> BlendedSampleStream {
        let streams = try parts.map { try GPTSampleStream(dataset: IndexedDataset(prefix: DataPrefix.resolve($0.prefix)), seqLength: seqLength, seed: seed) }
        return BlendedSampleStream(streams: streams, weights: parts.map(\.weight))
    }
}
