import Foundation
import PareCore
import PareDistill
import PareFormats
import PareModel
import PareTrain

/// `distill`: trains a (pruned) student to match a teacher's output distribution; the teacher
/// runs forward only in the same process. Logs kd_loss and lm_loss, writes checkpoints/,
/// tensorboard/, metrics.jsonl and OUTPUT/model.
public struct DistillJob: Codable, Equatable {
    public var teacher = ""                     // a .gguf file or a Hugging Face directory
    public var student = ""                     // likewise (e.g. from pare prune)
    public var loss = "forward-kl"              // forward-kl | reverse-kl | symmetric-kl | jsd
    public var temperature: Float = 1           // softmax temperature for both models
    public var jsdBeta: Float = 0.5             // β of the generalised JSD
    public var kdRatio: Float = 1               // KD weight; 1 − it weights cross-entropy on the labels
    public var topKLogits: Int? = nil           // KD against the teacher's top K tokens only (forward-kl, jsd)
    public var intermediateLoss: String? = nil  // cosine | mse on hidden states at mapped layers
    public var layerMap: String? = nil          // STUDENT:TEACHER pairs, 0-based (default last:last)
    public var train = TrainSettings()

    public init() {}
    static let ownKeys = ["teacher", "student", "loss", "temperature", "jsd_beta", "kd_ratio", "top_k_logits", "intermediate_loss", "layer_map"]
    public static var keys: [String] { ownKeys + TrainSettings.keys }

    public init(from decoder: Decoder) throws {
        let f = try StrictFields(decoder, known: DistillJob.keys)
        try f.read("teacher", &teacher); try f.read("student", &student); try f.read("loss", &loss)
        try f.read("temperature", &temperature); try f.read("jsd_beta", &jsdBeta); try f.read("kd_ratio", &kdRatio)
        try f.read("top_k_logits", &topKLogits); try f.read("intermediate_loss", &intermediateLoss); try f.read("layer_map", &layerMap)
        train = try TrainSettings(f)
    }
    public func encode(to encoder: Encoder) throws {
        try train.encode(to: encoder)
        var c = encoder.container(keyedBy: AnyKey.self)
        try c.encode(teacher, forKey: AnyKey("teacher")); try c.encode(student, forKey: AnyKey("student"))
        try c.encode(loss, forKey: AnyKey("loss")); try c.encode(temperature, forKey: AnyKey("temperature"))
        try c.encode(jsdBeta, forKey: AnyKey("jsd_beta")); try c.encode(kdRatio, forKey: AnyKey("kd_ratio"))
        try c.encodeIfPresent(topKLogits, forKey: AnyKey("top_k_logits"))
        try c.encodeIfPresent(intermediateLoss, forKey: AnyKey("intermediate_loss"))
        try c.encodeIfPresent(layerMap, forKey: AnyKey("layer_map"))
    }

    public func validate() throws {
        guard !teacher.isEmpty else { throw RecipeError.invalid("teacher", "is required: a .gguf file or a Hugging Face directory") }
        guard !student.isEmpty else { throw RecipeError.invalid("student", "is required: a .gguf file or a Hugging Face directory") }
        guard KDLoss(rawValue: loss) != nil else { throw RecipeError.invalid("loss", "must be forward-kl, reverse-kl, symmetric-kl or jsd, not \"\(loss)\"") }
        if let p = settings.problem(vocabulary: Int.max) { throw RecipeError.failed(p) }
        guard kdRatio >= 0 && kdRatio <= 1 else { throw RecipeError.invalid("kd_ratio", "must be between 0 and 1, not \(kdRatio)") }
        if let name = intermediateLoss, IntermediateLossKind(rawValue: name) == nil {
            throw RecipeError.invalid("intermediate_loss", "must be cosine or mse, not \"\(name)\"")
        }
        if let map = layerMap {
            guard intermediateLoss != nil else { throw RecipeError.invalid("layer_map", "needs \(SettingName.ref("intermediate_loss")) (cosine or mse)") }
            _ = try IntermediateLoss.parseLayerMap(map)
        }
        try train.validate()
    }

