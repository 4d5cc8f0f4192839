import Foundation
import PareCore
import PareFormats
import PareModel

/// The training loop shared by fine-tuning and distillation: gradient accumulation to the
/// global batch, AdamW with a warm-up + cosine schedule, global-norm clipping, validation,
/// checkpoints (full state, atomic, best k kept), resume, and logging.
///
/// Data parallel when `communicator` has several ranks: rank r takes micro-batches
/// r·(G/R) ..< (r+1)·(G/R) of every global batch G, gradients and loss sums are all-reduced
/// before the (identical) optimizer step on every rank, and the loss is normalised by the
/// whole global batch's target count — so the numbers do not depend on the number of ranks.
/// Only rank 0 writes checkpoints and the final model; every rank resumes from the same one.
public final class Trainer {
    public let model: LlamaModel
    public let tokenizer: Tokenizer?
    /// The run's settings; under a time budget `steps` and the decay are fixed during the run.
    public private(set) var config: TrainerConfig
    public let train: BlendedSampleStream
    public let val: BlendedSampleStream?
    public let output: String
    public let log: MetricsLog
    let objective: TrainingObjective
    public let optimizer: AdamW
    public private(set) var losses: [Double] = []     // train loss per step (this process)
    public private(set) var lastValLoss: Double?
    /// Trainable tensors of the objective (zeroed, clipped, updated and checkpointed with the
    /// model; the micro-step adds into their gradients).
    public let auxiliary: [AuxiliaryParameter]
    /// The job's processes (one by default).
    public let communicator: Communicator
    /// Asked after every step: true saves a checkpoint and stops (the CLI's Ctrl-C).
    let shouldStop: () -> Bool

    /// `objective` defaults to the model's own LM loss.
    public init(model: LlamaModel, tokenizer: Tokenizer?, config: TrainerConfig, train: BlendedSampleStream,
                val: BlendedSampleStream?, output: String, log: MetricsLog, objective: TrainingObjective? = nil,
                communicator: Communicator = SingleProcess(), shouldStop: @escaping () -> Bool = { false }) throws {
        try config.validate()
        guard train.seqLength == config.seqLength else { preconditionFailure("sample stream and config disagree on seq length") }
        self.model = model; self.tokenizer = tokenizer; self.config = config
        self.train = train; self.val = val; self.output = output; self.log = log
        self.objective = objective ?? LanguageModelObjective(model: model)
        self.communicator = communicator; self.shouldStop = shouldStop
        auxiliary = self.objective.auxiliaryParameters
        optimizer = AdamW(parameterCount: model.parameterCount,
                          hyper: AdamWHyper(lr: Float(config.schedule.lr), beta1: Float(config.beta1), beta2: Float(config.beta2),
                                            eps: Float(config.eps), weightDecay: Float(config.weightDecay)))
    }

    var checkpointRoot: String { output + "/checkpoints" }
    var allGradients: [FloatBuffer] { [model.grads!] + auxiliary.map(\.grads) }

    /// Where a run is: what the loop carries from step to step and a checkpoint records.
    struct RunState {
        var step = 0, startStep = 0, tokensSeen = 0
        var elapsedBefore = 0.0, runStart = 0.0
        var validationSeconds: Double? = nil   // the step-0 validation's time (time budget)
        var probeSteps = 0, probeSeconds = 0.0   // steps timed for the budget (after the first) and their time
        var lastCheckpoint: String? = nil
        var sentinel: DivergenceGuard
    }

    /// One global batch's sums over this rank's micro-batches (all-reduced over the ranks).
    struct StepSums {
        var loss = 0.0
        var extra: [String: Double] = [:]
        var stop = false
        var commSeconds = 0.0
    }

