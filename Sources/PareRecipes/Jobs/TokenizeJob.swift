import Foundation
import PareCore
import PareFormats

/// `data tokenize`: a JSONL file into PREFIX_text_document.bin/.idx (Megatron's indexed dataset).
public struct TokenizeJob: Equatable, JobSettings {
    public var input = ""                        // JSONL file
    public var tokenizer = ""                    // a .gguf file or a Hugging Face directory
    public var outputPrefix = ""                 // files are PREFIX_text_document.bin and .idx
    public var jsonKey = "text"
    public var appendEod = true                  // end every document with the EOS token (as NeMo's recipes do)
    public var workers = ProcessInfoLite.activeProcessorCount

    public init() {}

    public static let settings: [Setting<TokenizeJob>] = [
        Setting("input", \.input, "Input JSONL file."),
        Setting("tokenizer", \.tokenizer, "Model whose tokenizer to use: a .gguf file or a Hugging Face directory."),
        Setting("output_prefix", \.outputPrefix, "Output prefix; files are PREFIX_text_document.bin and .idx."),
        Setting("json_key", \.jsonKey, "Field holding the text."),
        Setting("append_eod", \.appendEod, "End every document with the end-of-document token (on by default)."),
        // The output does not depend on the worker count.
        Setting("workers", \.workers, "Tokenizer threads (default: the cores).", check: Check.atLeast(1), changesOutput: false),
    ]

    public var prefix: String { outputPrefix + "_text_document" }

    public func validate() throws {
        guard !input.isEmpty else { throw RecipeError.invalid("input", "is required: a JSONL file") }
        guard !tokenizer.isEmpty else { throw RecipeError.invalid("tokenizer", "is required: a .gguf file or a Hugging Face directory") }
        guard !outputPrefix.isEmpty else { throw RecipeError.invalid("output_prefix", "is required") }
        try checkRanges()
    }

    @discardableResult
    public func run(progress: Progress) throws -> (documents: Int, tokens: Int) {
        try validate()
        let tok = try Tokenizer(path: tokenizer)
        let docs = try JSONLText.read(path: input, key: jsonKey)
        guard let eod = tok.eosTokenId ?? (appendEod ? nil : 0) else { throw RecipeError.invalid("append_eod", "is set but the tokenizer has no end-of-sequence token") }
        let totalBytes = docs.reduce(0) { $0 + $1.utf8.count }
        let url = URL(fileURLWithPath: prefix)
        for p in StaleTemporaries.remove(in: url.deletingLastPathComponent().path, prefix: url.lastPathComponent) {
            progress.say("removed \(p), left by an interrupted run")
        }
        let writer = try IndexedDatasetWriter(prefix: prefix, tokenType: .forVocabulary(tok.vocabularySize))
        var encoder = ParallelEncoder(tok, workers: workers)
        let batchSize = 2048
        var done = 0, doneBytes = 0, skipped = 0, lastPrint = 0.0
        let t0 = ProcessInfoLite.now()
        while done < docs.count {
            let batch = Array(docs[done..<min(docs.count, done + batchSize)])
            for var ids in encoder.encode(batch) {
                if ids.isEmpty { skipped += 1; continue }   // empty documents are skipped, as Megatron does
                if appendEod { ids.append(eod) }
                do { try writer.add(ids) } catch { writer.abort(); throw error }
            }
            done += batch.count
            doneBytes += batch.reduce(0) { $0 + $1.utf8.count }
            let el = ProcessInfoLite.now() - t0
            if el - lastPrint > 0.5 || done == docs.count {
                lastPrint = el
                let rate = Double(doneBytes) / max(el, 1e-9)
                progress.status(String(format: "  %d/%d documents, %.1f MB/s, ETA %.0f s", done, docs.count, rate / 1e6,
                                       Double(totalBytes - doneBytes) / max(rate, 1)))
            }
        }
        progress.endStatus()
        try writer.finish()
        // Which tokenizer made these ids, so training on them with another model is refused.
        try DatasetTokenizer(tok, source: tokenizer).write(prefix: prefix)
        let el = ProcessInfoLite.now() - t0
        progress.say(String(format: "%@: %d documents (%d empty skipped), %d tokens, %@ ids, %.2f MB in %.2f s = %.2f MB/s with %d workers",
                            prefix, writer.documentCount, skipped, writer.tokenCount, writer.tokenType == .uint16 ? "uint16" : "int32",
                            Double(totalBytes) / 1e6, el, Double(totalBytes) / el / 1e6, workers))
        return (writer.documentCount, writer.tokenCount)
    }
}

/// As the pipeline runs it (in the YAML section `data`).
extension TokenizeJob: RecipeJob {
    public static let section = "data"
    public func runStep(progress: Progress) throws { _ = try run(progress: progress) }
}
