import Foundation
import PareCore
import PareFormats
import PareModel

/// `eval`: loss and perplexity of one or more models on held-out text, optionally with prefill
/// and decode speed. Documents are tokenized without special tokens, joined with EOS, and cut
/// into non-overlapping windows of seq_length + 1 tokens.
public struct EvalJob: Equatable, JobSettings {
    public var model: [String] = []              // .gguf files or Hugging Face directories
    public var corpus = BundledAssets.corpusName // wiki-summaries or a JSONL file with a "text" field
    public var data: String? = nil               // an indexed dataset instead: all its documents in order
    public var tailFraction = 0.05               // with `corpus`: evaluate on the last fraction of documents
    public var seqLength = 512                   // tokens per window
    public var batch = 4                         // windows per forward pass
    public var maxWindows: Int? = nil            // at most this many windows
    public var speed = false                     // also time prefill (128 tokens) and decode (32 tokens) at batch 1
    public var json: String? = nil               // write the results as JSON to this file
    public var perplexity = true                 // loss and perplexity on the corpus or data
    public var tasks: [String] = []              // hellaswag, arc_easy, arc_challenge, piqa, winogrande, boolq, lambada, csqa, openbookqa, sciq, socialiqa, mmlu, mmlu_SUBJECT
    public var limit: Int? = nil                 // score the first N documents of each task (of each MMLU subject)
    public var shots: Int? = nil                 // 0 or 5 examples in each task's context; unset: 5 for MMLU, 0 for the others
    public var precision = "fp32"                // fp32 | bf16: the models' matmuls
    public var rescore = false                   // score tasks again even when cached results exist (command line only: timing)

    public init() {}

    public static let settings: [Setting<EvalJob>] = [
        Setting("model", \.model, "A .gguf file or Hugging Face directory (repeat to compare)."),
        Setting("corpus", \.corpus, "Corpus: wiki-summaries (the bundled Wikipedia summaries) or a JSONL file with a \"text\" field."),
        Setting("data", \.data, "Evaluate on an indexed dataset (prefix from pare data tokenize) instead: all its documents in order."),
        Setting("tail_fraction", \.tailFraction, "Evaluate on the last fraction of documents.",
                check: { $0 > 0 && $0 <= 1 ? nil : "must be in (0, 1], not \($0)" }),
        Setting("seq_length", \.seqLength, "Tokens per window.", check: Check.positive, aliases: ["seq"]),
        Setting("batch", \.batch, "Windows per forward pass.", check: Check.positive),
        Setting("max_windows", \.maxWindows, "Evaluate at most this many windows.", check: Check.atLeast(1)),
        Setting("speed", \.speed, "Also time prefill (128 tokens) and decode (32 tokens) at batch 1."),
        Setting("json", \.json, "Write the results as JSON to this file."),
        Setting("perplexity", \.perplexity, "Loss and perplexity on the corpus or --data (on by default; --no-perplexity for tasks only)."),
        Setting("tasks", \.tasks, "Comma-separated tasks, e.g. hellaswag,arc_easy,piqa (known: hellaswag, arc_easy, arc_challenge, piqa, winogrande, boolq, lambada, csqa, openbookqa, sciq, socialiqa; mmlu for its 57 subjects, mmlu_SUBJECT for one).",
                check: EvalJob.taskListProblem),
        Setting("limit", \.limit, "Score only the first N documents of each task (of each subject for MMLU).", check: Check.atLeast(1)),
        Setting("shots", \.shots, "Examples in each task's context: 0 or 5 (lambada has 0 only). Default: 5 for MMLU, as papers report it; 0 for the others.",
                check: TaskLibrary.shotsProblem),
        Setting("precision", \.precision, "Matmul precision: \(precisionHelp).", check: PrecisionSetting.problem),
        Setting("rescore", \.rescore, "Score the tasks again even when results for this model are cached (to time them).",
                changesOutput: false, place: .commandLineOnly),
    ]

    /// A task named twice would be scored twice and weigh twice in the average.
    static func taskListProblem(_ tasks: [String]) -> String? {
        if let bad = tasks.first(where: { $0.isEmpty || $0.contains("/") }) { return "holds \"\(bad)\", which is not a task name" }
        var seen = Set<String>()
        if let twice = tasks.first(where: { !seen.insert($0).inserted }) { return "names \(twice) twice; list each task once" }
        return nil
    }

