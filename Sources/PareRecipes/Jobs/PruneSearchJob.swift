import Foundation
import PareCore
import PareDistill
import PareFormats
import PareModel
import ParePrune
import PareTrain

/// `prune search`: the student shape for a target, found as Minitron's paper and Model
/// Optimizer do. Every loadable shape on a grid over depth, hidden, MLP, heads and query groups
/// that meets the target (parameters, or decode/prefill tokens/s measured here) is cut from the
/// teacher by importance; the candidates are ranked by a cheap proxy (validation LM loss right
/// after pruning), the top K are distilled for M tokens each, and the one with the lowest
/// validation loss after that wins, or, with `score` naming a task (e.g. mmlu), the one most
/// accurate on a sample of it, as Model Optimizer ranks by MMLU. Output: candidates/ (each pruned student and its short
/// distillation), winner/ (the pruned winner, to distill at full budget), search.json.
public struct PruneSearchJob: Equatable, JobSettings {
    public var model = ""
    public var output = ""
    public var targetParams: String? = nil        // "80M", "1.2B" or a count: the most a student may hold
    public var targetDecodeTps: Double? = nil     // batch-1 decode tokens/s a student must reach on this machine
    public var targetPrefillTps: Double? = nil    // likewise for a 128-token prefill
    public var band = 0.85                        // candidates hold at least band × target parameters (or run at most target / band tokens/s)
    public var maxCandidates = 12                 // shapes ranked by the proxy
    public var topK = 3                           // K: shapes distilled briefly
    public var shortTokens = 65_536               // M: training tokens of each short distillation
    public var proxySamples = 16                  // validation sequences of the proxy loss
    public var depthMetric = "cosine"             // how the dropped block is chosen (cosine | loss)
    public var exportType = "q8_0"                // shapes must load as this GGUF type (or none)
    public var sizeMultiple = 8
    public var score = "loss"                     // loss, or a task (mmlu, arc_easy, …) whose accuracy ranks the short distillations
    public var scoreLimit = 10                    // with a task: its first N documents (of each MMLU subject) scored per finalist
    public var scoreShots: Int? = nil             // with a task: examples in context (default: the task's, 5 for MMLU)
    public var calibration = CalibrationSettings()
    /// The short distillations' settings (teacher, student, steps and output are set per candidate;
    /// the pipeline takes them from its `distill:` section).
    public var distill: DistillJob = {
        var d = DistillJob()
        d.topKLogits = 64; d.train.trainer.schedule.lr = 5e-4; d.train.trainer.schedule.minLR = 5e-5
        return d
    }()

    public init() {}

    /// The settings of its own, beside the calibration's (which the pipeline sets in `prune:`).
    public static let ownSettings: [Setting<PruneSearchJob>] = [
        .model(\.model, "The teacher"),
        Setting("output", \.output, "The search folder (candidates/, winner/, search.json)."),
        Setting("target_params", \.targetParams, "The most parameters a student may hold: 80M, 1.2B or a count."),
        Setting("target_decode_tps", \.targetDecodeTps, "Batch-1 decode tokens/s a student must reach on this machine."),
        Setting("target_prefill_tps", \.targetPrefillTps, "Tokens/s of a 128-token prefill a student must reach on this machine."),
        Setting("band", \.band, "Candidates hold at least band × the parameter target (or run at most target / band tokens/s).",
                check: { $0 > 0 && $0 < 1 ? nil : "must be between 0 and 1 (candidates hold at least band × the target), not \($0)" }),
        Setting("max_candidates", \.maxCandidates, "Shapes ranked by the proxy loss.", check: Check.atLeast(1)),
        Setting("top_k", \.topK, "K: the best shapes by the proxy, each distilled briefly."),
        Setting("short_tokens", \.shortTokens, "M: training tokens of each short distillation."),
        Setting("proxy_samples", \.proxySamples, "Validation sequences of the proxy loss.", check: Check.atLeast(1)),
        Setting("depth_metric", \.depthMetric, "How each depth's dropped block is chosen: cosine or loss.", check: Check.oneOf(["cosine", "loss"])),
        Setting("export_type", \.exportType, "Shapes must export as this GGUF type: f32, f16, q8_0, q4_0, or none.", check: exportTypeProblem),
        Setting("size_multiple", \.sizeMultiple, "Hidden and MLP sizes are multiples of this."),
        Setting("score", \.score, "What ranks the short distillations: loss (validation loss), or a task's accuracy, e.g. mmlu (as Model Optimizer does) or arc_easy; both are recorded.",
                check: { $0.isEmpty || $0.contains("/") || $0.contains(",") ? "must be loss or one task name, not \"\($0)\"" : nil }),
        Setting("score_limit", \.scoreLimit, "With a task as --score: documents scored per finalist (per subject for MMLU: 10 × 57 subjects = 570 questions, 4% of its test set).",
                check: Check.atLeast(1)),
        Setting("score_shots", \.scoreShots, "With a task as --score: examples in each context, 0 or 5 (default: the task's; 5 for MMLU).",
                check: TaskLibrary.shotsProblem),
    ]
    public static let settings = ownSettings + CalibrationSettings.settings.map { setting in
        let s: Setting<PruneSearchJob> = setting.lifted(\PruneSearchJob.calibration)
        return s.key != "precision" ? s : s.helped("Matmul precision of the calibration passes, the short distillations and their scoring: \(precisionHelp).")
    } + commandLineShorthands

