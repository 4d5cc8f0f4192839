import Foundation
import Yams

/// `pare pipeline CONFIG.yaml`: the seed tutorial's steps and their settings. Every key has
/// a default written here; a key the pipeline does not know is an error that names it.
struct PipelineConfig: Decodable {
    var runDir = "runs/pipeline"
    var teacher = "smollm2-135m"        // the bundled GGUF, or a .gguf / Hugging Face directory path
    var threads: Int? = nil
    var data = DataSettings()
    var finetune = TrainSettings(steps: 20)
    var prune = PruneSettings()
    var distill = TrainSettings(steps: 40, lr: 5e-4, minLR: 5e-5, warmupSteps: 3)
    var eval = EvalSettings()

    struct DataSettings: Decodable {
        var source = "wiki-summaries"
        var jsonKey = "text"
        var valFraction = 0.025
        var testFraction = 0.025
        var seed = 1234
    }
    struct TrainSettings: Decodable {
        var steps: Int
        var globalBatchSize = 8
        var microBatchSize = 4
        var seqLength = 256
        var lr = 1e-4
        var minLR = 1e-5
        var warmupSteps = 2
        var weightDecay = 0.1
        var gradClip = 1.0
        var valInterval = 5
        var valBatches = 4
        var checkpointInterval = 10
        var loss = "forward-kl"          // distillation only
        var temperature = 1.0            // distillation only
        var kdRatio = 1.0                // distillation only
        var topKLogits: Int? = nil       // distillation only
        var intermediateLoss: String? = nil   // distillation only: cosine | mse
        var layerMap: [String: String] = [:]  // distillation only: student name (depth, width) → "S:T,…"
        init(steps: Int, lr: Double = 1e-4, minLR: Double = 1e-5, warmupSteps: Int = 2) {
            self.steps = steps; self.lr = lr; self.minLR = minLR; self.warmupSteps = warmupSteps
        }
    }
    struct PruneSettings: Decodable {
        var calibrationSamples = 32
        var seqLength = 256
        var depth = DepthSettings()
        var width = WidthSettings()
    }
    struct DepthSettings: Decodable {
        var enabled = true
        var numLayers = 15
        var metric = "cosine"
        var contiguous = true
    }
    struct WidthSettings: Decodable {
        var enabled = true
        var hiddenSize: Int? = 384
        var ffnHiddenSize: Int? = 1024
        var numAttentionHeads: Int? = nil
        var numQueryGroups: Int? = nil
    }
    struct EvalSettings: Decodable {
        var seqLength = 256
        var maxWindows = 64
        var speed = true                 // prefill / decode tokens/s in the comparison table
    }

    static func load(_ path: String) throws -> PipelineConfig {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw PipelineError("cannot read \(path)") }
        do { return try YAMLDecoder().decode(PipelineConfig.self, from: text) }
        catch let e as PipelineError { throw PipelineError("\(path): \(e.description)") }
        catch let DecodingError.typeMismatch(_, c) { throw PipelineError("\(path): \(c.codingPath.map(\.stringValue).joined(separator: ".")): \(c.debugDescription)") }
        catch let DecodingError.dataCorrupted(c) {
            if let inner = c.underlyingError as? PipelineError { throw PipelineError("\(path): \(inner.description)") }
            throw PipelineError("\(path): \(c.codingPath.map(\.stringValue).joined(separator: ".")): \(c.debugDescription)")
        }
        catch { throw PipelineError("\(path): \(error)") }
    }
}

struct PipelineError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Decoding with snake_case keys where every key present must be one the type knows.
struct StrictKeys {
    let container: KeyedDecodingContainer<AnyKey>
    let path: String

    init(_ decoder: Decoder, known: [String]) throws {
        container = try decoder.container(keyedBy: AnyKey.self)
        path = decoder.codingPath.map(\.stringValue).joined(separator: ".")
        for k in container.allKeys where !known.contains(k.stringValue) {
            throw PipelineError("unknown key \"\(path.isEmpty ? "" : path + ".")\(k.stringValue)\" (known here: \(known.joined(separator: ", ")))")
        }
    }

    func value<T: Decodable>(_ key: String, _ fallback: T) throws -> T {
        try container.decodeIfPresent(T.self, forKey: AnyKey(key)) ?? fallback
    }
}

struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

