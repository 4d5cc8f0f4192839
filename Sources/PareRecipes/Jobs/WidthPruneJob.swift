import Foundation
import PareCore
import PareFormats
import PareModel
import ParePrune

/// `prune width`: slices MLP neurons, attention heads, query groups and hidden channels by
/// activation importance. Output: a Hugging Face directory and importance.json.
public struct WidthPruneJob: Codable, Equatable {
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
    static let ownKeys = ["model", "output", "ffn_hidden_size", "hidden_size", "num_attention_heads", "num_query_groups",
                          "size_multiple", "export_type", "scores", "aggregation", "mlp_activation"]
    public static var keys: [String] { ownKeys + CalibrationSettings.keys }

    public init(from decoder: Decoder) throws {
        let f = try StrictFields(decoder, known: WidthPruneJob.keys)
        try f.read("model", &model); try f.read("output", &output); try f.read("ffn_hidden_size", &ffnHiddenSize)
        try f.read("hidden_size", &hiddenSize); try f.read("num_attention_heads", &numAttentionHeads)
        try f.read("num_query_groups", &numQueryGroups); try f.read("size_multiple", &sizeMultiple); try f.read("export_type", &exportType); try f.read("scores", &scores)
        try f.read("aggregation", &aggregation); try f.read("mlp_activation", &mlpActivation)
        calibration = try CalibrationSettings(f)
    }
    public func encode(to encoder: Encoder) throws {
        try calibration.encode(to: encoder)
        var c = encoder.container(keyedBy: AnyKey.self)
        try c.encode(model, forKey: AnyKey("model")); try c.encode(output, forKey: AnyKey("output"))
        try c.encodeIfPresent(ffnHiddenSize, forKey: AnyKey("ffn_hidden_size")); try c.encodeIfPresent(hiddenSize, forKey: AnyKey("hidden_size"))
        try c.encodeIfPresent(numAttentionHeads, forKey: AnyKey("num_attention_heads"))
        try c.encodeIfPresent(numQueryGroups, forKey: AnyKey("num_query_groups"))
        try c.encode(sizeMultiple, forKey: AnyKey("size_multiple")); try c.encode(exportType, forKey: AnyKey("export_type"))
        try c.encodeIfPresent(scores, forKey: AnyKey("scores"))
        try c.encode(aggregation, forKey: AnyKey("aggregation")); try c.encode(mlpActivation, forKey: AnyKey("mlp_activation"))
    }

    var targets: WidthPlan.Targets {
        WidthPlan.Targets(hiddenSize: hiddenSize, ffnHiddenSize: ffnHiddenSize, numAttentionHeads: numAttentionHeads,
                          numQueryGroups: numQueryGroups, sizeMultiple: sizeMultiple,
                          exportType: GGUFExport.TensorType(rawValue: exportType))
    }

    public func validate() throws {
        guard !model.isEmpty else { throw RecipeError.invalid("model", "is required: a .gguf file or a Hugging Face directory") }
        guard !output.isEmpty else { throw RecipeError.invalid("output", "is required: the student's Hugging Face directory") }
        guard sizeMultiple >= 1 else { throw RecipeError.invalid("size_multiple", "must be at least 1 (1 allows any size), not \(sizeMultiple)") }
        guard exportType == "none" || GGUFExport.TensorType(rawValue: exportType) != nil else {
            throw RecipeError.invalid("export_type", "must be f32, f16, q8_0, q4_0 (the GGUF type whose shape rules the student must meet) or none, not \"\(exportType)\"")
        }
        guard Aggregation(rawValue: aggregation) != nil else { throw RecipeError.invalid("aggregation", "must be l2, mean or variance, not \"\(aggregation)\"") }
        guard MLPActivation(rawValue: mlpActivation) != nil else { throw RecipeError.invalid("mlp_activation", "must be down-input or gate, not \"\(mlpActivation)\"") }
        if scores == nil { try calibration.validate() }
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
        if let path = scores {
            s = try ImportanceScores.read(path)
        } else {
            try checkPositions(calibration.seqLength, key: "seq_length", model: m.config, model)
            let cal = try calibration.calibration("to measure importance (or give \(SettingName.ref("scores")) importance.json)")
            let collector = ImportanceCollector(config: m.config, mlpActivation: MLPActivation(rawValue: mlpActivation)!)
            try cal.run(m, observer: collector, progress: progress.counter("calibration", unit: "sequences"))
            s = collector.scores(Aggregation(rawValue: aggregation)!)
            try? FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            try s.write(to: output + "/importance.json")
            progress.say("calibration: \(s.calibrationTokens) tokens; scores saved to \(output)/importance.json")
        }
        progress.say("hidden \(m.config.hiddenSize) → \(C), MLP \(m.config.intermediateSize) → \(F), heads \(m.config.numAttentionHeads) → \(H), query groups \(m.config.numKeyValueHeads) → \(G)")
        let student = try WidthPruning.prune(m, plan: try WidthPlan.select(s, config: m.config, targets: targets))
        try saveStudent(student, tokenizer: loaded.tokenizer, before: m.parameterCount, to: output, progress)
        return student.config
    }
}