    /// Runs to `config.steps`, from the newest checkpoint when `resume` is set. Returns the
    /// path of the final Hugging Face model directory.
    @discardableResult
    public func run(resume: Bool, saveFinalModel: Bool = true) throws -> String {
        var state = try start(resume: resume)
        try checkRanksAgree(startStep: state.step)
        let acts = Activations(config: model.config, B: config.microBatchSize, T: config.seqLength, lmChunk: objective.logitChunk, saveIn: model.precision)
        var batch = Batch(B: config.globalBatchSize, T: config.seqLength)
        model.zeroGradients()
        state.runStart = ProcessInfoLite.now()
        if state.step == 0 {   // the "before" number
            try validateAndLog(step: 0)
            state.validationSeconds = ProcessInfoLite.now() - state.runStart
        }
        while state.step < config.steps {
            let t0 = ProcessInfoLite.now()
            // The global batch: samples b·G ..< (b+1)·G, normalised by its target count; b is
            // the step unless the divergence guard skipped batches before it.
            let index = state.sentinel.batchIndex(step: state.step)
            batch.fill(from: train, first: index * config.globalBatchSize)
            let count = batch.targetCount
            var sums = try microSteps(batch, index: index, targets: count, acts: acts)
            try reduceAcrossRanks(&sums)
            let loss = sums.loss / Double(max(count, 1))
            // Every rank sees the same (all-reduced) loss and norm, so all take the same branch.
            let measured = loss.isFinite ? gradientNorm(allGradients) : nil
            if let reason = state.sentinel.fault(loss: loss, norm: measured) {
                try rewind(&state, reason: reason, loss: loss, norm: measured)
                continue
            }
            let norm = measured!
            state.sentinel.accept(loss: loss, norm: norm)
            let lr = config.schedule.rate(at: state.step)
            optimizerStep(norm: norm, lr: lr)
            losses.append(loss)
            state.tokensSeen += config.globalBatchSize * config.seqLength
            let done = state.step + 1
            let seconds = ProcessInfoLite.now() - t0
            logStep(done, loss: loss, lr: lr, norm: norm, sums: sums, seconds: seconds, state: state)
            if config.steps == TimeBudget.undecided { try probeBudget(&state, done: done, seconds: seconds) }
            let validated = (config.valInterval > 0 && done % config.valInterval == 0) || done == config.steps
            if validated { try validateAndLog(step: done) }
            try checkpointIfDue(&state, done: done, validated: validated, stop: sums.stop)
            if sums.stop && done < config.steps {
                throw TrainingError.interrupted(step: done, checkpoint: state.lastCheckpoint ?? checkpointRoot)
            }
            state.step = done
        }
        if let budget = config.timeBudget {
            let used = state.elapsedBefore + ProcessInfoLite.now() - state.runStart
            log.say(String(format: "time budget %@: the run took %@ (%.0f%%)", formatDuration(budget), formatDuration(used), 100 * used / budget))
        }
        return try finish(saveFinalModel: saveFinalModel)
    }

    /// Under a time budget whose count is not fixed yet: times this step (not the run's first)
    /// and fixes the count once the probe is long enough. Ranks time their own steps, so rank
    /// 0 decides when, and how many, for all of them.
    func probeBudget(_ state: inout RunState, done: Int, seconds: Double) throws {
        if done - state.startStep > 1 { state.probeSteps += 1; state.probeSeconds += seconds }
        var ready = TimeBudget.probeDone(timed: state.probeSteps, seconds: state.probeSeconds, budget: config.timeBudget!)
        if communicator.size > 1 {
            var flag = [communicator.isRoot && ready ? 1.0 : 0]
            try communicator.allReduceSum(&flag)
            ready = flag[0] > 0
        }
        if ready { try fixBudgetedSteps(done: done, stepSeconds: state.probeSeconds / Double(max(state.probeSteps, 1)), state: state) }
    }

    /// Fixes the step count from the time taken so far and the mean step time, and decays the
    /// learning rate over exactly those steps (TimeBudget).
    func fixBudgetedSteps(done: Int, stepSeconds: Double, state: RunState) throws {
        let budget = config.timeBudget!
        // Resumed before the count was fixed, the step-0 validation was not timed here: a
        // validation batch is a forward pass, about a third of a training micro-step.
        let validation = state.validationSeconds
            ?? stepSeconds * Double(config.valBatches) / Double(max(config.accumulationSteps, 1)) / 3
        let elapsed = state.elapsedBefore + ProcessInfoLite.now() - state.runStart
        var steps = TimeBudget.steps(budget: budget, elapsed: elapsed, done: done, stepSeconds: stepSeconds,
                                     validationSeconds: validation, valInterval: config.valInterval)
        if communicator.size > 1 {   // every rank takes rank 0's count
            var count = [communicator.isRoot ? Double(steps) : 0]
            try communicator.allReduceSum(&count)
            steps = Int(count[0])
        }
        config.steps = steps
        config.schedule.decaySteps = steps
        config.schedule.warmupSteps = min(config.schedule.warmupSteps, steps)
        log.record(step: done, [("budget/steps", Double(steps)), ("budget/step_seconds", stepSeconds), ("budget/validation_seconds", validation)])
        log.say(String(format: "time budget %@: %d steps (%.2f s a step, %.1f s a validation, %@ so far); the learning rate decays over them",
                       formatDuration(budget), steps, stepSeconds, validation, formatDuration(elapsed)))
    }