extension PipelineConfig {
    init(from d: Decoder) throws {
        let k = try StrictKeys(d, known: ["run_dir", "teacher", "threads", "data", "finetune", "prune", "distill", "eval"])
        runDir = try k.value("run_dir", runDir); teacher = try k.value("teacher", teacher)
        threads = try k.container.decodeIfPresent(Int.self, forKey: AnyKey("threads"))
        data = try k.value("data", data); finetune = try k.value("finetune", finetune)
        prune = try k.value("prune", prune); distill = try k.value("distill", distill); eval = try k.value("eval", eval)
    }
}
extension PipelineConfig.DataSettings {
    init(from d: Decoder) throws {
        let k = try StrictKeys(d, known: ["source", "json_key", "val_fraction", "test_fraction", "seed"])
        source = try k.value("source", source); jsonKey = try k.value("json_key", jsonKey)
        valFraction = try k.value("val_fraction", valFraction); testFraction = try k.value("test_fraction", testFraction)
        seed = try k.value("seed", seed)
    }
}
extension PipelineConfig.TrainSettings {
    init(from d: Decoder) throws {
        let k = try StrictKeys(d, known: ["steps", "global_batch_size", "micro_batch_size", "seq_length", "lr", "min_lr", "warmup_steps",
                                          "weight_decay", "grad_clip", "val_interval", "val_batches", "checkpoint_interval",
                                          "loss", "temperature", "kd_ratio", "top_k_logits", "intermediate_loss", "layer_map"])
        self.init(steps: try k.value("steps", 20))
        globalBatchSize = try k.value("global_batch_size", globalBatchSize); microBatchSize = try k.value("micro_batch_size", microBatchSize)
        seqLength = try k.value("seq_length", seqLength); lr = try k.value("lr", lr); minLR = try k.value("min_lr", minLR)
        warmupSteps = try k.value("warmup_steps", warmupSteps); weightDecay = try k.value("weight_decay", weightDecay)
        gradClip = try k.value("grad_clip", gradClip); valInterval = try k.value("val_interval", valInterval)
        valBatches = try k.value("val_batches", valBatches); checkpointInterval = try k.value("checkpoint_interval", checkpointInterval)
        loss = try k.value("loss", loss); temperature = try k.value("temperature", temperature); kdRatio = try k.value("kd_ratio", kdRatio)
        topKLogits = try k.value("top_k_logits", topKLogits); intermediateLoss = try k.value("intermediate_loss", intermediateLoss)
        layerMap = try k.value("layer_map", layerMap)
    }
}
extension PipelineConfig.PruneSettings {
    init(from d: Decoder) throws {
        let k = try StrictKeys(d, known: ["calibration_samples", "seq_length", "depth", "width"])
        calibrationSamples = try k.value("calibration_samples", calibrationSamples); seqLength = try k.value("seq_length", seqLength)
        depth = try k.value("depth", depth); width = try k.value("width", width)
    }
}
extension PipelineConfig.DepthSettings {
    init(from d: Decoder) throws {
        let k = try StrictKeys(d, known: ["enabled", "num_layers", "metric", "contiguous"])
        enabled = try k.value("enabled", enabled); numLayers = try k.value("num_layers", numLayers)
        metric = try k.value("metric", metric); contiguous = try k.value("contiguous", contiguous)
    }
}
extension PipelineConfig.WidthSettings {
    init(from d: Decoder) throws {
        let k = try StrictKeys(d, known: ["enabled", "hidden_size", "ffn_hidden_size", "num_attention_heads", "num_query_groups"])
        enabled = try k.value("enabled", enabled)
        hiddenSize = try k.container.decodeIfPresent(Int.self, forKey: AnyKey("hidden_size")) ?? (k.container.contains(AnyKey("hidden_size")) ? nil : hiddenSize)
        ffnHiddenSize = try k.container.decodeIfPresent(Int.self, forKey: AnyKey("ffn_hidden_size")) ?? (k.container.contains(AnyKey("ffn_hidden_size")) ? nil : ffnHiddenSize)
        numAttentionHeads = try k.container.decodeIfPresent(Int.self, forKey: AnyKey("num_attention_heads"))
        numQueryGroups = try k.container.decodeIfPresent(Int.self, forKey: AnyKey("num_query_groups"))
    }
}
extension PipelineConfig.EvalSettings {
    init(from d: Decoder) throws {
        let k = try StrictKeys(d, known: ["seq_length", "max_windows", "speed"])
        seqLength = try k.value("seq_length", seqLength); maxWindows = try k.value("max_windows", maxWindows); speed = try k.value("speed", speed)
    }
}
