import ArgumentParser
import Dispatch
import Foundation
import PareCore
import PareFormats
import PareModel
import PareTrain

struct DataGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Prepare a corpus: split it, tokenize it into a Megatron indexed dataset, inspect the result.",
        subcommands: [DataPrepare.self, DataTokenize.self, DataInspect.self])
}

var pareCache: String { ProcessInfo.processInfo.environment["PARE_CACHE"] ?? (NSHomeDirectory() + "/.cache/pare") }

struct DataPrepare: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare",
        abstract: "Split a corpus into train/val/test JSONL files (one document per line, field \"text\").",
        discussion: "The split is decided by a stable hash of each document, so it is the same on every run.")

    @Option(help: "wiki-summaries (bundled Wikipedia summaries: title + extract), a .jsonl file, a text file (blank-line separated documents) or a folder of them.")
    var source = "wiki-summaries"
    @Option(help: "Output folder for train.jsonl, val.jsonl, test.jsonl.") var output: String
    @Option(help: "Fraction of documents for validation.") var valFraction = 0.025
    @Option(help: "Fraction of documents for test.") var testFraction = 0.025
    @Option(help: "Seed of the split's hash.") var seed: UInt64 = 1234
    @Option(help: "Field holding the text in JSONL input.") var jsonKey = "text"

    func run() throws {
        guard valFraction >= 0, testFraction >= 0, valFraction + testFraction < 1 else {
            throw fail("--val-fraction and --test-fraction must be ≥ 0 and leave documents for training")
        }
        let docs: [String]
        do { docs = try TextSources.documents(source, jsonKey: jsonKey, cache: pareCache) } catch let e as FormatError { throw fail("\(e)") }
        guard !docs.isEmpty else { throw fail("\(source) holds no documents") }
        do { try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true) }
        catch { throw fail("cannot create \(output): \(error.localizedDescription)") }
        var parts: [DocumentSplit.Part: [String]] = [:]
        for d in docs where !d.isEmpty {
            parts[DocumentSplit.part(of: d, valFraction: valFraction, testFraction: testFraction, seed: seed), default: []].append(d)
        }
        print("split | documents | bytes | file")
        for p in DocumentSplit.Part.allCases {
            let list = parts[p] ?? []
            let text = list.map { TextSources.jsonLine($0) }.joined(separator: "\n") + (list.isEmpty ? "" : "\n")
            let path = output + "/\(p.rawValue).jsonl"
            do { try AtomicFileWriter.write(Data(text.utf8), to: path) } catch let e as FormatError { throw fail("\(e)") }
            print("\(p.rawValue) | \(list.count) | \(list.reduce(0) { $0 + $1.utf8.count }) | \(path)")
        }
    }
}

struct DataTokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Tokenize a JSONL file into PREFIX_text_document.bin/.idx (Megatron's indexed dataset).")

    @Option(help: "Input JSONL file.") var input: String
    @Option(help: "Model whose tokenizer to use: a .gguf file or a Hugging Face directory.") var tokenizer: String
    @Option(help: "Output prefix; files are PREFIX_text_document.bin and .idx.") var outputPrefix: String
    @Option(help: "Field holding the text.") var jsonKey = "text"
    @Flag(help: "Append the end-of-document token to every document.") var appendEod = false
    @Option(help: "Tokenizer threads.") var workers = ProcessInfoLite.activeProcessorCount

    func run() throws {
        guard workers >= 1 else { throw fail("--workers must be at least 1") }
        let tok: Tokenizer
        let docs: [String]
        do {
            tok = tokenizer.hasSuffix(".gguf") ? try Tokenizer(gguf: GGUFFile(path: tokenizer)) : try Tokenizer(directory: tokenizer)
            docs = try JSONLText.read(path: input, key: jsonKey)
        } catch let e as FormatError { throw fail("\(e)") }
        guard let eod = tok.eosTokenId ?? (appendEod ? nil : 0) else { throw fail("--append-eod: the tokenizer has no end-of-sequence token") }
        let prefix = outputPrefix + "_text_document"
        let totalBytes = docs.reduce(0) { $0 + $1.utf8.count }
        let writer: IndexedDatasetWriter
        do { writer = try IndexedDatasetWriter(prefix: prefix, tokenType: .forVocabulary(tok.vocabularySize)) }
        catch let e as FormatError { throw fail("\(e)") }
        // Workers encode contiguous slices of a batch with their own caches; batches are
        // written in order, so the output does not depend on the worker count.
        var encoders = (0..<workers).map { _ in TokenEncoder(tok) }
        let batchSize = 2048
        var done = 0, doneBytes = 0, skipped = 0
        let t0 = ProcessInfoLite.now()
        var lastPrint = 0.0
        var err = StandardError()
        while done < docs.count {
            let batch = Array(docs[done..<min(docs.count, done + batchSize)])
            var results = [[Int32]](repeating: [], count: batch.count)
            let n = batch.count, w = min(workers, n)
            let box = UncheckedBox((UnsafeMutablePointer<[Int32]>.allocate(capacity: n), UnsafeMutablePointer<TokenEncoder>.allocate(capacity: w)))
            box.value.0.initialize(repeating: [], count: n)
            box.value.1.initialize(from: encoders, count: w)
            DispatchQueue.concurrentPerform(iterations: w) { k in
                let (out, enc) = box.value
                for i in (n * k / w)..<(n * (k + 1) / w) { out[i] = enc[k].encode(batch[i]) }
            }
            for i in 0..<n { results[i] = box.value.0[i] }
            for k in 0..<w { encoders[k] = box.value.1[k] }
            box.value.0.deinitialize(count: n); box.value.0.deallocate()
            box.value.1.deinitialize(count: w); box.value.1.deallocate()
            for var ids in results {
                if ids.isEmpty { skipped += 1; continue }   // empty documents are skipped, as Megatron does
                if appendEod { ids.append(eod) }
                do { try writer.add(ids) } catch let e as FormatError { writer.abort(); throw fail("\(e)") }
            }
            done += n
            doneBytes += batch.reduce(0) { $0 + $1.utf8.count }
            let el = ProcessInfoLite.now() - t0
            if el - lastPrint > 0.5 || done == docs.count {
                lastPrint = el
                let rate = Double(doneBytes) / max(el, 1e-9)
                print(String(format: "\r  %d/%d documents, %.1f MB/s, ETA %.0f s   ", done, docs.count, rate / 1e6,
                             Double(totalBytes - doneBytes) / max(rate, 1)), terminator: "", to: &err)
            }
        }
        print("", to: &err)
        do { try writer.finish() } catch let e as FormatError { throw fail("\(e)") }
        let el = ProcessInfoLite.now() - t0
        print(String(format: "%@: %d documents (%d empty skipped), %d tokens, %@ ids, %.2f MB in %.2f s = %.2f MB/s with %d workers",
                     prefix, writer.documentCount, skipped, writer.tokenCount, writer.tokenType == .uint16 ? "uint16" : "int32",
                     Double(totalBytes) / 1e6, el, Double(totalBytes) / el / 1e6, workers))
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
        let p = prefix.hasSuffix("_text_document") || FileManager.default.fileExists(atPath: prefix + ".idx") ? prefix : prefix + "_text_document"
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
                let tok = t.hasSuffix(".gguf") ? try Tokenizer(gguf: GGUFFile(path: t)) : try Tokenizer(directory: t)
                print("decoded: \(String(reflecting: String(tok.decode(ids).prefix(400))))")
            } catch let e as FormatError { throw fail("\(e)") }
        }
    }
}