    /// `pare prune search`'s flags for the short distillations' data and budget (the pipeline
    /// wires these from its own sections).
    static let commandLineShorthands: [Setting<PruneSearchJob>] = [
        Setting("data_train", \.distill.train.dataTrain, "Training data of the short distillations (an indexed-dataset prefix); calibration data too, unless --calibration-data is given.",
                place: .commandLineOnly),
        Setting("data_val", \.distill.train.dataVal, "Validation data: the proxy and the short distillations are ranked on it.", place: .commandLineOnly),
        .argument("lr", Double.self, "Short distillations: learning rate, decaying to a tenth of it (default 0.0005).") { job, v in
            job.distill.train.trainer.schedule.lr = v; job.distill.train.trainer.schedule.minLR = v / 10
        },
        Setting("global_batch_size", \.distill.train.trainer.globalBatchSize, "Short distillations: sequences per step.", place: .commandLineOnly),
        Setting("micro_batch_size", \.distill.train.trainer.microBatchSize, "Short distillations: sequences per forward pass.", place: .commandLineOnly),
        Setting("top_k_logits", \.distill.topKLogits, "Short distillations: the teacher's top K logits (default 64).", place: .commandLineOnly),
    ]

    /// The JSON of the settings that change the search's result, with its short distillations'.
    public var fingerprintJSON: String {
        // Ranked by loss, the score's sample settings change nothing: left out, a config written
        // before --score existed keeps its fingerprint (and its finished steps).
        let own = tableFingerprintJSON(leavingOut: scoreTask == nil ? ["score", "score_limit", "score_shots"] : [])
        return String(own.dropLast()) + (own.count > 2 ? "," : "") + "\"distill\":\(distill.fingerprintJSON)}"
    }

    /// On the command line the short distillations take the calibration's sequence length and
    /// precision (before, `--precision auto` left them in fp32 beside bf16 calibration and scoring), and
    /// their training data calibrates unless other data is named.
    public mutating func finishArguments() {
        distill.train.trainer.seqLength = calibration.seqLength
        distill.train.precision = calibration.precision
        if calibration.calibrationData == nil { calibration.calibrationData = distill.train.dataTrain }
    }

    /// "80M", "1.5B", "80000000" → a count.
    static func parseCount(_ s: String) -> Int? {
        let t = s.trimmingCharacters(in: .whitespaces).uppercased()
        let scale: Double = t.hasSuffix("B") ? 1e9 : t.hasSuffix("M") ? 1e6 : t.hasSuffix("K") ? 1e3 : 1
        guard let x = Double(scale == 1 ? t : String(t.dropLast())), x > 0 else { return nil }
        return Int((x * scale).rounded())
    }

