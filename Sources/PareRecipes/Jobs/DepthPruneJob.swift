import Foundation
import PareCore
import PareFormats
import PareModel
import ParePrune

/// `prune depth`: drops whole layers, named ones or the least important by a calibration
/// metric. Output: a Hugging Face directory (and importance.json when measured).
public struct DepthPruneJob: Equatable, JobSettings {
    public var model = ""
    public var output = ""
    public var dropLayers: String? = nil        // 0-based as in model.layers.N: "15-29" or "3,5,7-9"
    public var numLayers: Int? = nil            // layers to keep; the others are chosen by `metric`
    public var metric = "cosine"                // cosine | loss | task:NAME (e.g. task:winogrande)
    public var taskLimit = 200                  // with task:NAME, documents of the task scored per candidate (MMLU: spread over its subjects)
    public var contiguous = false               // drop one contiguous block (the best) instead of single layers
    public var calibration = CalibrationSettings()

    public init() {}

    /// The settings of its own, beside the calibration's (which the pipeline sets in `prune:`).
    public static let ownSettings: [Setting<DepthPruneJob>] = [
        .model(\.model, "The model"),
        Setting("output", \.output, "Output Hugging Face directory."),
        Setting("drop_layers", \.dropLayers, "Layers to drop, 0-based as in model.layers.N: e.g. 15-29 or 3,5,7-9."),
        Setting("num_layers", \.numLayers, "Layers to keep; the others are chosen by --metric."),
        Setting("metric", \.metric, "cosine (1 − cos between a layer's input and output), loss (LM loss with it removed) or task:NAME (accuracy lost on a zero-shot task with it removed, e.g. task:winogrande, the paper's choice, or task:mmlu)."),
        Setting("task_limit", \.taskLimit, "With --metric task:NAME, documents of the task scored per candidate (for MMLU spread over its 57 subjects: 200 scores the first 4 of each).", check: Check.atLeast(1)),
        Setting("contiguous", \.contiguous, "Drop one contiguous block of layers (the best block) instead of the individually least important."),
    ]
    public static let settings = ownSettings + CalibrationSettings.settings.map { $0.lifted(\.calibration) }

    /// The task metric scores every task zero-shot, MMLU too: examples in context would make
    /// each candidate's prompts several times longer without changing which layers matter.
    static let taskShots = 0

    public func validate() throws {
        guard !model.isEmpty else { throw RecipeError.invalid("model", "is required: a .gguf file or a Hugging Face directory") }
        guard !output.isEmpty else { throw RecipeError.invalid("output", "is required: the student's Hugging Face directory") }
        guard parsedMetric != nil else { throw RecipeError.invalid("metric", "must be cosine, loss or task:NAME (e.g. task:winogrande), not \"\(metric)\"") }
        try checkRanges()
        guard (dropLayers == nil) != (numLayers == nil) else {
            throw RecipeError.invalid("drop_layers", "or \(SettingName.ref("num_layers")): give exactly one of them")
        }
        if let spec = dropLayers { _ = try DepthPruning.parseLayers(spec) }
        if numLayers != nil { try calibration.validate() }
    }

    /// The metric and, for task:NAME, the task's name.
    var parsedMetric: (DepthMetric, String?)? {
        if metric.hasPrefix("task:") {
            let name = String(metric.dropFirst(5))
            return name.isEmpty ? nil : (.task, name)
        }
        guard let m = DepthMetric(rawValue: metric), m != .task else { return nil }
        return (m, nil)
    }

