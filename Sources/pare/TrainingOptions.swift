import ArgumentParser
import Foundation
import PareCore
import PareFormats
import PareTrain

/// The training knobs `pare finetune` and `pare distill` share.
struct TrainingOptions: ParsableArguments {
    @Option(help: "Training data: an indexed-dataset prefix, or weighted prefixes \"0.7 A 0.3 B\" (NeMo's data_prefix).") var dataTrain: String
    @Option(help: "Validation data prefix(es).") var dataVal: String?
    @Option(help: "Test data prefix(es), evaluated once at the end.") var dataTest: String?
    @Option(help: "Output folder: checkpoints/, tensorboard/, metrics.jsonl, model/.") var output: String
    @Option(help: "Optimizer steps.") var steps = 30
    @Option(help: "Sequences per optimizer step (micro-batches are accumulated).") var globalBatchSize = 8
    @Option(help: "Sequences per forward/backward pass.") var microBatchSize = 4
    @Option(help: "Tokens per sequence.") var seqLength = 256
    @Option(help: "Peak learning rate.") var lr = 1e-4
    @Option(help: "Final learning rate of the cosine decay.") var minLr = 1e-5
    @Option(help: "Linear warm-up steps.") var warmupSteps = 2
    @Option(help: "Steps over which the LR decays (default: --steps). Keep it fixed across --resume runs that extend --steps.") var lrDecaySteps: Int?
    @Option(help: "Learning-rate schedule: cosine or constant.") var lrSchedule = "cosine"
    @Option(help: "AdamW weight decay (not applied to norms and biases).") var weightDecay = 0.1
    @Option(help: "Clip the global gradient norm to this (0: off).") var gradClip = 1.0
    @Option(help: "Print a progress line every N steps.") var logInterval = 1
    @Option(help: "Validate every N steps (0: at the start and the end only).") var valInterval = 0
    @Option(help: "Micro-batches per validation.") var valBatches = 8
    @Option(help: "Keep the K checkpoints with the lowest validation loss (and always the newest).") var saveTopK = 1
    @Option(help: "Save the full training state every N steps (0: at the end only).") var checkpointInterval = 0
    @Option(help: "Seed for data order.") var seed: UInt64 = 1234
    @Flag(help: "Continue from the newest checkpoint in --output.") var resume = false

    func trainerConfig() throws -> TrainerConfig {
        guard let kind = LRSchedule.Kind(rawValue: lrSchedule) else { throw fail("--lr-schedule must be cosine or constant") }
        var c = TrainerConfig(steps: steps, globalBatchSize: globalBatchSize, microBatchSize: microBatchSize, seqLength: seqLength,
                              schedule: LRSchedule(kind: kind, lr: lr, minLR: minLr, warmupSteps: warmupSteps, decaySteps: lrDecaySteps ?? steps))
        c.weightDecay = weightDecay; c.gradClip = gradClip; c.seed = seed
        c.logInterval = logInterval; c.valInterval = valInterval; c.valBatches = valBatches
        c.saveTopK = saveTopK; c.checkpointInterval = checkpointInterval
        do { try c.validate() } catch let e as TrainingError { throw fail("\(e)") }
        return c
    }

    /// The run's log: TensorBoard, metrics.jsonl and the console on rank 0; other ranks log nothing.
    func openLog(_ comm: Communicator, _ config: TrainerConfig) throws -> MetricsLog {
        try? FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let log: MetricsLog
        do { log = comm.isRoot ? try MetricsLog(directory: output) : MetricsLog() } catch let e as FormatError { throw fail("\(e)") }
        if comm.size > 1 { log.say("data parallel: \(comm.size) ranks × \(Parallel.threads) threads; each rank takes \(config.globalBatchSize / comm.size) of the \(config.globalBatchSize) sequences per step") }
        return log
    }

    /// Runs a trainer to the end (resuming when --resume is set); its errors become CLI exits.
    func run(_ trainer: Trainer) throws -> String {
        do { return try trainer.run(resume: resume) }
        catch let e as TrainingError { throw trainingStopped(e) }
        catch let e as FormatError { throw fail("\(e)") }
    }

    /// "A" or "0.7 A 0.3 B" → a blended sample stream.
    func stream(_ spec: String, vocabulary: Int) throws -> BlendedSampleStream {
        let parts = spec.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
        var pairs: [(Double, String)] = []
        if parts.count == 1 { pairs = [(1, parts[0])] } else {
            guard parts.count % 2 == 0 else { throw fail("data \"\(spec)\": give one prefix, or weight/prefix pairs") }
            for i in stride(from: 0, to: parts.count, by: 2) {
                guard let w = Double(parts[i]), w > 0 else { throw fail("data \"\(spec)\": \"\(parts[i])\" is not a positive weight") }
                pairs.append((w, parts[i + 1]))
            }
        }
        var streams: [GPTSampleStream] = []
        for (_, prefix) in pairs {
            let p = FileManager.default.fileExists(atPath: prefix + ".idx") ? prefix : prefix + "_text_document"
            do {
                let ds = try IndexedDataset(prefix: p)
                streams.append(try GPTSampleStream(dataset: ds, seqLength: seqLength, seed: seed))
            } catch let e as FormatError { throw fail("\(e)") }
        }
        return BlendedSampleStream(streams: streams, weights: pairs.map(\.0))
    }
}

/// Ctrl-C once: finish the step, save a checkpoint, stop. Twice: stop at once.
/// The exit for a training error: an interruption (checkpoint saved) exits 130 like Ctrl-C,
/// which also tells an MPI job that every rank stopped on purpose, together.
func trainingStopped(_ e: TrainingError) -> ExitCode {
    let code = fail("\(e)")
    if case .interrupted = e { return ExitCode(130) }
    return code
}

/// Ctrl-C (SIGINT) saves a checkpoint after the current step and stops; a second one quits
/// at once. SIGUSR1 does the same once: mpirun forwards it to every rank (it does not forward
/// SIGINT, on which it kills the job), so `kill -USR1 <mpirun pid>` stops an MPI job cleanly.
func installInterruptHandler() {
    signal(SIGINT) { _ in
        if trainingInterruptRequested { _exit(130) }
        trainingInterruptRequested = true
        let msg = "\ninterrupt: saving a checkpoint after this step (Ctrl-C again to quit now)\n"
        _ = msg.withCString { write(2, $0, strlen($0)) }
    }
    signal(SIGUSR1) { _ in
        trainingInterruptRequested = true
        let msg = "\nSIGUSR1: saving a checkpoint after this step, then stopping\n"
        _ = msg.withCString { write(2, $0, strlen($0)) }
    }
}
