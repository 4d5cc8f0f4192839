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
    static let configuration = jobConfiguration("prepare", PrepareJob.self, abstract: "Split a corpus into train/val/test JSONL files (one document per line, field \"text\").",
                                                usage: "pare data prepare --output <dir> [--source <path>] [<setting> ...]",
                                                discussion: "The split is decided by a stable hash of each document, so it is the same on every run.")
    @OptionGroup var options: JobOptions
    func run() throws { try options.run(PrepareJob.self) { try $0.run(progress: .console) } }
}

struct DataTokenize: ParsableCommand {
    static let configuration = jobConfiguration("tokenize", TokenizeJob.self, abstract: "Tokenize a JSONL file into PREFIX_text_document.bin/.idx (Megatron's indexed dataset).",
                                                usage: "pare data tokenize --input <file> --tokenizer <path> --output-prefix <prefix> [<setting> ...]")
    @OptionGroup var options: JobOptions
    func run() throws { try options.run(TokenizeJob.self) { try $0.run(progress: .console) } }
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