    public func validate() throws {
        guard !model.isEmpty else { throw RecipeError.invalid("model", "is required: the teacher (a .gguf file or a Hugging Face directory)") }
        guard !output.isEmpty else { throw RecipeError.invalid("output", "is required: the search folder") }
        let targets = [targetParams != nil, targetDecodeTps != nil, targetPrefillTps != nil].filter { $0 }.count
        guard targets == 1 else { throw RecipeError.invalid("target_params", "or \(SettingName.ref("target_decode_tps")) or \(SettingName.ref("target_prefill_tps")): give exactly one target") }
        if let p = targetParams, PruneSearchJob.parseCount(p) == nil { throw RecipeError.invalid("target_params", "must be a parameter count such as 80M, 1.2B or 80000000, not \"\(p)\"") }
        for (k, v) in [("target_decode_tps", targetDecodeTps), ("target_prefill_tps", targetPrefillTps)] {
            if let v, !(v > 0) { throw RecipeError.invalid(k, "must be positive tokens/s, not \(v)") }
        }
        try checkRanges()
        guard topK >= 1 && topK <= maxCandidates else { throw RecipeError.invalid("top_k", "must be between 1 and \(SettingName.ref("max_candidates")) (\(maxCandidates)), not \(topK)") }
        guard shortTokens >= distill.train.trainer.globalBatchSize * distill.train.trainer.seqLength else {
            throw RecipeError.invalid("short_tokens", "(\(shortTokens)) must cover at least one step of \(distill.train.trainer.globalBatchSize) × \(distill.train.trainer.seqLength) tokens")
        }
        guard distill.train.dataVal != nil else { throw RecipeError.invalid("data_val", "is required: the proxy and the short distillations are ranked on the validation split") }
        if let task = scoreTask {
            do { try BundledAssets.taskLibrary.check(task, shots: scoreShots) }
            catch let e as FormatError { throw RecipeError.invalid("score", e.rawMessage) }
        }
        var d = distill; d.teacher = model; d.student = model; d.train.output = output
        try d.validate()
    }

    /// One row of the search table.
    public struct Candidate: Codable, Equatable {
        public var shape: StudentShape
        public var parameters: Int
        public var dropped: [Int]
        public var proxyLoss: Double?
        public var decodeTps: Double?, decodeMin: Double?, decodeMax: Double?, prefillTps: Double?
        public var shortKDLoss: Double?, shortKDKD: Double?
        /// With a task as `score`: the short-distilled student, its accuracy and standard error.
        public var shortKDStudent: String?, shortKDScore: Double?, shortKDScoreStderr: Double?
        /// What the score was measured on ("mmlu 5-shot, limit 10"): another task or sample scores again.
        public var shortKDScoredOn: String?
        public var slug: String { "\(shape.layers)L-h\(shape.hidden)-f\(shape.ffn)-\(shape.heads)q\(shape.groups)g" }
    }
    /// What search.json holds; also the resume state (candidates with their measured numbers).
    public struct Result: Codable {
        public var teacher: String, teacherParameters: Int, teacherShape: StudentShape
        public var target: String, gridSize: Int, feasible: Int
        public var candidates: [Candidate]
        public var shortKDRanked: [String] = [], winner: String? = nil, proxyWinner: String? = nil
        /// What ranked the finalists (loss or a task), and the rankings by each measure taken.
        public var score: String? = nil, lossRanked: [String]? = nil, scoreRanked: [String]? = nil
        public var seconds: Double = 0
    }

    /// The task whose accuracy ranks the finalists; nil when validation loss does.
    var scoreTask: String? { score == "loss" ? nil : score }

    public var targetDescription: String {
        if let p = targetParams { return "≤ \(p) parameters" }
        if let t = targetDecodeTps { return "≥ \(t) decode tokens/s" }
        return "≥ \(targetPrefillTps!) prefill tokens/s"
    }

    /// search.json, rewritten (atomically) after every measured candidate, with the seconds
    /// the search has taken over all its runs.
    struct Journal {
        let path: String, secondsBefore: Double, started: Double
        func save(_ result: inout Result) throws {
            result.seconds = secondsBefore + ProcessInfoLite.now() - started
            let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFileWriter.write(try enc.encode(result), to: path)
        }
    }