    public func validate() throws {
        guard !model.isEmpty else { throw RecipeError.invalid("model", "is required: at least one .gguf file or Hugging Face directory") }
        try checkRanges()
        guard perplexity || !tasks.isEmpty else { throw RecipeError.invalid("tasks", "is empty and perplexity is off: there is nothing to evaluate") }
        var isDir: ObjCBool = false
        if let j = json, j.hasSuffix("/") || (FileManager.default.fileExists(atPath: j, isDirectory: &isDir) && isDir.boolValue) {
            throw RecipeError.invalid("json", "(\(j)) is a folder; give the path of the JSON file to write, e.g. \(j.hasSuffix("/") ? j : j + "/")eval.json")
        }
    }

    /// One row per model (written to `json` as eval JSON, what the report reads).
    @discardableResult
    public func run(progress: Progress) throws -> [EvalRow] {
        try validate()
        // Task files are read first, so a mistyped task name fails before any model loads.
        let taskSets = try tasks.map { try BundledAssets.taskLibrary.load($0, shots: shots) }
        var docs: [String] = []
        var dataStream: [Int32]? = nil
        if perplexity {
            if let d = data {
                let ds = try openDataset(d, key: "data")
                dataStream = (0..<ds.sequenceCount).flatMap { ds.sequence($0) }
            } else {
                docs = try BundledAssets.documents(corpus)
            }
        }
        var results: [EvalRow] = []
        for path in model {
            let m = try PretrainedModel.load(path)
            try PrecisionSetting.apply(precision, to: m.model)
            if perplexity, let d = data { try checkDataTokenizer(d, key: "data", tokenizer: m.tokenizer, model: path, progress) }
            var row = EvalRow(model: path, parameters: m.model.parameterCount, layers: m.model.config.numHiddenLayers,
                              hiddenSize: m.model.config.hiddenSize, precision: precision)
            if perplexity {
                if results.isEmpty { progress.say("model | documents | tokens | windows | loss | perplexity | seconds" + (speed ? " | prefill tokens/s | decode tokens/s" : "")) }
                try evaluatePerplexity(m, path: path, docs: docs, dataStream: dataStream, into: &row, progress: progress)
            }
            if !taskSets.isEmpty {
                progress.say("\(path): task | documents | acc ± stderr | acc_norm ± stderr | seconds | tokens/s")
                let scores = try taskSets.map { try score($0, m, progress: progress) }
                row.tasks = scores
                row.taskAverage = scores.reduce(0.0) { $0 + $1.primary.value } / Double(scores.count)
                progress.say(String(format: "  average of the primary metrics (acc_norm where the task names acc_per_char, else acc): %.4f", row.taskAverage!))
            }
            results.append(row)
        }
        if let json { try EvalRow.write(results, to: json) }
        return results
    }

