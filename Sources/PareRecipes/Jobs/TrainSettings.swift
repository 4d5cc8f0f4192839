import Foundation
import PareCore
import PareFormats
import PareTrain

/// The training settings `finetune` and `distill` share. The loop's numbers are the trainer's
/// own configuration, with its defaults; the rest says where the data and the run are.
public struct TrainSettings: Equatable, JobSettings {
    public var dataTrain = ""                 // an indexed-dataset prefix, or "0.7 A 0.3 B" (NeMo's data_prefix)
    public var dataVal: String? = nil
    public var dataTest: String? = nil
    public var output = ""                    // checkpoints/, tensorboard/, metrics.jsonl, model/
    public var trainer = TrainerConfig()      // steps, batch, schedule, optimizer, guard
    public var warmupSteps: Int? = nil        // default: 2, or the decay steps when there are fewer (--steps 1 just works)
    public var lrDecaySteps: Int? = nil       // default: steps (keep it fixed when a resumed run extends steps)
    public var timeBudget: String? = nil      // "45m": the step count is fitted to this wall time (TimeBudget)
    public var precision = "fp32"             // fp32 | bf16 (mixed precision) | auto
    public var resume = false
    // A fresh run into an output holding another moves that one aside. Command line only: the
    // pipeline moves a step's old run aside itself when the step's settings change.
    public var overwrite = false

    public init() {}

    public static let settings: [Setting<TrainSettings>] = [
        Setting("data_train", \.dataTrain, "Training data: an indexed-dataset prefix, or weighted prefixes \"0.7 A 0.3 B\" (NeMo's data_prefix)."),
        Setting("data_val", \.dataVal, "Validation data prefix(es)."),
        Setting("data_test", \.dataTest, "Test data prefix(es), evaluated once at the end."),
        Setting("output", \.output, "Output folder: checkpoints/, tensorboard/, metrics.jsonl, model/."),
        Setting("steps", \.trainer.steps, "Optimizer steps (with time_budget: not used).", check: Check.positive),
        Setting("time_budget", \.timeBudget, "Wall time for the training run (its steps, validations and checkpoints), e.g. 45m, 1h30m, 2700 (seconds): the step count is fixed from the first steps' measured time, replacing steps, and the learning rate decays over it.",
                check: { TimeBudget.parse($0) == nil ? "expected a duration such as 45m, 1h30m or 2700 (seconds), not \"\($0)\"" : nil }),
        Setting("global_batch_size", \.trainer.globalBatchSize, "Sequences per optimizer step; micro-batches are accumulated."),
        Setting("micro_batch_size", \.trainer.microBatchSize, "Sequences per forward/backward pass.", check: Check.positive),
        Setting("seq_length", \.trainer.seqLength, "Tokens per sequence.", check: Check.atLeast(2)),
        Setting("lr", \.trainer.schedule.lr, "Peak learning rate.", check: Check.positiveFinite),
        Setting("min_lr", \.trainer.schedule.minLR, "Final learning rate of the cosine decay.", check: Check.nonNegative),
        Setting("warmup_steps", \.warmupSteps, "Linear warm-up steps (default 2, or the decay steps when fewer).", check: Check.nonNegative),
        Setting("lr_decay_steps", \.lrDecaySteps, "Steps over which the LR decays (default: --steps). Keep it fixed across --resume runs that extend --steps."),
        Setting("lr_schedule", \.trainer.schedule.kind, "Learning-rate schedule."),
        Setting("weight_decay", \.trainer.weightDecay, "AdamW weight decay, not applied to norms and biases.", check: Check.nonNegative),
        Setting("grad_clip", \.trainer.gradClip, "Clip the global gradient norm to this; 0: off.", check: Check.nonNegative),
        Setting("log_interval", \.trainer.logInterval, "Print a progress line every N steps.", check: Check.atLeast(1), changesOutput: false),
        Setting("val_interval", \.trainer.valInterval, "Validate every N steps; 0: at the start and the end only.", check: Check.nonNegative),
        Setting("val_batches", \.trainer.valBatches, "Micro-batches per validation.", check: Check.nonNegative),
        Setting("save_top_k", \.trainer.saveTopK, "Keep the K checkpoints with the lowest validation loss, and always the newest.",
                check: Check.atLeast(1), changesOutput: false),
        Setting("checkpoint_interval", \.trainer.checkpointInterval, "Save the full training state every N steps; 0: at the end only.", check: Check.nonNegative),
        Setting("spike_factor", \.trainer.spikeFactor, "Divergence guard: a step whose loss is over F × the median of the last 20 (or not finite, or whose gradient norm explodes) is not applied; the run rewinds to the last checkpoint and skips the batches since. 0: spikes off.",
                check: TrainerConfig.spikeFactorProblem),
        Setting("max_rewinds", \.trainer.maxRewinds, "Rewinds before the run stops with the error; 0: stop at the first fault.", check: Check.nonNegative),
        Setting("seed", \.trainer.seed, "Seed for data order."),
        Setting("precision", \.precision, "Matmul precision: \(precisionHelp).", check: PrecisionSetting.problem),
        Setting("resume", \.resume, "Continue from the newest checkpoint in --output.", changesOutput: false),
        Setting("overwrite", \.overwrite, "Start afresh even though --output holds another run: that run is moved aside to OUTPUT.previous-N.",
                changesOutput: false, place: .commandLineOnly),
    ]