    @discardableResult
    public func run(progress: Progress) throws -> Result {
        try validate()
        let t0 = ProcessInfoLite.now()
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let loaded = try PretrainedModel.load(model)
        let m = loaded.model, c = m.config
        try PrecisionSetting.apply(calibration.precision, to: m)
        try checkPositions(calibration.seqLength, key: "seq_length", model: c, model)
        let rules = LoadableShape.Consumers(family: c.family, qkvBias: c.qkvBias, ggufBlock: GGUFExport.TensorType(rawValue: exportType)?.blockElements)
        let grid = ShapeSearch.grid(c, rules: rules, sizeMultiple: sizeMultiple)
        let valStream = try distill.train.stream("data_val", distill.train.dataVal!)
        // The speed probes' prompt: the first 128 tokens of the validation split.
        var first = Batch(B: 1, T: valStream.seqLength)
        first.fill(from: valStream, first: 0)
        let prompt = Array(first.tokens.prefix(128))
        var result = try startingPoint(grid: grid, teacher: m, prompt: prompt, progress)
        let journal = Journal(path: output + "/search.json", secondsBefore: result.seconds, started: t0)
        try rankByProxy(&result, teacher: loaded, validation: valStream, journal, progress)
        let finalists = try measureSpeed(&result, prompt: prompt, journal)
        try distillBriefly(&result, finalists, journal, progress)
        let byLoss = finalists.sorted { result.candidates[$0].shortKDLoss! < result.candidates[$1].shortKDLoss! }
        var ranked = byLoss
        result.score = score; result.lossRanked = byLoss.map { result.candidates[$0].slug }; result.scoreRanked = nil
        if let task = scoreTask {
            try scoreBriefly(&result, finalists, task: task, journal, progress)
            // Most accurate first; equal accuracies (likely on a small sample) by loss.
            ranked = byLoss.enumerated().sorted { a, b in
                let x = result.candidates[a.element].shortKDScore!, y = result.candidates[b.element].shortKDScore!
                return x != y ? x > y : a.offset < b.offset
            }.map(\.element)
            result.scoreRanked = ranked.map { result.candidates[$0].slug }
        }
        result.shortKDRanked = ranked.map { result.candidates[$0].slug }
        let winner = result.candidates[ranked[0]]
        result.winner = winner.slug
        // winner/: the pruned (not yet distilled) winner, for the full-budget distillation.
        let winnerDir = output + "/winner"
        try? FileManager.default.removeItem(atPath: winnerDir)
        try FileManager.default.copyItem(atPath: output + "/candidates/" + winner.slug + "/student", toPath: winnerDir)
        try journal.save(&result)
        report(result, progress)
        return result
    }

    /// 1. The candidates: resumed from search.json when it was written for this search, else
    /// the shapes meeting the target, spread over the feasible ones.
    func startingPoint(grid: [StudentShape], teacher m: LlamaModel, prompt: [Int32], _ progress: Progress) throws -> Result {
        let c = m.config
        if let d = FileManager.default.contents(atPath: output + "/search.json"), let r = try? JSONDecoder().decode(Result.self, from: d),
           r.teacher == model, r.target == targetDescription, r.gridSize == grid.count {
            progress.say("search: resuming \(output)/search.json (\(r.candidates.count) candidates)")
            return r
        }
        let feasible = try feasibleShapes(grid, c, prompt: prompt, progress)
        guard !feasible.isEmpty else {
            throw RecipeError.failed("no loadable shape of \(model) meets \(targetDescription) within the band (\(band)); the grid's smallest holds \(grid.map { $0.parameters(teacher: c) }.min() ?? 0) parameters. Loosen the target or \(SettingName.ref("band"))")
        }
        let chosen = spread(feasible, count: maxCandidates, c)
        progress.say("search: \(grid.count) loadable shapes on the grid, \(feasible.count) meet \(targetDescription); ranking \(chosen.count) by the proxy")
        return Result(teacher: model, teacherParameters: m.parameterCount, teacherShape: StudentShape(c), target: targetDescription,
                      gridSize: grid.count, feasible: feasible.count,
                      candidates: chosen.map { Candidate(shape: $0, parameters: $0.parameters(teacher: c), dropped: []) })
    }

