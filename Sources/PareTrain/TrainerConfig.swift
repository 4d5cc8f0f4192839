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
    // Bookkeeping only (does not change the numbers):
    public var logInterval: Int = 1
    public var valInterval: Int = 0       // 0: only at the end
    public var valBatches: Int = 8
    public var checkpointInterval: Int = 0   // 0: only at the end
    public var saveTopK: Int = 1

    public init(steps: Int, globalBatchSize: Int, microBatchSize: Int, seqLength: Int, schedule: LRSchedule) {
        self.steps = steps; self.globalBatchSize = globalBatchSize; self.microBatchSize = microBatchSize
        self.seqLength = seqLength; self.schedule = schedule
    }

    public var accumulationSteps: Int { globalBatchSize / microBatchSize }

    public func validate() throws {
        func bad(_ m: String) -> TrainingError { .invalidSettings(m) }
        guard steps > 0 else { throw bad("--steps must be positive") }
        guard microBatchSize > 0, globalBatchSize > 0, globalBatchSize % microBatchSize == 0 else {
            throw bad("--global-batch-size (\(globalBatchSize)) must be a positive multiple of --micro-batch-size (\(microBatchSize))")
        }
        guard seqLength > 1 else { throw bad("--seq-length must be at least 2") }
        guard schedule.lr > 0, schedule.minLR >= 0, schedule.minLR <= schedule.lr else { throw bad("need 0 ≤ --min-lr ≤ --lr and --lr > 0") }
        guard schedule.warmupSteps >= 0, schedule.decaySteps >= schedule.warmupSteps else { throw bad("--warmup-steps must be ≥ 0 and ≤ the decay steps") }
        guard gradClip >= 0, weightDecay >= 0 else { throw bad("--grad-clip and --weight-decay must be ≥ 0") }
        guard saveTopK >= 1 else { throw bad("--save-top-k must be at least 1") }
    }

    /// The settings that must match when resuming.
    func resumeKey() -> TrainerConfig {
        var c = self
        c.steps = 0; c.logInterval = 0; c.valInterval = 0; c.valBatches = 0; c.checkpointInterval = 0; c.saveTopK = 0
        return c
    }
}

public enum TrainingError: Error, CustomStringConvertible {
    case invalidSettings(String)
    case nonFinite(step: Int, what: String, lastCheckpoint: String?)
    case exploding(step: Int, norm: Double, lastCheckpoint: String?)
    case resumeMismatch(String)
    case interrupted(step: Int, checkpoint: String)

    public var description: String {
        switch self {
        case .invalidSettings(let m): return m
        case let .nonFinite(s, w, c):
            return "step \(s): \(w) is not finite (NaN or inf); training stopped. " + (c.map { "The last good checkpoint is \($0); resume with --resume and a lower --lr." } ?? "No checkpoint was written yet; lower --lr and start again.")
        case let .exploding(s, n, c):
            return "step \(s): gradient norm \(n) exploded; training stopped. " + (c.map { "The last good checkpoint is \($0); resume with --resume and a lower --lr." } ?? "Lower --lr and start again.")
        case .resumeMismatch(let m): return "cannot resume: \(m)"
        case let .interrupted(s, c): return "interrupted after step \(s); state saved in \(c). Run the same command with --resume to continue."
        }
    }
}