    /// The trainer's configuration: the loop's settings with the schedule's derived steps.
    public func trainerConfig() -> TrainerConfig {
        var c = trainer
        if let text = timeBudget, let seconds = TimeBudget.parse(text) {
            c.timeBudget = seconds
            c.steps = TimeBudget.undecided   // fixed by the trainer once its first steps are timed
        }
        c.schedule.decaySteps = lrDecaySteps ?? c.steps
        c.schedule.warmupSteps = warmupSteps ?? min(2, max(c.schedule.decaySteps, 0))
        return c
    }

    /// "30 steps", or "steps fitted to a 45m time budget".
    static func steps(_ c: TrainerConfig) -> String {
        c.timeBudget.map { "steps fitted to a \(formatDuration($0)) time budget" } ?? "\(c.steps) steps"
    }

    /// Checks the settings without touching any file.
    public func validate() throws {
        guard !dataTrain.isEmpty else { throw RecipeError.invalid("data_train", "is required: an indexed-dataset prefix from pare data tokenize") }
        guard !output.isEmpty else { throw RecipeError.invalid("output", "is required: the run folder") }
        for (key, spec) in [("data_train", dataTrain), ("data_val", dataVal), ("data_test", dataTest)] {
            guard let spec else { continue }
            do { _ = try DataPrefix(spec) } catch let e as DataPrefixError { throw RecipeError.invalid(key, e.rawMessage) }
        }
        try checkRanges()
        if timeBudget != nil && lrDecaySteps != nil {
            throw RecipeError.invalid("lr_decay_steps", "cannot be set with \(SettingName.ref("time_budget")): the budget sets the steps the learning rate decays over; remove one of them")
        }
        try trainerConfig().validate()
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
            // Content only: the same data reached by another path is the same data.
            parts.append("\(p.weight) × .idx #\(String(FNV1a.hash(data), radix: 16))")
        }
        return parts.joined(separator: " ")
    }

    /// Every data spec of the run was tokenized with `tokenizer` (the model's).
    func checkTokenizer(_ tokenizer: Tokenizer, model: String, _ progress: Progress) throws {
        for (key, spec) in [("data_train", dataTrain), ("data_val", dataVal), ("data_test", dataTest)] {
            if let spec, !spec.isEmpty { try checkDataTokenizer(spec, key: key, tokenizer: tokenizer, model: model, progress) }
        }
    }

    /// The blended sample stream of a data spec (train, val or test).
    func stream(_ key: String, _ spec: String) throws -> BlendedSampleStream {
        let prefix: DataPrefix
        do { prefix = try DataPrefix(spec) } catch let e as DataPrefixError { throw RecipeError.invalid(key, e.rawMessage) }
        for part in prefix.parts { _ = try openDataset(part.prefix, key: key) }
        return try prefix.stream(seqLength: trainer.seqLength, seed: trainer.seed)
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

extension LRSchedule.Kind: SettingChoice {}