    /// The run's starting point: the newest checkpoint when resuming (refused when it was made
    /// on other data or with other settings), else step 0. Clears what an interrupted write left.
    func start(resume: Bool) throws -> RunState {
        var state = RunState(sentinel: DivergenceGuard(spikeFactor: config.spikeFactor))
        if communicator.isRoot {
            for p in StaleTemporaries.remove(in: checkpointRoot) + StaleTemporaries.remove(in: output) { log.say("removed \(p), left by an interrupted write") }
        }
        guard resume else { return state }
        guard let newest = Checkpoint.list(checkpointRoot).last else {
            // Killed before its first checkpoint: the steps it logged are redone, so they go.
            try log.resume(after: 0)
            log.say("resume: no checkpoint in \(checkpointRoot); starting from step 0")
            return state
        }
        // Data first: a user who changed the data set is told that, not a generic "settings".
        if let was = newest.info.trainer.dataFingerprint, let now = config.dataFingerprint, was != now {
            throw TrainingError.resumeMismatch("\(newest.path) was trained on other data (\(was)); \(SettingName.ref("data_train")) is now \(now). Resume with the original data, or start a new \(SettingName.ref("output"))")
        }
        if config.timeBudget != nil && newest.info.trainer.timeBudget == config.timeBudget {
            // The count the run fixed under this budget (or still undecided): kept, not re-measured.
            config.steps = newest.info.trainer.steps
            config.schedule.decaySteps = newest.info.trainer.schedule.decaySteps
            config.schedule.warmupSteps = newest.info.trainer.schedule.warmupSteps
        }
        guard newest.info.trainer.resumeKey() == config.resumeKey() else {
            throw TrainingError.resumeMismatch("\(newest.path) was written with different settings (batch, sequence length, learning-rate schedule, time budget, optimizer or seed); use the original settings or a new \(SettingName.ref("output"))")
        }
        let info = try Checkpoint.load(newest.path, into: model, optimizer: optimizer, auxiliary: auxiliary)
        state.step = info.step; state.startStep = info.step; state.tokensSeen = info.tokensSeen; state.elapsedBefore = info.elapsedSeconds
        state.lastCheckpoint = newest.path
        state.sentinel = DivergenceGuard(spikeFactor: config.spikeFactor, state: info.divergenceGuard ?? .init())
        lastValLoss = info.valLoss
        try log.resume(after: info.step)
        log.say("resumed from \(newest.path) at step \(info.step)")
        return state
    }

    /// Every rank must take the same share of a batch and start from the same state (each read
    /// its own checkpoints/ folder).
    func checkRanksAgree(startStep: Int) throws {
        let ranks = communicator.size
        guard config.accumulationSteps % ranks == 0 else {
            throw TrainingError.invalidSetting(key: "global_batch_size", "(\(config.globalBatchSize)) must be a multiple of \(SettingName.ref("micro_batch_size")) × ranks (\(config.microBatchSize) × \(ranks)) so every rank takes the same share")
        }
        guard ranks > 1 else { return }
        var start = [Double(startStep)]
        try communicator.allReduceSum(&start)
        guard start[0] == Double(startStep * ranks) else {
            throw TrainingError.resumeMismatch("the ranks found different checkpoints in \(checkpointRoot) (rank \(communicator.rank) is at step \(startStep)); on several machines the \(SettingName.ref("output")) folder must be shared (or copied to every machine) before resuming")
        }
    }

    /// This rank's micro-batches of the global batch `index`: gradients into zeroed buffers,
    /// each scaled by 1 / the batch's `targets`.
    func microSteps(_ batch: Batch, index: Int, targets count: Int, acts: Activations) throws -> StepSums {
        let B = config.microBatchSize, accum = config.accumulationSteps, local = accum / communicator.size
        model.zeroGradients()
        for a in auxiliary { a.zeroGradients() }
        var sums = StepSums()
        for m in (communicator.rank * local)..<((communicator.rank + 1) * local) {
            let r = try batch.withMicroBatch(m, rows: B) {
                try objective.microStep(tokens: $0, targets: $1, acts: acts, lossScale: 1 / Float(max(count, 1)),
                                        firstSample: index * config.globalBatchSize + m * B)
            }
            sums.loss += r.sum
            for (k, v) in r.extra { sums.extra[k, default: 0] += v / Double(accum) }
        }
        // The stop request as every rank sees it: agreed in the all-reduce, so no rank stops
        // alone (a request arriving after it counts at the next step).
        sums.stop = shouldStop()
        return sums
    }