    var settings: KDSettings { KDSettings(loss: KDLoss(rawValue: loss) ?? .forwardKL, temperature: temperature, jsdBeta: jsdBeta, topK: topKLogits) }

    /// The distillation objective for two loaded models; the projection of the intermediate
    /// loss is part of the objective, so the trainer registers it by construction.
    public func objective(teacher t: PretrainedModel, student s: PretrainedModel, config: TrainerConfig) throws -> Distiller {
        // Same tokenizer: the common vocabulary must spell the same tokens.
        let common = min(t.tokenizer.vocabularySize, s.tokenizer.vocabularySize)
        guard t.tokenizer.model.tokens.prefix(common) == s.tokenizer.model.tokens.prefix(common) else {
            throw RecipeError.failed("the teacher and student tokenizers differ; distillation needs a shared tokenizer")
        }
        var inter: IntermediateLoss? = nil
        if let name = intermediateLoss, let k = IntermediateLossKind(rawValue: name) {
            let map = try layerMap.map(IntermediateLoss.parseLayerMap) ?? [(s.model.config.numHiddenLayers - 1, t.model.config.numHiddenLayers - 1)]
            inter = try IntermediateLoss(kind: k, layerMap: map, student: s.model.config, teacher: t.model.config,
                                         rows: config.microBatchSize * config.seqLength, seed: config.seed)
        }
        return try Distiller(teacher: t.model, student: s.model, settings: settings, kdRatio: kdRatio,
                             microBatch: config.microBatchSize, seqLength: config.seqLength, intermediate: inter)
    }

    /// Trains to the end (resuming with `resume`) and returns the final student's directory.
    @discardableResult
    public func run(progress: Progress, communicator comm: Communicator = SingleProcess()) throws -> String {
        try validate()
        var config = try train.trainerConfig()
        config.dataFingerprint = try train.dataFingerprint()
        let t = try PretrainedModel.load(teacher), s = try PretrainedModel.load(student)
        try checkPositions(config.seqLength, key: "seq_length", model: t.model.config, teacher)
        try checkPositions(config.seqLength, key: "seq_length", model: s.model.config, student)
        let distiller = try objective(teacher: t, student: s, config: config)
        let trainStream = try train.stream("data_train", train.dataTrain)
        let val = try train.dataVal.map { try train.stream("data_val", $0) }
        let log = try train.openLog(comm, config, progress)
        if let note = distiller.vocabularyNote { log.say("note: \(note)") }
        log.say("distill \(teacher) (\(t.model.parameterCount) parameters) → \(student) (\(s.model.parameterCount)); \(loss), τ \(temperature), kd-ratio \(kdRatio); \(config.steps) steps × \(config.globalBatchSize) × \(config.seqLength) tokens; \(Parallel.threads) threads")
        if let inter = distiller.intermediate {
            let pairs = inter.layerMap.map { "\($0.student):\($0.teacher)" }.joined(separator: ",")
            log.say("intermediate-state loss: \(inter.kind.rawValue) at student:teacher layers \(pairs)" + (inter.projection.map { p in ", through a learned \(p.shape[0])×\(p.shape[1]) projection" } ?? ""))
        }
        if let k = topKLogits { log.say("KD against the teacher's top \(k) tokens (renormalised)") }
        let trainer = try Trainer(model: s.model, tokenizer: s.tokenizer, config: config, train: trainStream, val: val,
                                  output: train.output, log: log, objective: distiller)
        trainer.communicator = comm
        let t0 = ProcessInfoLite.now()
        let final = try trainer.run(resume: train.resume)
        log.say(String(format: "done in %@; final student: %@", formatDuration(ProcessInfoLite.now() - t0), final))
        return final
    }
}
