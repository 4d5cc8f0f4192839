import Foundation
import PareCore
import PareFormats
import PareModel

/// What a training run minimises, when it is more than the model's own LM loss (distillation).
/// Its trainable tensors are registered with the trainer by construction.
public protocol TrainingObjective: AnyObject {
    /// One micro-batch: forward and backward over tokens/targets (B, T), gradients added into
    /// the model's (and the auxiliary parameters') buffers with d(loss)/d(Σ) scaled by
    /// `lossScale`. Returns Σ loss over non-ignored targets and their count, plus extra named
    /// losses to log. `firstSample` is the index of the micro-batch's first sequence in the
    /// training stream (what a teacher cache is keyed by).
    func microStep(tokens: UnsafePointer<Int32>, targets: UnsafePointer<Int32>, acts: Activations, lossScale: Float, firstSample: Int) throws
        -> (sum: Double, count: Int, extra: [(String, Double)])
    /// Trainable tensors that belong to the objective, not the model (zeroed, clipped, updated
    /// and checkpointed with it).
    var auxiliaryParameters: [AuxiliaryParameter] { get }
    /// Extra validation numbers logged beside val/loss, over the first `batches` micro-batches.
    func validationExtras(_ val: BlendedSampleStream, batches: Int, microBatch: Int, communicator: Communicator) throws -> [(String, Double)]
    /// Rows of logits the student's LM head materialises at once.
    var logitChunk: Int { get }
}

extension TrainingObjective {
    public var logitChunk: Int { Activations.lmLossChunk }
}

