import Foundation
import PareCore
import PareDistill
import PareFormats
import PareModel
import PareTrain

/// `distill`: trains a (pruned) student to match a teacher's output distribution; the teacher
/// runs forward only in the same process. Logs kd_loss and lm_loss, writes checkpoints/,
/// tensorboard/, metrics.jsonl and OUTPUT/model.
public struct DistillJob: Equatable, JobSettings {
    public var teacher = ""                     // a .gguf file or a Hugging Face directory
    public var student = ""                     // likewise (e.g. from pare prune)
    public var loss = "forward-kl"              // forward-kl | reverse-kl | symmetric-kl | jsd
    public var temperature: Float = 1           // softmax temperature for both models
    public var jsdBeta: Float = 0.5             // β of the generalised JSD
    public var kdRatio: Float = 1               // KD weight; 1 − it weights cross-entropy on the labels
    public var topKLogits: Int? = nil           // KD against the teacher's top K tokens only (forward-kl, jsd)
    public var intermediateLoss: String? = nil  // cosine | mse on hidden states at mapped layers
    public var layerMap: String? = nil          // STUDENT:TEACHER pairs, 0-based (default last:last)
    public var intermediateWeight: Float? = nil // a fixed α for the intermediate loss (default: L_logits / L_is per step)
    public var teacherCache: String? = nil      // a folder of the teacher's top-k logits, built once per teacher and data order
    public var train = TrainSettings()

    public init() {}

    public static let settings: [Setting<DistillJob>] = [
        .model(\.teacher, "Teacher", key: "teacher"),
        .model(\.student, "Student: any model of the teacher's tokenizer, pruned by Pare or an off-the-shelf sibling (e.g. Qwen2.5-Coder-0.5B for the 1.5B)", key: "student"),
        Setting("loss", \.loss, "forward-kl, reverse-kl, symmetric-kl or jsd.", check: Check.oneOf(KDLoss.allCases.map(\.rawValue))),
        Setting("temperature", \.temperature, "Softmax temperature for both models."),
        Setting("jsd_beta", \.jsdBeta, "β of the generalised JSD, 0 < β < 1."),
        Setting("kd_ratio", \.kdRatio, "Weight of the KD loss; 1 − it weights cross-entropy on the labels; 1 = KD only, 0 = plain training.",
                check: Distiller.kdRatioProblem),
        Setting("top_k_logits", \.topKLogits, "Distil against the teacher's K most likely tokens only (its distribution truncated and renormalised); forward-kl and jsd."),
        Setting("intermediate_loss", \.intermediateLoss, "Also match hidden states at mapped layers: cosine or mse (after the norm; through a learned projection when hidden sizes differ; weighted by L_logits / L_is).",
                check: Check.oneOf(["cosine", "mse"])),
        Setting("layer_map", \.layerMap, "Layer pairs for --intermediate-loss, STUDENT:TEACHER, 0-based, comma-separated (default: last:last)."),
        Setting("intermediate_weight", \.intermediateWeight, "A fixed weight α of the intermediate-state loss (default: L_logits / L_is at every step, Minitron's choice).",
                check: Check.positive),
        Setting("teacher_cache", \.teacherCache, "A folder for the teacher's top-k logits (needs --top-k-logits): the first run with this teacher, data and batch layout writes them, later students read them instead of running the teacher."),
    ] + TrainSettings.settings.map { $0.lifted(\.train) }