    /// 2. Importance (one calibration pass) and each depth's block, then the proxy: every
    /// candidate's validation loss right after pruning. Sorts the candidates by it.
    func rankByProxy(_ result: inout Result, teacher loaded: PretrainedModel, validation valStream: BlendedSampleStream,
                     _ journal: Journal, _ progress: Progress) throws {
        let m = loaded.model, c = m.config
        if result.candidates.contains(where: { $0.proxyLoss == nil }) {
            let cal = try calibration.calibration("to measure importance", for: loaded, model: model, progress)
            let collector = ImportanceCollector(config: c)
            try cal.run(m, observer: collector, progress: progress.counter("calibration", unit: "sequences"))
            let scores = collector.scores(.l2)
            var blocks: [Int: Set<Int>] = [c.numHiddenLayers: []]
            for L in Set(result.candidates.map(\.shape.layers)) where blocks[L] == nil {
                let sel = try DepthSelection.measure(m, keep: L, metric: DepthMetric(rawValue: depthMetric)!, contiguous: true, calibration: cal)
                blocks[L] = sel.drop
            }
            let proxy = Calibration(stream: valStream, samples: proxySamples, batch: calibration.calibrationBatch)
            let count = progress.counter("proxy", unit: "candidates")
            for i in result.candidates.indices where result.candidates[i].proxyLoss == nil {
                let shape = result.candidates[i].shape
                let (student, map) = try ShapeSearch.cut(m, to: shape, drop: blocks[shape.layers]!, importance: scores)
                try repairCut(student, teacher: m, map: map, calibration: cal, settings: calibration, progress)
                result.candidates[i].dropped = blocks[shape.layers]!.sorted()
                result.candidates[i].proxyLoss = try proxy.run(student)
                try saveStudentQuietly(student, loaded.tokenizer, output + "/candidates/" + result.candidates[i].slug + "/student")
                try journal.save(&result)
                count(i + 1, result.candidates.count)
            }
        }
        result.candidates.sort { $0.proxyLoss! < $1.proxyLoss! }
        result.proxyWinner = result.candidates.first?.slug
    }

    /// 3. The top K by the proxy, their speed measured (median of 5); with a speed target, the
    /// ones that meet it by measurement. Returns their indices.
    func measureSpeed(_ result: inout Result, prompt: [Int32], _ journal: Journal) throws -> [Int] {
        let finalists = Array(result.candidates.indices.prefix(topK))
        for i in finalists where result.candidates[i].decodeTps == nil {
            let student = try PretrainedModel.load(output + "/candidates/" + result.candidates[i].slug + "/student").model
            let p = try SpeedProbe.measure(student, prompt: prompt, newTokens: 32, runs: 5)
            result.candidates[i].decodeTps = p.decodeTokensPerSecond; result.candidates[i].prefillTps = p.prefillTokensPerSecond
            result.candidates[i].decodeMin = p.decodeRange.lowerBound; result.candidates[i].decodeMax = p.decodeRange.upperBound
            try journal.save(&result)
        }
        // A speed target is met by measurement, not by the model the search used to shortlist.
        guard targetDecodeTps != nil || targetPrefillTps != nil else { return finalists }
        let met = finalists.filter { i in
            let r = result.candidates[i]
            return targetDecodeTps.map { r.decodeTps! >= $0 } ?? targetPrefillTps.map { r.prefillTps! >= $0 } ?? true
        }
        guard !met.isEmpty else {
            throw RecipeError.failed("none of the \(topK) best candidates reached \(targetDescription) when measured (median of 5): \(result.candidates.prefix(topK).map { String(format: "%@ %.1f decode, %.0f prefill", $0.shape.label, $0.decodeTps!, $0.prefillTps!) }.joined(separator: "; ")). Raise \(SettingName.ref("band")) or lower the target")
        }
        return met
    }