/// Set by SIGINT: the trainer saves a checkpoint after the current step and stops.
nonisolated(unsafe) public var trainingInterruptRequested = false

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
    public let config: TrainerConfig
    public let train: BlendedSampleStream
    public let val: BlendedSampleStream?
    public let output: String
    public let log: MetricsLog
    let objective: TrainingObjective?
    public let optimizer: AdamW
    public private(set) var losses: [Double] = []     // train loss per step (this process)
    public private(set) var lastValLoss: Double?
    /// Trainable tensors of the objective (zeroed, clipped, updated and checkpointed with the
    /// model; the micro-step adds into their gradients).
    public let auxiliary: [AuxiliaryParameter]
    /// The job's processes (one by default).
    public var communicator: Communicator = SingleProcess()

    public init(model: LlamaModel, tokenizer: Tokenizer?, config: TrainerConfig, train: BlendedSampleStream,
                val: BlendedSampleStream?, output: String, log: MetricsLog, objective: TrainingObjective? = nil) throws {
        try config.validate()
        guard train.seqLength == config.seqLength else { preconditionFailure("sample stream and config disagree on seq length") }
        self.model = model; self.tokenizer = tokenizer; self.config = config
        self.train = train; self.val = val; self.output = output; self.log = log
        self.objective = objective
        auxiliary = objective?.auxiliaryParameters ?? []
        optimizer = AdamW(parameterCount: model.parameterCount,
                          hyper: AdamWHyper(lr: Float(config.schedule.lr), beta1: Float(config.beta1), beta2: Float(config.beta2),
                                            eps: Float(config.eps), weightDecay: Float(config.weightDecay)))
    }

    var checkpointRoot: String { output + "/checkpoints" }

    /// The objective's micro-step, or the model's own LM loss.
    func microStep(tokens: UnsafePointer<Int32>, targets: UnsafePointer<Int32>, acts: Activations, lossScale: Float, firstSample: Int) throws
        -> (sum: Double, count: Int, extra: [(String, Double)]) {
        if let objective { return try objective.microStep(tokens: tokens, targets: targets, acts: acts, lossScale: lossScale, firstSample: firstSample) }
        let r = try model.forwardBackward(tokens: tokens, targets: targets, acts: acts, lossScale: lossScale)
        return (r.sum, r.count, [])
    }

    /// Validation loss over the first `valBatches` micro-batches of the validation stream
    /// (the same samples every time, so values are comparable across steps).
    public func validate() throws -> Double? {
        guard let val else { return nil }
        return try validate(on: val)
    }

    /// Mean loss over the first `valBatches` micro-batches of any stream (e.g. the test split).
    public func validate(on val: BlendedSampleStream) throws -> Double? {
        guard config.valBatches > 0 else { return nil }
        let B = config.microBatchSize, T = config.seqLength
        let acts = Activations(config: model.config, B: B, T: T, forTraining: false)
        var tokens = [Int32](repeating: 0, count: B * T), targets = tokens
        var sum = 0.0, count = 0
        for k in stride(from: communicator.rank, to: config.valBatches, by: communicator.size) {
            tokens.withUnsafeMutableBufferPointer { t in targets.withUnsafeMutableBufferPointer { val.batch(first: k * B, B: B, tokens: t.baseAddress!, targets: $0.baseAddress!) } }
            let r = try tokens.withUnsafeBufferPointer { t in try targets.withUnsafeBufferPointer { try model.loss(tokens: t.baseAddress!, targets: $0.baseAddress!, acts: acts) } }
            sum += r.sum; count += r.count
        }
        var totals = [sum, Double(count)]
        try communicator.allReduceSum(&totals)
        return totals[0] / max(totals[1], 1)
    }

    func logValidation(step: Int, _ v: Double) throws {
        let extras = try val.map { try objective?.validationExtras($0, batches: config.valBatches, microBatch: config.microBatchSize, communicator: communicator) ?? [] } ?? []
        log.record(step: step, [("val/loss", v), ("val/ppl", exp(v))] + extras.map { ("val/" + $0.0, $0.1) })
        log.say(String(format: "step %d: val loss %.4f (ppl %.2f)", step, v, exp(v)) + extras.map { String(format: ", val %@ %.4f", $0.0, $0.1) }.joined())
    }

    /// Runs to `config.steps`, from the newest checkpoint when `resume` is set. Returns the
    /// path of the final Hugging Face model directory.
    @discardableResult
    public func run(resume: Bool, saveFinalModel: Bool = true) throws -> String {
        var startStep = 0, tokensSeen = 0, elapsedBefore = 0.0
        var lastCheckpoint: String? = nil
        var sentinel = DivergenceGuard(spikeFactor: config.spikeFactor)
        if communicator.isRoot {
            for p in StaleTemporaries.remove(in: checkpointRoot) + StaleTemporaries.remove(in: output) { log.say("removed \(p), left by an interrupted write") }
        }
        if resume, let newest = Checkpoint.list(checkpointRoot).last {
            // Data first: a user who changed the data set is told that, not a generic "settings".
            if let was = newest.info.trainer.dataFingerprint, let now = config.dataFingerprint, was != now {
                throw TrainingError.resumeMismatch("\(newest.path) was trained on other data (\(was)); \(SettingName.ref("data_train")) is now \(now). Resume with the original data, or start a new \(SettingName.ref("output"))")
            }
            guard newest.info.trainer.resumeKey() == config.resumeKey() else {
                throw TrainingError.resumeMismatch("\(newest.path) was written with different settings (batch, sequence length, learning-rate schedule, optimizer or seed); use the original settings or a new \(SettingName.ref("output"))")
            }
            let info = try Checkpoint.load(newest.path, into: model, optimizer: optimizer, auxiliary: auxiliary)
            startStep = info.step; tokensSeen = info.tokensSeen; elapsedBefore = info.elapsedSeconds
            lastValLoss = info.valLoss; lastCheckpoint = newest.path
            sentinel = DivergenceGuard(spikeFactor: config.spikeFactor, state: info.divergenceGuard ?? .init())
            try log.resume(after: startStep)
            log.say("resumed from \(newest.path) at step \(startStep)")
        } else if resume {
            log.say("resume: no checkpoint in \(checkpointRoot); starting from step 0")
        }
        let B = config.microBatchSize, T = config.seqLength, accum = config.accumulationSteps
        let ranks = communicator.size, rank = communicator.rank
        guard accum % ranks == 0 else {
            throw TrainingError.invalidSetting(key: "global_batch_size", "(\(config.globalBatchSize)) must be a multiple of \(SettingName.ref("micro_batch_size")) × ranks (\(B) × \(ranks)) so every rank takes the same share")
        }
        let localAccum = accum / ranks
        if ranks > 1 {
            // Every rank must start from the same state: each read its own checkpoints/ folder.
            var start = [Double(startStep)]
            try communicator.allReduceSum(&start)
            guard start[0] == Double(startStep * ranks) else {
                throw TrainingError.resumeMismatch("the ranks found different checkpoints in \(checkpointRoot) (rank \(rank) is at step \(startStep)); on several machines the \(SettingName.ref("output")) folder must be shared (or copied to every machine) before resuming")
            }
        }
        let acts = Activations(config: model.config, B: B, T: T, lmChunk: objective?.logitChunk ?? Activations.lmLossChunk, saveIn: model.precision)
        var tokens = [Int32](repeating: 0, count: B * T * accum), targets = tokens
        model.zeroGradients()
        let runStart = ProcessInfoLite.now()
        if startStep == 0, let v = try validate() {   // the "before" number
            lastValLoss = v
            try logValidation(step: 0, v)
        }
        var step = startStep
        while step < config.steps {
            let t0 = ProcessInfoLite.now()
            let lr = config.schedule.rate(at: step)
            // The global batch: samples b·G ..< (b+1)·G, normalised by its target count; b is
            // the step unless the divergence guard skipped batches before it.
            let batch = sentinel.batchIndex(step: step)
            tokens.withUnsafeMutableBufferPointer { t in targets.withUnsafeMutableBufferPointer {
                train.batch(first: batch * config.globalBatchSize, B: config.globalBatchSize, tokens: t.baseAddress!, targets: $0.baseAddress!) } }
            let count = targets.reduce(0) { $0 + ($1 == ignoreIndex ? 0 : 1) }
            model.zeroGradients()
            for a in auxiliary { a.zeroGradients() }
            var sum = 0.0
            var extra: [String: Double] = [:]
            for m in (rank * localAccum)..<((rank + 1) * localAccum) {
                let r = try tokens.withUnsafeBufferPointer { t in try targets.withUnsafeBufferPointer {
                    try microStep(tokens: t.baseAddress! + m * B * T, targets: $0.baseAddress! + m * B * T, acts: acts, lossScale: 1 / Float(max(count, 1)),
                                  firstSample: batch * config.globalBatchSize + m * B) } }
                sum += r.sum
                for (k, v) in r.extra { extra[k, default: 0] += v / Double(accum) }
            }
            var commSeconds = 0.0
            // The stop request as every rank sees it: agreed in the all-reduce below, so no rank
            // stops alone (a signal arriving after it counts at the next step).
            var stop = trainingInterruptRequested
            if ranks > 1 {
                // Sum gradients, loss sums, logged extras and the stop request over the ranks.
                let c0 = communicator.communicationSeconds
                for g in [model.grads!] + auxiliary.map(\.grads) { try communicator.allReduceSum(g.pointer, count: g.count) }
                let keys = extra.keys.sorted()
                var totals = [sum, trainingInterruptRequested ? 1 : 0] + keys.map { extra[$0]! }
                try communicator.allReduceSum(&totals)
                sum = totals[0]
                stop = totals[1] > 0
                for (i, k) in keys.enumerated() { extra[k] = totals[2 + i] }
                commSeconds = communicator.communicationSeconds - c0
            }
            let loss = sum / Double(max(count, 1))
            let allGrads = [model.grads!] + auxiliary.map(\.grads)
            let measured = loss.isFinite ? gradientNorm(allGrads) : nil
            // Every rank sees the same (all-reduced) loss and norm, so all take the same branch.
            if let reason = sentinel.fault(loss: loss, norm: measured) {
                guard sentinel.rewinds < config.maxRewinds else {
                    if !loss.isFinite { throw TrainingError.nonFinite(step: step + 1, what: "the training loss", lastCheckpoint: lastCheckpoint) }
                    if let measured, !measured.isFinite { throw TrainingError.nonFinite(step: step + 1, what: "the gradient norm", lastCheckpoint: lastCheckpoint) }
                    throw TrainingError.diverged(step: step + 1, reason: reason, rewinds: sentinel.rewinds, lastCheckpoint: lastCheckpoint)
                }
                let back = try rewind(to: lastCheckpoint, from: step, tokensSeen: &tokensSeen)
                let skip = (back...step).map { sentinel.batchIndex(step: $0) }
                sentinel.rewound(skipping: skip)
                losses.removeLast(min(step - back, losses.count))
                if back < step { try log.resume(after: back) }
                log.event(step: step + 1, "rewind", ["reason": reason, "rewound_to_step": back, "skipped_batches": skip,
                                                      "checkpoint": lastCheckpoint ?? "", "rewind": sentinel.rewinds])
                log.say("step \(step + 1): \(reason); " + (lastCheckpoint.map { "rewound to step \(back) (\($0))" } ?? "no checkpoint yet, the update is dropped")
                        + ", skipping batch\(skip.count == 1 ? "" : "es") \(skip.map(String.init).joined(separator: ", ")) (rewind \(sentinel.rewinds) of \(config.maxRewinds))")
                step = back
                continue
            }
            let norm = measured!
            sentinel.accept(loss: loss, norm: norm)
            if config.gradClip > 0 && norm > config.gradClip {
                let k = Float(config.gradClip / (norm + 1e-6))
                for g in allGrads { PareCore.scale(g.pointer, by: k, count: g.count) }
            }
            optimizer.update(model, auxiliary: auxiliary, lr: Float(lr))
            losses.append(loss)
            tokensSeen += config.globalBatchSize * T
            let dt = ProcessInfoLite.now() - t0
            let done = step + 1
            var values: [(String, Double)] = [("train/loss", loss), ("train/lr", lr), ("train/grad_norm", norm),
                                              ("train/tokens_per_second", Double(config.globalBatchSize * T) / dt)]
            values += extra.sorted { $0.key < $1.key }.map { ("train/" + $0.key, $0.value) }
            if ranks > 1 { values.append(("train/allreduce_seconds", commSeconds)) }
            log.record(step: done, values)
            if done % max(config.logInterval, 1) == 0 || done == config.steps {
                let elapsed = ProcessInfoLite.now() - runStart
                let eta = elapsed / Double(done - startStep) * Double(config.steps - done)
                let extras = extra.sorted { $0.key < $1.key }.map { String(format: " | %@ %.4f", $0.key, $0.value) }.joined()
                let comm = ranks > 1 ? String(format: " | all-reduce %.0f ms", commSeconds * 1000) : ""
                log.say(String(format: "step %d/%d | loss %.4f%@ | lr %.3g | grad norm %.3f | %.0f tokens/s%@ | ETA %@",
                               done, config.steps, loss, extras, lr, norm, Double(config.globalBatchSize * T) / dt, comm, formatDuration(eta)))
            }
            let validateNow = (config.valInterval > 0 && done % config.valInterval == 0) || done == config.steps
            if validateNow, let v = try validate() {
                lastValLoss = v
                try logValidation(step: done, v)
            }
            let checkpointNow = (config.checkpointInterval > 0 && done % config.checkpointInterval == 0) || done == config.steps
                || stop
            if checkpointNow && communicator.isRoot {
                let info = CheckpointInfo(step: done, samplesConsumed: done * config.globalBatchSize, tokensSeen: tokensSeen,
                                          valLoss: validateNow ? lastValLoss : nil,
                                          elapsedSeconds: elapsedBefore + ProcessInfoLite.now() - runStart, trainer: config, model: model.config,
                                          divergenceGuard: sentinel.state)
                lastCheckpoint = try Checkpoint.save(model: model, optimizer: optimizer, auxiliary: auxiliary, info: info, root: checkpointRoot)
                Checkpoint.prune(checkpointRoot, keepBest: config.saveTopK)
                log.flush()
            } else if checkpointNow {
                lastCheckpoint = Checkpoint.folder(checkpointRoot, step: done)   // written by rank 0
            }
            // No rank moves on (or stops) before rank 0 has finished writing the checkpoint.
            if checkpointNow && ranks > 1 { try communicator.barrier() }
            if ranks > 1 && checkpointNow { try checkIdenticalReplicas(step: done) }
            if stop && done < config.steps {
                throw TrainingError.interrupted(step: done, checkpoint: lastCheckpoint ?? checkpointRoot)
            }
            step = done
        }
        log.flush()
        let final = output + "/model"
        if saveFinalModel && communicator.isRoot { try HFCheckpoint.save(model, tokenizer: tokenizer, to: final) }
        if ranks > 1 { try communicator.barrier() }   // the model exists for every rank once run() returns
        return final
    }

    /// The divergence guard's rewind: the state of the last checkpoint (its step), or, with none
    /// yet, the current one (`step`), whose update has not been applied.
    func rewind(to checkpoint: String?, from step: Int, tokensSeen: inout Int) throws -> Int {
        guard let checkpoint else { return step }
        let info = try Checkpoint.load(checkpoint, into: model, optimizer: optimizer, auxiliary: auxiliary)
        tokensSeen = info.tokensSeen
        return info.step
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