    /// Sums gradients, loss sums, logged extras and the stop request over the ranks.
    func reduceAcrossRanks(_ sums: inout StepSums) throws {
        guard communicator.size > 1 else { return }
        let c0 = communicator.communicationSeconds
        for g in allGradients { try communicator.allReduceSum(g.pointer, count: g.count) }
        let keys = sums.extra.keys.sorted()
        var totals = [sums.loss, sums.stop ? 1 : 0] + keys.map { sums.extra[$0]! }
        try communicator.allReduceSum(&totals)
        sums.loss = totals[0]
        sums.stop = totals[1] > 0
        for (i, k) in keys.enumerated() { sums.extra[k] = totals[2 + i] }
        sums.commSeconds = communicator.communicationSeconds - c0
    }

    /// Clips the global gradient norm and applies AdamW.
    func optimizerStep(norm: Double, lr: Double) {
        if config.gradClip > 0 && norm > config.gradClip {
            let k = Float(config.gradClip / (norm + 1e-6))
            for g in allGradients { PareCore.scale(g.pointer, by: k, count: g.count) }
        }
        optimizer.update(model, auxiliary: auxiliary, lr: Float(lr))
    }

    /// A faulty step is not applied: the run goes back to its last checkpoint (or drops the
    /// update, with none yet) and skips the batches since; past `max_rewinds` it stops.
    func rewind(_ state: inout RunState, reason: String, loss: Double, norm: Double?) throws {
        let step = state.step
        guard state.sentinel.rewinds < config.maxRewinds else {
            if !loss.isFinite { throw TrainingError.nonFinite(step: step + 1, what: "the training loss", lastCheckpoint: state.lastCheckpoint) }
            if let norm, !norm.isFinite { throw TrainingError.nonFinite(step: step + 1, what: "the gradient norm", lastCheckpoint: state.lastCheckpoint) }
            throw TrainingError.diverged(step: step + 1, reason: reason, rewinds: state.sentinel.rewinds, lastCheckpoint: state.lastCheckpoint)
        }
        var back = step
        if let checkpoint = state.lastCheckpoint {
            let info = try Checkpoint.load(checkpoint, into: model, optimizer: optimizer, auxiliary: auxiliary)
            state.tokensSeen = info.tokensSeen
            back = info.step
        }
        let skip = (back...step).map { state.sentinel.batchIndex(step: $0) }
        state.sentinel.rewound(skipping: skip)
        losses.removeLast(min(step - back, losses.count))
        if back < step { try log.resume(after: back) }
        log.event(step: step + 1, "rewind", ["reason": reason, "rewound_to_step": back, "skipped_batches": skip,
                                              "checkpoint": state.lastCheckpoint ?? "", "rewind": state.sentinel.rewinds])
        log.say("step \(step + 1): \(reason); " + (state.lastCheckpoint.map { "rewound to step \(back) (\($0))" } ?? "no checkpoint yet, the update is dropped")
                + ", skipping batch\(skip.count == 1 ? "" : "es") \(skip.map(String.init).joined(separator: ", ")) (rewind \(state.sentinel.rewinds) of \(config.maxRewinds))")
        state.step = back
    }

    /// The step's metrics, and a progress line every `log_interval` steps and at the end.
    func logStep(_ done: Int, loss: Double, lr: Double, norm: Double, sums: StepSums, seconds dt: Double, state: RunState) {
        let tokensPerSecond = Double(config.globalBatchSize * config.seqLength) / dt
        let extra = sums.extra.sorted { $0.key < $1.key }
        var values: [(String, Double)] = [("train/loss", loss), ("train/lr", lr), ("train/grad_norm", norm), ("train/tokens_per_second", tokensPerSecond)]
        values += extra.map { ("train/" + $0.key, $0.value) }
        if communicator.size > 1 { values.append(("train/allreduce_seconds", sums.commSeconds)) }
        log.record(step: done, values)
        guard done % max(config.logInterval, 1) == 0 || done == config.steps else { return }
        let elapsed = ProcessInfoLite.now() - state.runStart
        let undecided = config.steps == TimeBudget.undecided
        let eta = undecided ? config.timeBudget! - state.elapsedBefore - elapsed : elapsed / Double(done - state.startStep) * Double(config.steps - done)
        let extras = extra.map { String(format: " | %@ %.4f", $0.key, $0.value) }.joined()
        let comm = communicator.size > 1 ? String(format: " | all-reduce %.0f ms", sums.commSeconds * 1000) : ""
        log.say(String(format: "step %d/%@ | loss %.4f%@ | lr %.3g | grad norm %.3f | %.0f tokens/s%@ | ETA %@",
                       done, undecided ? "?" : String(config.steps), loss, extras, lr, norm, tokensPerSecond, comm, formatDuration(eta)))
    }

