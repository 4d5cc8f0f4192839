import Foundation
import PareCore
import PareFormats

/// `data prepare`: splits a corpus into train/val/test JSONL (one document per line, field
/// "text"). The split is a stable hash of each document, the same on every run.
public struct PrepareJob: Equatable, JobSettings {
    public var source = BundledAssets.corpusName   // wiki-summaries, a .jsonl, a text file or a folder of them
    public var output = ""                         // folder for train.jsonl, val.jsonl, test.jsonl
    public var valFraction = 0.025
    public var testFraction = 0.025
    public var seed: UInt64 = 1234                 // seed of the split's hash
    public var jsonKey = "text"                    // field holding the text in JSONL input

    public init() {}

    public static let settings: [Setting<PrepareJob>] = [
        Setting("source", \.source, "wiki-summaries (bundled Wikipedia summaries: title + extract), a .jsonl file, a text file (blank-line separated documents) or a folder of them."),
        Setting("output", \.output, "Output folder for train.jsonl, val.jsonl, test.jsonl."),
        Setting("val_fraction", \.valFraction, "Fraction of documents for validation.",
                check: { $0 >= 0 && $0 < 1 ? nil : "must be in [0, 1), not \($0)" }),
        Setting("test_fraction", \.testFraction, "Fraction of documents for test."),
        Setting("seed", \.seed, "Seed of the split's hash."),
        Setting("json_key", \.jsonKey, "Field holding the text in JSONL input."),
    ]

    /// The files the split is made from (for fingerprints).
    public var inputs: [String] { source == BundledAssets.corpusName ? [BundledAssets.corpus] : [source] }

    public func validate() throws {
        guard !output.isEmpty else { throw RecipeError.invalid("output", "is required: the folder for the splits") }
        try checkRanges()
        guard testFraction >= 0, valFraction + testFraction < 1 else {
            throw RecipeError.invalid("test_fraction", "must be ≥ 0 and leave documents for training (with val_fraction \(valFraction)), not \(testFraction)")
        }
    }

    /// Writes the three splits; returns their document counts.
    @discardableResult
    public func run(progress: Progress) throws -> [String: Int] {
        try validate()
        let all = try TextSources.documents(source, jsonKey: jsonKey, cache: BundledAssets.cache)
        // Texts that are empty or only whitespace are not documents: they would tokenize to nothing.
        let docs = all.filter { !$0.allSatisfy(\.isWhitespace) }
        guard !docs.isEmpty else {
            throw RecipeError.invalid("source", "\(source) holds no documents with text (\(all.count) entries, all empty or whitespace\(all.isEmpty ? "" : "; check \(SettingName.ref("json_key")), now \"\(jsonKey)\"")))")
        }
        do { try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true) }
        catch { throw RecipeError.failed("cannot create \(output): \(SystemErrorText.reason(error))") }
        var parts: [DocumentSplit.Part: [String]] = [:]
        for d in docs {
            parts[DocumentSplit.part(of: d, valFraction: valFraction, testFraction: testFraction, seed: seed), default: []].append(d)
        }
        guard parts[.train]?.isEmpty == false else {
            throw RecipeError.invalid("source", "\(source) has \(docs.count) documents, none of which falls in the train split; add documents or lower \(SettingName.ref("val_fraction")) and \(SettingName.ref("test_fraction"))")
        }
        progress.say("split | documents | bytes | file")
        var counts: [String: Int] = [:]
        for p in DocumentSplit.Part.allCases {
            let list = parts[p] ?? []
            let text = list.map { TextSources.jsonLine($0) }.joined(separator: "\n") + (list.isEmpty ? "" : "\n")
            let path = output + "/\(p.rawValue).jsonl"
            try AtomicFileWriter.write(Data(text.utf8), to: path)
            progress.say("\(p.rawValue) | \(list.count) | \(list.reduce(0) { $0 + $1.utf8.count }) | \(path)")
            counts[p.rawValue] = list.count
        }
        return counts
    }
}

/// As the pipeline runs it (in the YAML section `data`).
extension PrepareJob: RecipeJob {
    public static let section = "data"
    public func runStep(progress: Progress) throws { _ = try run(progress: progress) }
}