    /// One task's scores on one model: from the results cache, or scored (and cached). Results
    /// are kept per model content, task variant, task file content and document count, so a
    /// rerun (or the pipeline's report after one student changed) reuses them, and an edited
    /// task file is scored again.
    func score(_ t: TaskRequests, _ m: PretrainedModel, progress: Progress) throws -> TaskScore {
        let cacheFile = "\(BundledAssets.cache)/task-results/\(m.model.contentHash)-\(t.name)-\(t.variant)-\(t.contentHash)-\(limit.map(String.init) ?? "all")-\(TaskResult.scoringVersion)\(precision == "fp32" ? "" : "-" + precision).json"
        let cached = rescore ? nil : FileManager.default.contents(atPath: cacheFile).flatMap { try? JSONDecoder().decode(TaskScore.self, from: $0) }
        let e: TaskScore
        if let cached { e = cached } else {
            e = try m.score(t, limit: limit, label: "  " + t.name, progress: progress).score
            try? FileManager.default.createDirectory(atPath: BundledAssets.cache + "/task-results", withIntermediateDirectories: true)
            let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
            if let d = try? enc.encode(e) { try? AtomicFileWriter.write(d, to: cacheFile) }
        }
        let norm = e.accNorm.map { String(format: "%.4f ± %.4f", $0, e.accNormStderr ?? .nan) } ?? e.perplexity.map { String(format: "ppl %.3f", $0) } ?? "-"
        let timing = cached != nil ? "cached" : String(format: "%.1f | %.0f", e.seconds ?? .nan, Double(e.tokens ?? 0) / max(e.seconds ?? 0, 1e-9))
        progress.say(String(format: "  %@ | %d | %.4f ± %.4f | %@ | %@", t.name + (t.shots > 0 ? " (\(t.shots)-shot)" : ""), e.documents, e.acc, e.accStderr ?? .nan,
                            norm, timing))
        if let subtasks = e.subtasks, subtasks.count > 1 {
            for s in subtasks { progress.say(String(format: "    %@ | %d | %.4f ± %.4f", s.name, s.documents, s.acc, s.accStderr)) }
            progress.say(String(format: "  %@: acc %.4f ± %.4f over %d questions (each subject weighted by its size, as lm-eval-harness's group aggregate); unweighted mean over %d subjects %.4f",
                                t.name, e.acc, e.accStderr ?? .nan, e.documents, subtasks.count, e.accMacro ?? .nan))
        }
        return e
    }

    /// Loss and perplexity of one model on the corpus or dataset, into `row`.
    func evaluatePerplexity(_ m: PretrainedModel, path: String, docs: [String], dataStream: [Int32]?, into row: inout EvalRow, progress: Progress) throws {
        let seq = seqLength
        guard let eos = m.tokenizer.eosTokenId else { throw RecipeError.failed("\(path): the tokenizer has no EOS token to separate documents") }
        try checkPositions(seqLength, key: "seq_length", model: m.model.config, path)
        // Checked before the perplexity pass, which can take minutes.
        if speed, m.model.config.usablePositions < 160 {
            throw RecipeError.invalid("speed", "times a 128-token prefill and 32 decoded tokens (160 positions), but \(path) has \(m.model.config.usablePositions) (\(m.model.config.usablePositionsKey)); leave out \(SettingName.ref("speed")) for this model")
        }
        let (stream, n) = dataStream.map { ($0, -1) } ?? CorpusSlice.tailStream(documents: docs, fraction: tailFraction, tokenizer: m.tokenizer, eos: eos)
        guard stream.count >= seq + 1 else {
            throw RecipeError.invalid("seq_length", "(\(seq)) needs \(seq + 1) tokens for one window, but the evaluation text has \(stream.count); use a smaller \(SettingName.ref("seq_length"))\(data == nil ? " or a larger \(SettingName.ref("tail_fraction"))" : "")")
        }
        let t0 = ProcessInfoLite.now()
        let r = try m.model.evaluate(stream: stream, seq: seq, batch: batch, maxWindows: maxWindows) { done, total in
            let el = ProcessInfoLite.now() - t0
            progress.status(String(format: "  %d/%d windows, %.0f tokens/s, ETA %.0f s", done, total,
                                   Double(done * seq) / el, el / Double(done) * Double(total - done)))
        }
        progress.endStatus()
        row.tokens = r.tokens; row.loss = r.meanLoss; row.perplexity = r.perplexity
        var line = String(format: "%@ | %@ | %d | %d | %.4f | %.3f | %.1f", path, n < 0 ? "all" : String(n), r.tokens, r.windows, r.meanLoss, r.perplexity,
                          ProcessInfoLite.now() - t0)
        if speed {
            let st = try SpeedProbe.measure(m.model, prompt: Array(stream.prefix(128)), newTokens: 32)
            row.prefillTokensPerSecond = st.prefillTokensPerSecond
            row.decodeTokensPerSecond = st.decodeTokensPerSecond
            line += String(format: " | %.0f | %.1f", st.prefillTokensPerSecond, st.decodeTokensPerSecond)
        }
        progress.say(line)
    }

}

/// As the pipeline runs it (in the YAML section `eval`).
extension EvalJob: RecipeJob {
    public static let section = "eval"
    public func runStep(progress: Progress) throws { _ = try run(progress: progress) }
}
