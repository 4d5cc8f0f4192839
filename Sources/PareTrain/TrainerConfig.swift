import PareCore

/// Everything that decides a training run's numbers. Saved in every checkpoint; a resumed run
/// must agree on all of it except `steps` (which may grow).
public struct TrainerConfig: Codable, Equatable, Sendable {
    public var steps: Int
    public var globalBatchSize: Int
    public var microBatchSize: Int
    public var seqLength: Int
    public var schedule: LRSchedule
    public var weightDecay: Double = 0.1
    public var beta1: Double = 0.9
    public var beta2: Double = 0.95
    public var eps: Double = 1e-8
    public var gradClip: Double = 1.0
    public var seed: UInt64 = 1234
    /// Wall seconds the run may take (`time_budget`): its step count is then fixed from the
    /// first steps' measured time (TimeBudget) and `steps` is `TimeBudget.undecided` until then.
    public var timeBudget: Double? = nil
    // Bookkeeping only (does not change the numbers):
    public var logInterval: Int = 1
    public var valInterval: Int = 0       // 0: only at the end
    public var valBatches: Int = 8
    public var checkpointInterval: Int = 0   // 0: only at the end
    public var saveTopK: Int = 1
    /// Divergence guard: a step whose loss exceeds this multiple of the recent median (or is
    /// not finite, or whose gradient norm explodes) is not applied; the run rewinds to the last
    /// checkpoint and skips the batches since. 0 turns the spike test off.
    public var spikeFactor: Double = 3.0
    /// Rewinds allowed before the run stops with the error (0: stop at the first fault).
    public var maxRewinds: Int = 3
    /// What the training data was (its specification and a hash of each .idx); a resumed run
    /// must be on the same data. nil in checkpoints written before it was recorded.
    public var dataFingerprint: String? = nil

    /// The defaults are those of `pare finetune` and `pare distill` (whose settings embed this).
    public init(steps: Int = 30, globalBatchSize: Int = 8, microBatchSize: Int = 4, seqLength: Int = 256,
                schedule: LRSchedule = LRSchedule(kind: .cosine, lr: 1e-4, minLR: 1e-5, warmupSteps: 2, decaySteps: 30)) {
        self.steps = steps; self.globalBatchSize = globalBatchSize; self.microBatchSize = microBatchSize
        self.seqLength = seqLength; self.schedule = schedule
    }

    public var accumulationSteps: Int { globalBatchSize / microBatchSize }

    /// Checks every setting; an error names the setting by its key (`steps`, `min_lr`, …),
    /// which the caller shows as a flag or a YAML path.
    public func validate() throws {
        func bad(_ key: String, _ m: String) -> TrainingError { .invalidSetting(key: key, m) }
        let ranges: [(String, String?)] = [
            ("steps", Check.positive(steps)), ("micro_batch_size", Check.positive(microBatchSize)),
            ("seq_length", Check.atLeast(2)(seqLength)), ("lr", Check.positiveFinite(schedule.lr)),
            ("warmup_steps", Check.nonNegative(schedule.warmupSteps)), ("grad_clip", Check.nonNegative(gradClip)),
            ("weight_decay", Check.nonNegative(weightDecay)), ("spike_factor", TrainerConfig.spikeFactorProblem(spikeFactor)),
            ("max_rewinds", Check.nonNegative(maxRewinds)), ("save_top_k", Check.atLeast(1)(saveTopK)),
            ("time_budget", timeBudget.map { $0.isFinite && $0 > 0 ? nil : "must be a positive duration, not \($0) s" } ?? nil),
        ]
        for case let (key, problem?) in ranges { throw bad(key, problem) }
        guard globalBatchSize > 0, globalBatchSize % microBatchSize == 0 else {
            throw bad("global_batch_size", "(\(globalBatchSize)) must be a positive multiple of \(TrainingError.ref("micro_batch_size")) (\(microBatchSize))")
        }
        guard schedule.minLR >= 0, schedule.minLR <= schedule.lr else { throw bad("min_lr", "must be in 0...\(TrainingError.ref("lr")) (\(schedule.lr)), not \(schedule.minLR)") }
        guard schedule.decaySteps >= schedule.warmupSteps else {
            throw bad("warmup_steps", "(\(schedule.warmupSteps)) must not exceed the decay steps (\(schedule.decaySteps), \(TrainingError.ref("lr_decay_steps")) or else \(TrainingError.ref("steps"))); set \(TrainingError.ref("warmup_steps")) to at most \(schedule.decaySteps)")
        }
    }

    /// 0 turns the spike test off; otherwise a multiple of the median, above 1.
    public static func spikeFactorProblem(_ f: Double) -> String? {
        f == 0 || f > 1 ? nil : "must be 0 (off) or above 1 (a multiple of the recent median loss), not \(f)"
    }

    /// The settings that must match when resuming.
    func resumeKey() -> TrainerConfig {
        var c = self
        c.steps = 0; c.logInterval = 0; c.valInterval = 0; c.valBatches = 0; c.checkpointInterval = 0; c.saveTopK = 0
        c.spikeFactor = 0; c.maxRewinds = 0   // how faults are handled, not what a good step computes
        c.dataFingerprint = nil   // compared on its own, with its own message
        return c
    }
}