    /// 4. A short distillation of each finalist (M tokens, sharing one teacher cache); its
    /// validation loss ranks them.
    func distillBriefly(_ result: inout Result, _ finalists: [Int], _ journal: Journal, _ progress: Progress) throws {
        let steps = max(1, shortTokens / (distill.train.trainer.globalBatchSize * distill.train.trainer.seqLength))
        for i in finalists where result.candidates[i].shortKDLoss == nil {
            let slug = result.candidates[i].slug
            var d = distill
            d.teacher = model; d.student = output + "/candidates/" + slug + "/student"
            d.train.trainer.steps = steps; d.train.output = output + "/candidates/" + slug + "/short-kd"; d.train.resume = true
            d.train.lrDecaySteps = nil; d.train.trainer.checkpointInterval = 0
            d.train.timeBudget = nil   // M tokens each; a budget is the winner's distillation's
            if d.teacherCache == nil, d.topKLogits != nil, d.intermediateLoss == nil { d.teacherCache = output + "/teacher-cache" }
            progress.say("search: short distillation of \(result.candidates[i].shape.label) (\(steps) steps, \(steps * d.train.trainer.globalBatchSize * d.train.trainer.seqLength) tokens)")
            result.candidates[i].shortKDStudent = try d.run(progress: progress)
            guard let info = Checkpoint.list(d.train.output + "/checkpoints").last?.info, let v = info.valLoss else {
                throw RecipeError.failed("the short distillation in \(d.train.output) left no validated checkpoint")
            }
            result.candidates[i].shortKDLoss = v
            try journal.save(&result)
        }
    }

    /// 5. With a task as `score`: each finalist's accuracy on its first `scoreLimit` documents
    /// (of each subject), after the short distillation.
    func scoreBriefly(_ result: inout Result, _ finalists: [Int], task: String, _ journal: Journal, _ progress: Progress) throws {
        let requests = try BundledAssets.taskLibrary.load(task, shots: scoreShots)
        let documents = requests.documents(limit: scoreLimit).count
        let on = "\(task) \(requests.shots)-shot, limit \(scoreLimit), \(calibration.precision), files \(requests.contentHash)"
        for i in finalists where result.candidates[i].shortKDScoredOn != on || result.candidates[i].shortKDScore == nil {
            // A search.json from before --score has no student path: the trainer's final model.
            let dir = result.candidates[i].shortKDStudent ?? output + "/candidates/" + result.candidates[i].slug + "/short-kd/model"
            guard FileManager.default.fileExists(atPath: dir + "/config.json") else {
                throw RecipeError.failed("the short distillation of \(result.candidates[i].shape.label) left no student to score at \(dir); delete \(output)/search.json to run the search again")
            }
            let student = try PretrainedModel.load(dir)
            try PrecisionSetting.apply(calibration.precision, to: student.model)
            let t0 = ProcessInfoLite.now()
            let r = try student.score(requests, limit: scoreLimit, label: "search: \(task) on \(result.candidates[i].shape.label)", progress: progress)
            result.candidates[i].shortKDScore = r.primary
            result.candidates[i].shortKDScoreStderr = r.primaryName == "acc_norm" ? r.accNormStderr : r.accStderr
            result.candidates[i].shortKDScoredOn = on
            progress.say(String(format: "search: %@ after the short distillation: %@ %@ %.4f ± %.4f on %d documents (%.0f s)", result.candidates[i].shape.label, task,
                                r.primaryName, r.primary, result.candidates[i].shortKDScoreStderr ?? .nan, documents, ProcessInfoLite.now() - t0))
            try journal.save(&result)
        }
    }

    func saveStudentQuietly(_ m: LlamaModel, _ tok: Tokenizer, _ dir: String) throws {
        try? FileManager.default.removeItem(atPath: dir)
        try HFCheckpoint.save(m, tokenizer: tok, to: dir)
    }

