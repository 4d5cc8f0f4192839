import ArgumentParser
import PareRecipes

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validation loss and perplexity of one or more models on a text corpus.",
        discussion: "Documents are tokenized without special tokens, joined with EOS, and cut into non-overlapping windows of --seq-length + 1 tokens.")
    static let d = EvalJob()

    @Option(name: .customLong("model"), help: "A .gguf file or Hugging Face directory (repeat to compare).") var models: [String]
    @Option(help: "Corpus: wiki-summaries (the bundled Wikipedia summaries) or a JSONL file with a \"text\" field (default \(d.corpus)).") var corpus: String?
    @Option(help: "Evaluate on an indexed dataset (prefix from pare data tokenize) instead: all its documents in order.") var data: String?
    @Option(parsing: .unconditional, help: "Evaluate on the last fraction of documents (default \(d.tailFraction)).") var tailFraction: Double?
    @Option(name: [.customLong("seq-length"), .customLong("seq")], parsing: .unconditional, help: "Tokens per window (default \(d.seqLength)).") var seqLength: Int?
    @Option(parsing: .unconditional, help: "Windows per forward pass (default \(d.batch)).") var batch: Int?
    @Option(parsing: .unconditional, help: "Evaluate at most this many windows.") var maxWindows: Int?
    @Flag(help: "Also time prefill (128 tokens) and decode (32 tokens) at batch 1.") var speed = false
    @Option(help: "Write the results as JSON to this file.") var json: String?
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        try threads.apply()
        var job = EvalJob()
        job.model = models
        if let v = corpus { job.corpus = v }; job.data = data; if let v = tailFraction { job.tailFraction = v }
        if let v = seqLength { job.seqLength = v }; if let v = batch { job.batch = v }
        job.maxWindows = maxWindows; job.speed = speed; job.json = json
        try runJob { try job.run(progress: .console) }
    }
}