    public func validate() throws {
        guard !teacher.isEmpty else { throw RecipeError.invalid("teacher", "is required: a .gguf file or a Hugging Face directory") }
        guard !student.isEmpty else { throw RecipeError.invalid("student", "is required: a .gguf file or a Hugging Face directory") }
        try checkRanges()
        if let p = settings.problem(vocabulary: nil) { throw RecipeError.failed(p) }
        if intermediateWeight != nil, intermediateLoss == nil {
            throw RecipeError.invalid("intermediate_weight", "needs \(SettingName.ref("intermediate_loss")) (cosine or mse)")
        }
        if let map = layerMap {
            guard intermediateLoss != nil else { throw RecipeError.invalid("layer_map", "needs \(SettingName.ref("intermediate_loss")) (cosine or mse)") }
            _ = try IntermediateLoss.parseLayerMap(map)
        }
        if let dir = teacherCache {
            guard !dir.isEmpty else { throw RecipeError.invalid("teacher_cache", "must name a folder") }
            // The cache is built for a known number of steps before the first one; a budget
            // fixes that number only once steps have run.
            guard train.timeBudget == nil else {
                throw RecipeError.invalid("teacher_cache", "needs a fixed \(SettingName.ref("steps")) (it is built for them before training), but \(SettingName.ref("time_budget")) fits the steps to the time during the run; remove one of them")
            }
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), !isDir.boolValue {
                throw RecipeError.invalid("teacher_cache", "(\(dir)) is a file; give a folder for the cache")
            }
            guard topKLogits != nil else { throw RecipeError.invalid("teacher_cache", "stores the teacher's top-k logits; set \(SettingName.ref("top_k_logits")) (64 keeps nearly all of the teacher's probability mass)") }
            guard intermediateLoss == nil else { throw RecipeError.invalid("teacher_cache", "holds logits only; \(SettingName.ref("intermediate_loss")) needs the teacher's hidden states, so run without the cache") }
        }
        try train.validate()
    }

    var settings: KDSettings { KDSettings(loss: KDLoss(rawValue: loss) ?? .forwardKL, temperature: temperature, jsdBeta: jsdBeta, topK: topKLogits) }

    /// The distillation objective for two loaded models; the projection of the intermediate
    /// loss is part of the objective, so the trainer registers it by construction.
    public func objective(teacher t: PretrainedModel, student s: PretrainedModel, config: TrainerConfig,
                          caches: (train: TeacherCache?, val: TeacherCache?) = (nil, nil)) throws -> Distiller {
        // The ids both vocabularies hold must mean the same: KD runs over them (the student's
        // rows, at most the teacher's), and a student's extra rows get no KD gradient.
        if let what = t.tokenizer.disagreement(with: s.tokenizer, mine: "teacher", theirs: "student") {
            throw RecipeError.failed("the teacher (\(teacher)) and the student (\(student)) tokenize differently: \(what); distillation compares their predictions id by id, so they need one tokenizer (a student pruned from the teacher, or a sibling of the same family)")
        }
        var inter: IntermediateLoss? = nil
        if let name = intermediateLoss, let k = IntermediateLossKind(rawValue: name) {
            let map = try layerMap.map(IntermediateLoss.parseLayerMap) ?? [(s.model.config.numHiddenLayers - 1, t.model.config.numHiddenLayers - 1)]
            inter = try IntermediateLoss(kind: k, layerMap: map, student: s.model.config, teacher: t.model.config,
                                         rows: config.microBatchSize * config.seqLength, seed: config.seed, weight: intermediateWeight.map(Double.init))
        }
        return try Distiller(teacher: t.model, student: s.model, settings: settings, kdRatio: kdRatio,
                             microBatch: config.microBatchSize, seqLength: config.seqLength, intermediate: inter,
                             trainCache: caches.train, valCache: caches.val)
    }

    /// Trains to the end (resuming with `resume`) and returns the final student's directory.
    @discardableResult
    public func run(progress: Progress, communicator comm: Communicator = SingleProcess()) throws -> String {
        try validate()
        var config = train.trainerConfig()
        config.dataFingerprint = try train.dataFingerprint()
        let t = try PretrainedModel.load(teacher), s = try PretrainedModel.load(student)
        try PrecisionSetting.apply(train.precision, to: t.model, s.model)
        try checkPositions(config.seqLength, key: "seq_length", model: t.model.config, teacher)
        try checkPositions(config.seqLength, key: "seq_length", model: s.model.config, student)
        try train.checkTokenizer(s.tokenizer, model: student, progress)
        let vocab = min(t.model.config.vocabSize, s.model.config.vocabSize)
        // k = V is the full distribution, which live KD computes without truncating; a cache of
        // it would hold every logit (8·V bytes a token) and saves nothing.
        if teacherCache != nil, let k = topKLogits, k >= vocab {
            throw RecipeError.invalid("teacher_cache", "stores the teacher's top-k logits, but \(SettingName.ref("top_k_logits")) \(k) keeps the whole \(vocab)-token vocabulary (\(TeacherCache.bytesPerToken(topK: vocab) / 1000) kB a token); choose fewer (64 keeps nearly all of the teacher's probability mass), or run without the cache")
        }
        // The teacher is only read: in bf16 its matrices need no f32 copy.
        if t.model.precision == .bf16 { try t.model.keepMatricesInBF16Only() }
        let trainStream = try train.stream("data_train", train.dataTrain)
        let val = try train.dataVal.map { try train.stream("data_val", $0) }
        let log = try train.openLog(comm, config, progress)
        let caches = try teacherCache.map { try openCaches($0, teacher: t.model, student: s.model, train: trainStream, val: val, config: config, comm, log, progress) }
        let distiller = try objective(teacher: t, student: s, config: config, caches: caches ?? (nil, nil))
        if let note = distiller.vocabularyNote { log.say("note: \(note)") }
        log.say("distill \(teacher) (\(t.model.parameterCount) parameters) → \(student) (\(s.model.parameterCount)); \(loss), τ \(temperature), kd-ratio \(kdRatio); \(TrainSettings.steps(config)) × \(config.globalBatchSize) × \(config.seqLength) tokens; \(Parallel.threads) threads, \(train.precision)")
        if let inter = distiller.intermediate {
            let pairs = inter.layerMap.map { "\($0.student):\($0.teacher)" }.joined(separator: ",")
            log.say("intermediate-state loss: \(inter.kind.rawValue) at student:teacher layers \(pairs)" + (inter.projection.map { p in ", through a learned \(p.shape[0])×\(p.shape[1]) projection" } ?? "")
                    + (inter.weight.map { ", weight α = \($0) (fixed)" } ?? ", weight α = L_logits / L_is"))
        }
        if let k = topKLogits { log.say("KD against the teacher's top \(k) tokens (renormalised)") }
        let trainer = try Trainer(model: s.model, tokenizer: s.tokenizer, config: config, train: trainStream, val: val,
                                  output: train.output, log: log, objective: distiller, communicator: comm, shouldStop: progress.shouldStop)
        let t0 = ProcessInfoLite.now()
        let final = try trainer.run(resume: train.resume)
        log.say(String(format: "done in %@; final student: %@", formatDuration(ProcessInfoLite.now() - t0), final))
        if teacherCache != nil { log.say("teacher cache: \(distiller.cachedMicroBatches) micro-batches read from it, \(distiller.liveMicroBatches) run live") }
        return final
    }

    /// Opens (or builds, once, on rank 0) the teacher's top-k rows for the training steps and
    /// the validation batches.
    func openCaches(_ dir: String, teacher: LlamaModel, student: LlamaModel, train stream: BlendedSampleStream, val: BlendedSampleStream?,
                    config: TrainerConfig, _ comm: Communicator, _ log: MetricsLog, _ progress: Progress) throws -> (train: TeacherCache?, val: TeacherCache?) {
        let hash = teacher.contentHash, vocab = min(teacher.config.vocabSize, student.config.vocabSize)
        func key(_ split: String, _ data: String) -> TeacherCache.Key {
            TeacherCache.Key(split: split, teacher: hash, data: data + " seed \(train.trainer.seed)", seqLength: config.seqLength,
                             microBatch: config.microBatchSize, topK: topKLogits!, vocab: vocab, precision: teacher.precision)
        }
        var jobs = [(key("train", try train.dataFingerprint()), stream, config.steps * config.globalBatchSize)]
        if let val, let spec = train.dataVal, !spec.isEmpty, config.valBatches > 0 {
            jobs.append((key("val", try train.dataFingerprint("data_val")), val, config.valBatches * config.microBatchSize))
        }
        var caches: [TeacherCache] = []
        for (k, s, samples) in jobs {
            if comm.isRoot, try TeacherCache.open(folder: dir, key: k, samples: samples) == nil {
                let t0 = ProcessInfoLite.now()
                _ = try TeacherCache.build(teacher: teacher, stream: s, samples: samples, key: k, folder: dir,
                                           progress: progress.counter("teacher cache (\(k.split))", unit: "sequences"),
                                           waiting: { log.say("note: \($0)") })
                let mb = Double(samples * config.seqLength * TeacherCache.bytesPerToken(topK: k.topK)) / 1e6
                log.say(String(format: "teacher cache: %@ %d sequences in %@, %.1f MB (%.0f MB per million tokens) in %@", k.split, samples,
                               formatDuration(ProcessInfoLite.now() - t0), mb, Double(TeacherCache.bytesPerToken(topK: k.topK)), dir))
            }
            if comm.size > 1 { try comm.barrier() }
            guard let c = try TeacherCache.open(folder: dir, key: k, samples: samples) else {
                throw RecipeError.failed("the teacher cache in \(dir) has no complete \(k.split) part after building it; on several machines the folder must be shared")
            }
            caches.append(c)
            log.say("teacher cache: reading \(k.split) top-\(k.topK) logits from \(dir)/\(k.name).*")
        }
        return (caches.first, caches.count > 1 ? caches[1] : nil)
    }
}

/// As the pipeline runs it (in the YAML section `distill`).
extension DistillJob: RecipeJob {
    public static let section = "distill"
    public func runStep(progress: Progress) throws { try run(progress: progress) }
    public var runFolder: String? { train.output }
}