    /// Prunes and writes the student; returns the dropped layers.
    @discardableResult
    public func run(progress: Progress) throws -> Set<Int> {
        try validate()
        let loaded = try PretrainedModel.load(model)
        let m = loaded.model, L = m.config.numHiddenLayers
        try PrecisionSetting.apply(calibration.precision, to: m)
        var drop: Set<Int>
        var cal: Calibration? = nil
        if let spec = dropLayers {
            drop = try DepthPruning.parseLayers(spec)
            guard drop.allSatisfy({ $0 < L }) else { throw RecipeError.invalid("drop_layers", "names layers beyond the model's \(L) (0...\(L - 1))") }
            guard drop.count < L else { throw RecipeError.invalid("drop_layers", "would drop all \(L) layers") }
        } else {
            let keep = numLayers!
            guard keep >= 1 && keep < L else { throw RecipeError.invalid("num_layers", "must be between 1 and \(L - 1) (the model has \(L))") }
            try checkPositions(calibration.seqLength, key: "seq_length", model: m.config, model)
            let measuring = try calibration.calibration("to measure which layers to drop (or give \(SettingName.ref("drop_layers")))", for: loaded, model: model, progress)
            cal = measuring
            let (metric, taskName) = parsedMetric!
            var task: DepthTask? = nil
            if let taskName {
                let requests = try BundledAssets.taskLibrary.load(taskName, shots: DepthPruneJob.taskShots)
                // MMLU's limit counts per subject: the documents are spread over them.
                let subjects = requests.subtasks.count
                let limit = subjects == 0 ? taskLimit : max(1, (taskLimit + subjects - 1) / subjects)
                let docs = requests.documents(limit: limit).count
                task = DepthTask(name: taskName, documents: docs) { skip in
                    do { return try m.evaluate(task: requests, tokenizer: loaded.tokenizer, limit: limit, skipLayers: skip).primary }
                    catch let e as TaskError { throw RecipeError.failed("\(model): \(e.description)") }
                }
            }
            let sel = try DepthSelection.measure(m, keep: keep, metric: metric, contiguous: contiguous, calibration: measuring, task: task,
                                                 progress: progress.counter("calibration", unit: "sequences"),
                                                 taskProgress: progress.counter("\(taskName ?? "task") scoring", unit: "candidates"))
            drop = sel.drop
            report(sel, layers: L, progress)
            if let note = sel.tieNote { progress.say("note: \(note)") }
            try? FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            var measured = sel.scores
            measured.model = m.contentHash
            try measured.write(to: output + "/importance.json")
        }
        progress.say("dropping layers \(drop.sorted())")
        let student = try DepthPruning.prune(m, drop: drop)
        if calibration.repair {
            try checkPositions(calibration.seqLength, key: "seq_length", model: m.config, model)
            let repairing = try cal ?? calibration.calibration("to repair the cut (or turn \(SettingName.ref("repair")) off)", for: loaded, model: model, progress)
            try repairCut(student, teacher: m, map: .depth(drop: drop, config: m.config), calibration: repairing, settings: calibration, progress)
        }
        try saveStudent(student, tokenizer: loaded.tokenizer, before: m.parameterCount, to: output, progress)
        return drop
    }

    /// The score table: every layer, and every block when contiguous.
    func report(_ sel: DepthSelection, layers L: Int, _ progress: Progress) {
        let s = sel.scores, isLoss = sel.metric == .loss
        let layerTask = sel.metric == .task && !sel.contiguous
        progress.say(String(format: "calibration: %d tokens, base loss %.4f", s.calibrationTokens, s.baseLoss ?? .nan))
        if let t = s.task, let a = s.baseTaskAccuracy { progress.say(String(format: "%@: %d documents, accuracy %.4f with every layer", t, s.taskDocuments ?? 0, a)) }
        progress.say("layer | 1 − cos(in, out)" + (isLoss ? " | loss without it" : "") + (layerTask ? " | accuracy lost without it" : "") + " | dropped")
        for l in 0..<L {
            progress.say(String(format: "%5d | %.5f", l, s.layerCosine[l]) + (isLoss ? String(format: " | %.4f", s.layerLoss![l]) : "")
                         + (layerTask ? String(format: " | %+.4f", s.layerTaskDrop![l]) : "") + (sel.drop.contains(l) ? " | yes" : " |"))
        }
        if sel.contiguous, let bs = s.blockScores(sel.metric) {
            let what = isLoss ? "loss without it" : sel.metric == .task ? "accuracy lost without it" : "1 − cos(in, out)"
            let chosen = sel.drop.min() ?? -1
            progress.say("block of \(sel.drop.count) starting at | \(what) | dropped")
            for (i, v) in bs.enumerated() { progress.say(String(format: "%5d | %+.5f", i, v) + (i == chosen ? " | yes" : " |")) }
        }
    }
}

/// As the pipeline runs it (in the YAML section `prune.depth`).
extension DepthPruneJob: RecipeJob {
    public static let section = "prune.depth"
    public func runStep(progress: Progress) throws { _ = try run(progress: progress) }
}
