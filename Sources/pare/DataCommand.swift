import ArgumentParser
import Foundation
import PareCore
import PareFormats
import PareModel
import PareRecipes

struct DataGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Prepare a corpus: split it, tokenize it into a Megatron indexed dataset, inspect the result.",
        subcommands: [DataPrepare.self, DataTokenize.self, DataInspect.self])
}

struct DataPrepare: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare",
        abstract: "Split a corpus into train/val/test JSONL files (one document per line, field \"text\").",
        discussion: "The split is decided by a stable hash of each document, so it is the same on every run.")
    static let d = PrepareJob()

    @Option(help: "wiki-summaries (bundled Wikipedia summaries: title + extract), a .jsonl file, a text file (blank-line separated documents) or a folder of them (default \(d.source)).")
    var source: String?
    @Option(help: "Output folder for train.jsonl, val.jsonl, test.jsonl.") var output: String
    @Option(parsing: .unconditional, help: "Fraction of documents for validation (default \(d.valFraction)).") var valFraction: Double?
    @Option(parsing: .unconditional, help: "Fraction of documents for test (default \(d.testFraction)).") var testFraction: Double?
    @Option(help: "Seed of the split's hash (default \(d.seed)).") var seed: UInt64?
    @Option(help: "Field holding the text in JSONL input (default \(d.jsonKey)).") var jsonKey: String?

    func run() throws {
        var job = PrepareJob()
        job.output = output
        if let v = source { job.source = v }; if let v = valFraction { job.valFraction = v }
        if let v = testFraction { job.testFraction = v }; if let v = seed { job.seed = v }; if let v = jsonKey { job.jsonKey = v }
        try runJob { try job.run(progress: .console) }
    }
}

struct DataTokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Tokenize a JSONL file into PREFIX_text_document.bin/.idx (Megatron's indexed dataset).")
    static let d = TokenizeJob()

    @Option(help: "Input JSONL file.") var input: String
    @Option(help: "Model whose tokenizer to use: a .gguf file or a Hugging Face directory.") var tokenizer: String
    @Option(help: "Output prefix; files are PREFIX_text_document.bin and .idx.") var outputPrefix: String
    @Option(help: "Field holding the text (default \(d.jsonKey)).") var jsonKey: String?
    @Flag(inversion: .prefixedNo, help: "End every document with the end-of-document token (default: on).") var appendEod: Bool?
    @Option(parsing: .unconditional, help: "Tokenizer threads (default: the cores, \(d.workers)).") var workers: Int?

    func run() throws {
        var job = TokenizeJob()
        job.input = input; job.tokenizer = tokenizer; job.outputPrefix = outputPrefix
        if let v = jsonKey { job.jsonKey = v }; if let v = appendEod { job.appendEod = v }; if let v = workers { job.workers = v }
        try runJob { try job.run(progress: .console) }
    }
}

struct DataInspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Counts of an indexed dataset, and a decoded document and training sample.")

    @Argument(help: "Dataset prefix (PREFIX_text_document, with or without the suffix).") var prefix: String
    @Option(help: "Model whose tokenizer decodes the sample (.gguf or HF directory).") var tokenizer: String?
    @Option(help: "Document to show.") var document = 0
    @Option(help: "Sequence length for the training-sample view.") var seqLength = 256

    func run() throws {
        guard seqLength >= 1 else { throw fail("--seq-length must be at least 1, not \(seqLength)") }
        let p = DataPrefix.resolve(prefix)
        let ds: IndexedDataset
        do { ds = try IndexedDataset(prefix: p) } catch let e as FormatError { throw fail("\(e)") }
        let lengths = ds.lengths.map(Int.init)
        print("\(p): \(ds.documentCount) documents, \(ds.tokenCount) tokens (\(ds.tokenType == .uint16 ? "uint16" : "int32") ids)")
        if let mx = lengths.max(), let mn = lengths.min() {
            print("tokens per document: min \(mn), mean \(ds.tokenCount / max(1, lengths.count)), max \(mx)")
        }
        print("samples of \(seqLength + 1) tokens per epoch: \(max(0, (ds.tokenCount - 1) / seqLength))")
        guard document >= 0 && document < ds.sequenceCount else { throw fail("--document must be in 0..<\(ds.sequenceCount)") }
        let ids = ds.sequence(document)
        print("document \(document): \(ids.count) tokens: \(ids.prefix(24).map(String.init).joined(separator: " "))\(ids.count > 24 ? " …" : "")")
        if let t = tokenizer {
            do {
                let tok = try Tokenizer(path: t)
                print("decoded: \(String(reflecting: String(tok.decode(ids).prefix(400))))")
            } catch let e as FormatError { throw fail("\(e)") }
        }
    }
}
