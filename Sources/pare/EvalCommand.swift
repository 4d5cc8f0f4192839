import ArgumentParser
import Foundation
import PareCore
import PareFormats
import PareModel

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validation loss and perplexity of one or more models on a text corpus.",
        discussion: "Documents are tokenized without special tokens, joined with EOS, and cut into non-overlapping windows of --seq + 1 tokens.")

    @Option(name: .customLong("model"), help: "A .gguf file or Hugging Face directory (repeat to compare).") var models: [String]
    @Option(help: "Corpus: wiki-summaries (the bundled Wikipedia summaries) or a JSONL file with a \"text\" field.") var corpus = "wiki-summaries"
    @Option(help: "Evaluate on an indexed dataset (prefix from pare data tokenize) instead: all its documents in order.") var data: String?
    @Option(help: "Evaluate on the last fraction of documents.") var tailFraction = 0.05
    @Option(help: "Tokens per window.") var seq = 512
    @Option(help: "Windows per forward pass.") var batch = 4
    @Option(help: "Evaluate at most this many windows.") var maxWindows: Int?
    @Flag(help: "Also time prefill (128 tokens) and decode (32 tokens) at batch 1.") var speed = false
    @Option(help: "Write the results as JSON to this file.") var json: String?
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        threads.apply()
        guard tailFraction > 0 && tailFraction <= 1 else { throw fail("--tail-fraction must be in (0, 1]") }
        guard seq > 0 && batch > 0 else { throw fail("--seq and --batch must be positive") }
        var docs: [String] = []
        var dataStream: [Int32]? = nil
        do {
            if let d = data {
                let ds = try IndexedDataset(prefix: FileManager.default.fileExists(atPath: d + ".idx") ? d : d + "_text_document")
                dataStream = (0..<ds.sequenceCount).flatMap { ds.sequence($0) }
            } else { docs = try loadCorpus(corpus) }
        } catch let e as FormatError { throw fail("\(e)") }
        print("model | documents | tokens | windows | loss | perplexity | seconds" + (speed ? " | prefill tokens/s | decode tokens/s" : ""))
        var results: [[String: Any]] = []
        for path in models {
            let m: PretrainedModel
            do { m = try PretrainedModel.load(path) } catch let e as FormatError { throw fail("\(e)") }
            guard let eos = m.tokenizer.eosTokenId else { throw fail("\(path): the tokenizer has no EOS token to separate documents") }
            let (stream, n) = dataStream.map { ($0, -1) } ?? CorpusSlice.tailStream(documents: docs, fraction: tailFraction, tokenizer: m.tokenizer, eos: eos)
            let t0 = ProcessInfoLite.now()
            let r = try m.model.evaluate(stream: stream, seq: seq, batch: batch, maxWindows: maxWindows) { done, total in
                var err = StandardError()
                let el = ProcessInfoLite.now() - t0
                print(String(format: "\r  %d/%d windows, %.0f tokens/s, ETA %.0f s   ", done, total,
                             Double(done * seq) / el, el / Double(done) * Double(total - done)), terminator: "", to: &err)
            }
            var err = StandardError(); print("", to: &err)
            var row: [String: Any] = ["model": path, "parameters": m.model.parameterCount, "layers": m.model.config.numHiddenLayers,
                                      "hidden_size": m.model.config.hiddenSize, "tokens": r.tokens, "loss": r.meanLoss, "perplexity": r.perplexity]
            var line = String(format: "%@ | %@ | %d | %d | %.4f | %.3f | %.1f", path, n < 0 ? "all" : String(n), r.tokens, r.windows, r.meanLoss, r.perplexity,
                              ProcessInfoLite.now() - t0)
            if speed {
                let prompt = Array(stream.prefix(128))
                var sampler = Sampler()
                _ = try m.model.generate(prompt: Array(prompt.prefix(8)), maxNewTokens: 4, sampler: &sampler)   // warm-up
                let (_, st) = try m.model.generate(prompt: prompt, maxNewTokens: 32, sampler: &sampler)
                row["prefill_tokens_per_second"] = st.prefillTokensPerSecond
                row["decode_tokens_per_second"] = st.decodeTokensPerSecond
                line += String(format: " | %.0f | %.1f", st.prefillTokensPerSecond, st.decodeTokensPerSecond)
            }
            print(line)
            results.append(row)
        }
        if let json {
            do { try AtomicFileWriter.write(try JSONSerialization.data(withJSONObject: results, options: [.prettyPrinted, .sortedKeys]), to: json) }
            catch { throw fail("cannot write \(json): \(error)") }
        }
    }
}

/// Documents of a corpus given on the command line.
func loadCorpus(_ spec: String) throws -> [String] {
    if spec == "wiki-summaries" {
        let cache = ProcessInfo.processInfo.environment["PARE_CACHE"] ?? (NSHomeDirectory() + "/.cache/pare")
        return try Corpus.documents(path: cache + "/summaries_en-us.json")
    }
    return try JSONLText.read(path: spec, key: "text")
}
