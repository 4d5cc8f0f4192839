import ArgumentParser
import PareRecipes
import Foundation
import PareCore
import PareFormats
import PareModel

struct BenchTokenizer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Single-threaded tokenizer throughput over a corpus (MB/s of UTF-8 text).")

    @Option(help: "A .gguf file or Hugging Face directory whose tokenizer to time.") var model: String
    @Option(help: "Corpus: wiki-summaries or a JSONL file with a \"text\" field.") var corpus = "wiki-summaries"
    @Option(help: "Timed passes over the corpus (the best is reported).") var repeats = 3

    func run() throws {
        let docs: [String]
        let tok: Tokenizer
        do {
            docs = try BundledAssets.documents(corpus)
            tok = try Tokenizer(path: model)
        } catch let e as FormatError { throw fail("\(e)") }
        let bytes = docs.reduce(0) { $0 + $1.utf8.count }
        // A fresh encoder per pass: the first-seen cost of every word is included each time,
        // as a one-pass tokenization of a new corpus would pay it.
        var best = Double.infinity, tokens = 0
        for pass in 0..<repeats {
            var enc = TokenEncoder(tok)
            tokens = 0
            let t0 = ProcessInfoLite.now()
            for d in docs { tokens += enc.encode(d).count }
            let dt = ProcessInfoLite.now() - t0
            best = min(best, dt)
            print(String(format: "pass %d: %.3f s, %.2f MB/s", pass, dt, Double(bytes) / dt / 1e6))
        }
        print(String(format: "pare tokenizer single-thread: %.2f MB/s (%d documents, %d bytes, %d tokens)",
                     Double(bytes) / best / 1e6, docs.count, bytes, tokens))
    }
}
