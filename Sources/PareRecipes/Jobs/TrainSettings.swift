import Foundation
import PareCore
import PareFormats
import PareTrain

/// The training settings `finetune` and `distill` share; the keys are the YAML keys (and,
/// kebab-cased, the CLI flags). Every default is written here once.
public struct TrainSettings: Codable, Equatable {
    public var dataTrain = ""                 // an indexed-dataset prefix, or "0.7 A 0.3 B" (NeMo's data_prefix)
    public var dataVal: String? = nil
    public var dataTest: String? = nil
    public var output = ""                    // checkpoints/, tensorboard/, metrics.jsonl, model/
    public var steps = 30
    public var globalBatchSize = 8
    public var microBatchSize = 4
    public var seqLength = 256
    public var lr = 1e-4
    public var minLr = 1e-5
    public var warmupSteps: Int? = nil        // default: 2, or the decay steps when there are fewer (--steps 1 just works)
    public var lrDecaySteps: Int? = nil       // default: steps (keep it fixed when a resumed run extends steps)
    public var lrSchedule = "cosine"          // cosine | constant
    public var weightDecay = 0.1
    public var gradClip = 1.0
    public var logInterval = 1
    public var valInterval = 0                // 0: at the start and the end only
    public var valBatches = 8
    public var saveTopK = 1
    public var checkpointInterval = 0         // 0: at the end only
    public var spikeFactor = 3.0              // divergence guard: loss > this × the recent median rewinds (0: off)
    public var maxRewinds = 3                 // rewinds before the run stops (0: stop at the first fault)
    public var seed: UInt64 = 1234
    public var precision = "fp32"             // fp32 | bf16 (mixed precision)
    public var resume = false
    // A fresh run into an output holding another moves that one aside. CLI only, so not a key:
    // the pipeline moves a step's old run aside itself when the step's settings change.
    public var overwrite = false

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case dataTrain = "data_train", dataVal = "data_val", dataTest = "data_test", output, steps
        case globalBatchSize = "global_batch_size", microBatchSize = "micro_batch_size", seqLength = "seq_length"
        case lr, minLr = "min_lr", warmupSteps = "warmup_steps", lrDecaySteps = "lr_decay_steps", lrSchedule = "lr_schedule"
        case weightDecay = "weight_decay", gradClip = "grad_clip", logInterval = "log_interval", valInterval = "val_interval"
        case valBatches = "val_batches", saveTopK = "save_top_k", checkpointInterval = "checkpoint_interval", seed, resume
        case spikeFactor = "spike_factor", maxRewinds = "max_rewinds", precision
    }
    public static var keys: [String] { CodingKeys.allCases.map(\.rawValue) }

    public init(from decoder: Decoder) throws { try self.init(StrictFields(decoder, known: TrainSettings.keys)) }

    init(_ f: StrictFields) throws {
        try f.read("data_train", &dataTrain); try f.read("data_val", &dataVal); try f.read("data_test", &dataTest)
        try f.read("output", &output); try f.read("steps", &steps); try f.read("global_batch_size", &globalBatchSize)
        try f.read("micro_batch_size", &microBatchSize); try f.read("seq_length", &seqLength); try f.read("lr", &lr)
        try f.read("min_lr", &minLr); try f.read("warmup_steps", &warmupSteps); try f.read("lr_decay_steps", &lrDecaySteps)
        try f.read("lr_schedule", &lrSchedule); try f.read("weight_decay", &weightDecay); try f.read("grad_clip", &gradClip)
        try f.read("log_interval", &logInterval); try f.read("val_interval", &valInterval); try f.read("val_batches", &valBatches)
        try f.read("save_top_k", &saveTopK); try f.read("checkpoint_interval", &checkpointInterval); try f.read("seed", &seed)
        try f.read("resume", &resume); try f.read("spike_factor", &spikeFactor); try f.read("max_rewinds", &maxRewinds)
        try f.read("precision", &precision)
    }

    /// The trainer's configuration; an out-of-range value is a RecipeError naming its key.
    public func trainerConfig() throws -> TrainerConfig {
        guard let kind = LRSchedule.Kind(rawValue: lrSchedule) else { throw RecipeError.invalid("lr_schedule", "must be cosine or constant, not \"\(lrSchedule)\"") }
        let decaySteps = lrDecaySteps ?? steps
        var c = TrainerConfig(steps: steps, globalBatchSize: globalBatchSize, microBatchSize: microBatchSize, seqLength: seqLength,
                              schedule: LRSchedule(kind: kind, lr: lr, minLR: minLr, warmupSteps: warmupSteps ?? min(2, max(decaySteps, 0)), decaySteps: decaySteps))
        c.weightDecay = weightDecay; c.gradClip = gradClip; c.seed = seed
        c.logInterval = logInterval; c.valInterval = valInterval; c.valBatches = valBatches
        c.saveTopK = saveTopK; c.checkpointInterval = checkpointInterval
        c.spikeFactor = spikeFactor; c.maxRewinds = maxRewinds
        try c.validate()
        return c
    }

    /// Checks the settings without touching any file.
    public func validate() throws {
        guard !dataTrain.isEmpty else { throw RecipeError.invalid("data_train", "is required: an indexed-dataset prefix from pare data tokenize") }
        guard !output.isEmpty else { throw RecipeError.invalid("output", "is required: the run folder") }
        for (key, spec) in [("data_train", dataTrain), ("data_val", dataVal), ("data_test", dataTest)] {
            guard let spec else { continue }
            do { _ = try DataPrefix(spec) } catch let e as DataPrefixError { throw RecipeError.invalid(key, e.rawMessage) }
        }
        guard logInterval >= 1 else { throw RecipeError.invalid("log_interval", "must be at least 1, not \(logInterval)") }
        guard valInterval >= 0, valBatches >= 0, checkpointInterval >= 0 else {
            throw RecipeError.invalid(valInterval < 0 ? "val_interval" : valBatches < 0 ? "val_batches" : "checkpoint_interval", "must be ≥ 0")
        }
        _ = try trainerConfig()
        _ = try PrecisionSetting.parse(precision)
    }

    /// The training data as the run records it: the spec and an FNV-1a hash of each .idx (the
    /// document lengths, so a different corpus or tokenizer changes it).
    func dataFingerprint(_ key: String = "data_train") throws -> String {
        let spec = key == "data_train" ? dataTrain : key == "data_val" ? dataVal ?? "" : dataTest ?? ""
        let prefix: DataPrefix
        do { prefix = try DataPrefix(spec) } catch let e as DataPrefixError { throw RecipeError.invalid(key, e.rawMessage) }
        var parts: [String] = []
        for p in prefix.parts {
            let idx = DataPrefix.resolve(p.prefix) + ".idx"
            guard let data = FileManager.default.contents(atPath: idx) else { throw RecipeError.invalid(key, "names \(idx), which cannot be read") }
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for b in data { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
            // Content only: the same data reached by another path is the same data.
            parts.append("\(p.weight) × .idx #\(String(h, radix: 16))")
        }
        return parts.joined(separator: " ")
    }

    /// The blended sample stream of a data spec (train, val or test).
    func stream(_ key: String, _ spec: String) throws -> BlendedSampleStream {
        let prefix: DataPrefix
        do { prefix = try DataPrefix(spec) } catch let e as DataPrefixError { throw RecipeError.invalid(key, e.rawMessage) }
        return try prefix.stream(seqLength: seqLength, seed: seed)
    }

    /// The run's log: TensorBoard, metrics.jsonl and the console on rank 0; other ranks log nothing.
    func openLog(_ comm: Communicator, _ config: TrainerConfig, _ progress: Progress) throws -> MetricsLog {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: output, isDirectory: &isDir), !isDir.boolValue {
            throw RecipeError.invalid("output", "(\(output)) is a file; give a folder for the run (checkpoints, metrics, model)")
        }
        guard comm.isRoot else { return MetricsLog() }
        // One process per run folder: a second one (a forgotten background job, a resume typed
        // while the run is still going) is refused before it reads or moves anything.
        var lock: RunLock? = nil
        if isDir.boolValue { lock = try RunLock(folder: output) }
        // A fresh run never writes into another run's folder: its checkpoints would be mixed in
        // and its metrics.jsonl appended to.
        if !resume, RunFolder.holdsRun(output) {
            guard overwrite else {
                throw RecipeError.invalid("output", "(\(output)) holds another run; pass \(SettingName.ref("resume")) to continue it, \(SettingName.ref("overwrite")) to move it aside, or choose another \(SettingName.ref("output"))")
            }
            lock?.release(); lock = nil
            progress.say("moved the earlier run in \(output) aside to \(try RunFolder.moveAside(output))")
        }
        try? FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let log = try MetricsLog(directory: output, lock: lock ?? RunLock(folder: output))
        if comm.size > 1 { log.say("data parallel: \(comm.size) ranks × \(Parallel.threads) threads; each rank takes \(config.globalBatchSize / comm.size) of the \(config.globalBatchSize) sequences per step") }
        return log
    }
}