    /// Saves the full state every `checkpoint_interval` steps, at the end, and when stopping;
    /// rank 0 writes, the others wait for it and compare weights.
    func checkpointIfDue(_ state: inout RunState, done: Int, validated: Bool, stop: Bool) throws {
        let due = (config.checkpointInterval > 0 && done % config.checkpointInterval == 0) || done == config.steps || stop
        guard due else { return }
        if communicator.isRoot {
            let info = CheckpointInfo(step: done, samplesConsumed: done * config.globalBatchSize, tokensSeen: state.tokensSeen,
                                      valLoss: validated ? lastValLoss : nil,
                                      elapsedSeconds: state.elapsedBefore + ProcessInfoLite.now() - state.runStart, trainer: config, model: model.config,
                                      divergenceGuard: state.sentinel.state)
            state.lastCheckpoint = try Checkpoint.save(model: model, optimizer: optimizer, auxiliary: auxiliary, info: info, root: checkpointRoot)
            Checkpoint.prune(checkpointRoot, keepBest: config.saveTopK)
            log.flush()
        } else {
            state.lastCheckpoint = Checkpoint.folder(checkpointRoot, step: done)   // written by rank 0
        }
        // No rank moves on (or stops) before rank 0 has finished writing the checkpoint.
        if communicator.size > 1 {
            try communicator.barrier()
            try checkIdenticalReplicas(step: done)
        }
    }

    /// Writes the final model (rank 0) and returns its folder once every rank can read it.
    func finish(saveFinalModel: Bool) throws -> String {
        log.flush()
        let final = output + "/model"
        if saveFinalModel && communicator.isRoot { try HFCheckpoint.save(model, tokenizer: tokenizer, to: final) }
        if communicator.size > 1 { try communicator.barrier() }
        return final
    }

    /// The validation pass (when there is validation data) into the log.
    func validateAndLog(step: Int) throws {
        guard let val, let v = try validate(on: val) else { return }
        lastValLoss = v.loss
        log.record(step: step, [("val/loss", v.loss), ("val/ppl", exp(v.loss))] + v.extras.map { ("val/" + $0.0, $0.1) })
        log.say(String(format: "step %d: val loss %.4f (ppl %.2f)", step, v.loss, exp(v.loss)) + v.extras.map { String(format: ", val %@ %.4f", $0.0, $0.1) }.joined())
    }

    /// The objective's validation over the first `val_batches` micro-batches of a stream (the
    /// validation split, or the test split at the end); nil when `val_batches` is 0.
    public func validate(on stream: BlendedSampleStream) throws -> Validation? {
        guard config.valBatches > 0 else { return nil }
        return try objective.validation(of: model, on: stream, batches: config.valBatches, microBatch: config.microBatchSize, communicator: communicator)
    }

    /// Data-parallel replicas must hold identical weights (they apply identical all-reduced
    /// gradients); a cheap checksum, compared across ranks, catches any drift.
    func checkIdenticalReplicas(step: Int) throws {
        var sum = 0.0
        let p = model.params.pointer
        for i in 0..<model.params.count { sum += Double(p[i]) * Double(i % 7 + 1) }
        var all = [sum]
        try communicator.allReduceSum(&all)
        let expected = sum * Double(communicator.size)
        guard abs(all[0] - expected) <= 1e-9 * max(abs(expected), 1) else {
            throw TrainingError.invalidSettings("step \(step): the ranks' weights differ (checksum \(sum) on rank \(communicator.rank)); the MPI all-reduce did not give every rank the same sums. Resume from the last checkpoint; if it repeats, report it with your Open MPI version")
        }
    }
}