    /// Shapes meeting the target. Parameters: within [band × target, target]. Speed: decode (or
    /// prefill) time per token is modelled as a + b · parameters + c · layers, fitted to shapes
    /// timed here with random weights; shapes predicted to reach the target (but not beyond
    /// target / band) are kept, and the finalists are measured again later.
    func feasibleShapes(_ grid: [StudentShape], _ c: LlamaConfig, prompt: [Int32], _ progress: Progress) throws -> [StudentShape] {
        if let p = targetParams.flatMap(PruneSearchJob.parseCount) {
            let sizes = grid.map { $0.parameters(teacher: c) }
            let kept = zip(grid, sizes).filter { $1 <= p && Double($1) >= band * Double(p) }.map(\.0)
            if kept.isEmpty { throw RecipeError.invalid("target_params", noShapeHolds(p, sizes: sizes, teacher: c)) }
            return kept
        }
        let target = targetDecodeTps ?? targetPrefillTps!
        let bySize = grid.sorted { $0.parameters(teacher: c) < $1.parameters(teacher: c) }
        let probes = (0..<8).map { bySize[$0 * (bySize.count - 1) / 7] }
        var rows: [(Double, Double, Double)] = []   // (parameters, layers, seconds per token)
        let count = progress.counter("speed model", unit: "shapes")
        for (i, s) in Set(probes).sorted(by: { $0.label < $1.label }).enumerated() {
            let student = try LlamaModel(config: s.config(from: c))
            student.initializeRandom(seed: 1, std: 0.02)
            let p = try SpeedProbe.measure(student, prompt: prompt, newTokens: 16, runs: 1)
            let tps = targetDecodeTps != nil ? p.decodeTokensPerSecond : p.prefillTokensPerSecond
            rows.append((Double(s.parameters(teacher: c)), Double(s.layers), 1 / tps))
            count(i + 1, Set(probes).count)
        }
        let (a, b, k) = leastSquares(rows)
        progress.say(String(format: "speed model: seconds per token = %.3g + %.3g × parameters + %.3g × layers (fitted to %d shapes)", a, b, k, rows.count))
        let predicted = grid.map { 1 / (a + b * Double($0.parameters(teacher: c)) + k * Double($0.layers)) }
        let kept = zip(grid, predicted).filter { $1 >= target && $1 <= target / band }.map(\.0)
        if kept.isEmpty { throw RecipeError.invalid(targetDecodeTps != nil ? "target_decode_tps" : "target_prefill_tps", noShapeRuns(target, predicted: predicted)) }
        return kept
    }

    /// Why no shape holds between band × `p` and `p` parameters, and what to change.
    func noShapeHolds(_ p: Int, sizes: [Int], teacher c: LlamaConfig) -> String {
        let whole = StudentShape(c).parameters(teacher: c), smallest = sizes.min() ?? 0
        let count = { (n: Int) in String(format: "%.1fM", Double(n) / 1e6) }
        let given = targetParams ?? "\(p)"
        if p >= whole {
            return "\(given) keeps the teacher whole: \(model) has \(whole) parameters (\(count(whole))); give a target below that, e.g. \(whole * 6 / 10) for 60%"
        }
        if p < smallest {
            return "\(given) is below the smallest loadable shape on the grid, which holds \(smallest) parameters (\(count(smallest))); give at least that"
        }
        let below = sizes.filter { $0 < Int(band * Double(p)) }.max(), above = sizes.filter { $0 > p }.min()
        return "no loadable shape holds between \(Int(band * Double(p))) (\(SettingName.ref("band")) \(band) × the target) and \(p) parameters; the nearest hold "
            + [below.map { "\($0) below" }, above.map { "\($0) above" }].compactMap { $0 }.joined(separator: " and ")
            + "; lower \(SettingName.ref("band")) or move the target"
    }

    /// Why no shape is predicted to run between `target` and target / band tokens/s.
    func noShapeRuns(_ target: Double, predicted: [Double]) -> String {
        let slowest = predicted.min() ?? 0, fastest = predicted.max() ?? 0
        let what = targetDecodeTps != nil ? "decode" : "prefill"
        if target > fastest {
            return String(format: "%.1f %@ tokens/s is beyond every loadable shape: the fastest is predicted at %.1f; give a target of at most that", target, what, fastest)
        }
        if slowest > target / band {
            return String(format: "every loadable shape already beats %.1f %@ tokens/s: even the least pruned is predicted at %.1f (above target / %@ = %.1f), so the target asks for no pruning; raise it to at least %.1f, or lower %@",
                          target, what, slowest, SettingName.ref("band"), target / band, slowest * band, SettingName.ref("band"))
        }
        return String(format: "no loadable shape is predicted between %.1f and %.1f %@ tokens/s (target to target / %@); lower %@", target, target / band, what,
                      SettingName.ref("band"), SettingName.ref("band"))
    }

