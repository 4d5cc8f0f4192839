import Foundation
import PareCore
import PareFormats
import PareModel
import ParePrune

/// `prune width`: slices MLP neurons, attention heads, query groups and hidden channels by
/// activation importance. Output: a Hugging Face directory and importance.json.
public struct WidthPruneJob: Equatable, JobSettings {
    public var model = ""
    public var output = ""
    public var ffnHiddenSize: Int? = nil        // target intermediate_size
    public var hiddenSize: Int? = nil           // target hidden size (embedding channels)
    public var numAttentionHeads: Int? = nil    // target query heads
    public var numQueryGroups: Int? = nil       // target KV groups (num_key_value_heads)
    public var sizeMultiple = 8                 // hidden and MLP sizes must be multiples of this
    public var exportType = "q8_0"              // the GGUF type the student must export as (f32|f16|q8_0|q4_0), or none
    public var scores: String? = nil            // reuse an importance.json instead of calibrating
    public var aggregation = "l2"               // over the batch: l2 | mean | variance
    public var mlpActivation = "down-input"     // MLP importance from down-input (silu(gate)·up) or gate
    public var calibration = CalibrationSettings()

    public init() {}

    /// The settings of its own, beside the calibration's (which the pipeline sets in `prune:`).
    public static let ownSettings: [Setting<WidthPruneJob>] = [
        .model(\.model, "The model"),
        Setting("output", \.output, "Output Hugging Face directory."),
        Setting("ffn_hidden_size", \.ffnHiddenSize, "Target MLP size (intermediate_size).", check: Check.positive),
        Setting("hidden_size", \.hiddenSize, "Target hidden size (embedding channels).", check: Check.positive),
        Setting("num_attention_heads", \.numAttentionHeads, "Target number of query heads.", check: Check.positive),
        Setting("num_query_groups", \.numQueryGroups, "Target number of KV groups (num_key_value_heads).", check: Check.positive),
        Setting("size_multiple", \.sizeMultiple, "Hidden and MLP sizes must be multiples of this.",
                check: { $0 >= 1 ? nil : "must be at least 1 (1 allows any size), not \($0)" }),
        Setting("export_type", \.exportType, "The GGUF type the student must export as: f32, f16, q8_0 or q4_0 (quantized rows need multiples of 32), or none to check only transformers' rules.",
                check: exportTypeProblem),
        Setting("scores", \.scores, "Reuse scores from an importance.json instead of calibrating."),
        Setting("aggregation", \.aggregation, "Aggregation over the batch: l2, mean, variance.", check: Check.oneOf(Aggregation.allCases.map(\.rawValue))),
        Setting("mlp_activation", \.mlpActivation, "MLP importance from down-input (silu(gate)·up) or gate (pre-activation, the paper's).",
                check: Check.oneOf(MLPActivation.allCases.map(\.rawValue))),
    ]
    public static let settings = ownSettings + CalibrationSettings.settings.map { $0.lifted(\.calibration) }

    var targets: WidthPlan.Targets {
        WidthPlan.Targets(hiddenSize: hiddenSize, ffnHiddenSize: ffnHiddenSize, numAttentionHeads: numAttentionHeads,
                          numQueryGroups: numQueryGroups, sizeMultiple: sizeMultiple,
                          exportType: GGUFExport.TensorType(rawValue: exportType))
    }

    public func validate() throws {
        guard !model.isEmpty else { throw RecipeError.invalid("model", "is required: a .gguf file or a Hugging Face directory") }
        guard !output.isEmpty else { throw RecipeError.invalid("output", "is required: the student's Hugging Face directory") }
        try checkRanges()
    }

    @discardableResult
    public func run(progress: Progress) throws -> LlamaConfig {
        try validate()
        let loaded = try PretrainedModel.load(model)
        let m = loaded.model
        try PrecisionSetting.apply(calibration.precision, to: m)
        // Sizes first: an impossible request fails before any calibration work.
        let (C, F, H, G) = try targets.resolve(m.config)
        let s: ImportanceScores
        var cal: Calibration? = nil
        if let path = scores {
            s = try ImportanceScores.read(path)
            try checkScores(s, from: path, for: m, progress)
        } else {
            try checkPositions(calibration.seqLength, key: "seq_length", model: m.config, model)
            let measuring = try calibration.calibration("to measure importance (or give \(SettingName.ref("scores")) importance.json)", for: loaded, model: model, progress)
            cal = measuring
            let collector = ImportanceCollector(config: m.config, mlpActivation: MLPActivation(rawValue: mlpActivation)!)
            try measuring.run(m, observer: collector, progress: progress.counter("calibration", unit: "sequences"))
            var measured = collector.scores(Aggregation(rawValue: aggregation)!)
            measured.model = m.contentHash
            s = measured
            try? FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            try s.write(to: output + "/importance.json")
            progress.say("calibration: \(s.calibrationTokens) tokens; scores saved to \(output)/importance.json")
        }
        progress.say("hidden \(m.config.hiddenSize) → \(C), MLP \(m.config.intermediateSize) → \(F), heads \(m.config.numAttentionHeads) → \(H), query groups \(m.config.numKeyValueHeads) → \(G)")
        let plan = try WidthPlan.select(s, config: m.config, targets: targets)
        let student = try WidthPruning.prune(m, plan: plan)
        if calibration.repair {
            try checkPositions(calibration.seqLength, key: "seq_length", model: m.config, model)
            let repairing = try cal ?? calibration.calibration("to repair the cut (or turn \(SettingName.ref("repair")) off)", for: loaded, model: model, progress)
            try repairCut(student, teacher: m, map: .width(plan, config: m.config), calibration: repairing, settings: calibration, progress)
        }
        try saveStudent(student, tokenizer: loaded.tokenizer, before: m.parameterCount, to: output, progress)
        return student.config
    }
}

extension WidthPruneJob {
    /// Scores given with `scores` must come from this model: another checkpoint of the same
    /// shape (the base teacher rather than the fine-tuned one) ranks other channels.
    func checkScores(_ s: ImportanceScores, from path: String, for m: LlamaModel, _ progress: Progress) throws {
        guard s.fits(m.config) else {
            let c = m.config
            throw RecipeError.invalid("scores", "\(path) holds scores for \(s.shape), but \(model) has \(c.numHiddenLayers) layers, hidden \(c.hiddenSize), MLP \(c.intermediateSize), \(c.numAttentionHeads) heads; give the importance.json measured on this model, or leave out \(SettingName.ref("scores")) to measure it")
        }
        guard let measured = s.model else {
            progress.say("warning: \(path) does not record the model it was measured on (written before pare recorded it); make sure it is \(model)'s")
            return
        }
        guard measured == m.contentHash else {
            throw RecipeError.invalid("scores", "\(path) was measured on another model of the same shape (content hash \(measured); \(model) is \(m.contentHash)), e.g. the base teacher rather than the fine-tuned one; leave out \(SettingName.ref("scores")) to measure this model")
        }
    }
}

/// What is wrong with an `export_type` (after its name), or nil.
func exportTypeProblem(_ t: String) -> String? {
    t == "none" || GGUFExport.TensorType(rawValue: t) != nil ? nil
        : "must be f32, f16, q8_0, q4_0 (the GGUF type whose shape rules the student must meet) or none, not \"\(t)\""
}

/// As the pipeline runs it (in the YAML section `prune.width`).
extension WidthPruneJob: RecipeJob {
    public static let section = "prune.width"
    public func runStep(progress: Progress) throws { _ = try run(progress: progress) }
}