    /// At most `count` shapes, largest first, spread over the depths so the proxy sees both
    /// deep-narrow and shallow-wide students.
    func spread(_ shapes: [StudentShape], count: Int, _ c: LlamaConfig) -> [StudentShape] {
        var byDepth = Dictionary(grouping: shapes, by: \.layers).mapValues { $0.sorted { $0.parameters(teacher: c) > $1.parameters(teacher: c) } }
        var out: [StudentShape] = []
        while out.count < count, byDepth.values.contains(where: { !$0.isEmpty }) {
            for l in byDepth.keys.sorted(by: >) where out.count < count {
                if let s = byDepth[l]?.first { out.append(s); byDepth[l]!.removeFirst() }
            }
        }
        return out
    }

    /// y ≈ a + b·x1 + c·x2 by ordinary least squares (3 × 3 normal equations).
    func leastSquares(_ rows: [(Double, Double, Double)]) -> (Double, Double, Double) {
        // Scale the columns so the normal equations are well conditioned.
        let s1 = max(rows.map(\.0).max() ?? 1, 1), s2 = max(rows.map(\.1).max() ?? 1, 1)
        var m = [[Double]](repeating: [Double](repeating: 0, count: 4), count: 3)
        for (x1, x2, y) in rows {
            let v = [1, x1 / s1, x2 / s2]
            for i in 0..<3 { for j in 0..<3 { m[i][j] += v[i] * v[j] }; m[i][3] += v[i] * y }
        }
        for i in 0..<3 { m[i][i] += 1e-12 }
        for i in 0..<3 {
            let p = (i..<3).max { abs(m[$0][i]) < abs(m[$1][i]) }!
            m.swapAt(i, p)
            for r in 0..<3 where r != i {
                let f = m[r][i] / m[i][i]
                for j in i..<4 { m[r][j] -= f * m[i][j] }
            }
        }
        return (m[0][3] / m[0][0], m[1][3] / m[1][1] / s1, m[2][3] / m[2][2] / s2)
    }

    func report(_ r: Result, _ progress: Progress) {
        let task = r.score.flatMap { $0 == "loss" ? nil : $0 }
        progress.say("shape (layers, hidden, MLP, heads/groups) | parameters | decode tokens/s (median of 5, range) | prefill tokens/s | proxy loss | short-KD val loss"
                     + (task.map { " | short-KD \($0) accuracy" } ?? ""))
        for x in r.candidates {
            let speed = x.decodeTps.map { String(format: "%.1f (%.1f–%.1f)", $0, x.decodeMin!, x.decodeMax!) } ?? "–"
            let mark = x.slug == r.winner ? " ← winner" : x.slug == r.proxyWinner ? " ← proxy's pick" : ""
            let acc = task == nil ? "" : " | " + (x.shortKDScore.map { String(format: "%.4f ± %.4f", $0, x.shortKDScoreStderr ?? .nan) } ?? "–")
            progress.say(String(format: "%@ | %.1fM | %@ | %@ | %.4f | %@%@%@", x.shape.label, Double(x.parameters) / 1e6, speed,
                                x.prefillTps.map { String(format: "%.0f", $0) } ?? "–", x.proxyLoss ?? .nan,
                                x.shortKDLoss.map { String(format: "%.4f", $0) } ?? "–", acc, mark))
        }
        if let task, let byLoss = r.lossRanked, let byScore = r.scoreRanked {
            progress.say("search: ranked by \(task) accuracy: \(byScore.joined(separator: ", ")); by validation loss: \(byLoss.joined(separator: ", "))"
                         + (byScore.first == byLoss.first ? " (the same winner)" : " (the winners differ)"))
        }
        progress.say(String(format: "search: %d candidates, top %d distilled for %d tokens each; winner %@ (%@) in %@; pruned winner in %@/winner",
                            r.candidates.count, topK, shortTokens, r.winner ?? "?", r.candidates.first { $0.slug == r.winner }?.shape.label ?? "",
                            formatDuration(r.seconds), output))
    }
}

/// As the pipeline runs it (in the YAML section `prune.search`).
extension PruneSearchJob: RecipeJob {
    public static let section = "prune.search"
    public func runStep(progress: Progress) throws { _ = try run(progress: progress) }
    public var runFolder: String? { output }   // its short distillations resume only under the same settings
}
