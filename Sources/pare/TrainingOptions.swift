import ArgumentParser
import Foundation
import PareCore
import PareRecipes
import PareTrain

/// The training flags `pare finetune` and `pare distill` share: the keys of TrainSettings,
/// kebab-cased. An absent flag keeps the job's default (shown in the help).
struct TrainingOptions: ParsableArguments {
    static let d = TrainSettings()
    @Option(help: "Training data: an indexed-dataset prefix, or weighted prefixes \"0.7 A 0.3 B\" (NeMo's data_prefix).") var dataTrain: String
    @Option(help: "Validation data prefix(es).") var dataVal: String?
    @Option(help: "Test data prefix(es), evaluated once at the end.") var dataTest: String?
    @Option(help: "Output folder: checkpoints/, tensorboard/, metrics.jsonl, model/.") var output: String
    @Option(parsing: .unconditional, help: "Optimizer steps (default \(d.steps)).") var steps: Int?
    @Option(parsing: .unconditional, help: "Sequences per optimizer step; micro-batches are accumulated (default \(d.globalBatchSize)).") var globalBatchSize: Int?
    @Option(parsing: .unconditional, help: "Sequences per forward/backward pass (default \(d.microBatchSize)).") var microBatchSize: Int?
    @Option(parsing: .unconditional, help: "Tokens per sequence (default \(d.seqLength)).") var seqLength: Int?
    @Option(parsing: .unconditional, help: "Peak learning rate (default \(d.lr)).") var lr: Double?
    @Option(parsing: .unconditional, help: "Final learning rate of the cosine decay (default \(d.minLr)).") var minLr: Double?
    @Option(parsing: .unconditional, help: "Linear warm-up steps (default 2, or the decay steps when fewer).") var warmupSteps: Int?
    @Option(parsing: .unconditional, help: "Steps over which the LR decays (default: --steps). Keep it fixed across --resume runs that extend --steps.") var lrDecaySteps: Int?
    @Option(help: "Learning-rate schedule: cosine or constant (default \(d.lrSchedule)).") var lrSchedule: String?
    @Option(parsing: .unconditional, help: "AdamW weight decay, not applied to norms and biases (default \(d.weightDecay)).") var weightDecay: Double?
    @Option(parsing: .unconditional, help: "Clip the global gradient norm to this; 0: off (default \(d.gradClip)).") var gradClip: Double?
    @Option(parsing: .unconditional, help: "Print a progress line every N steps (default \(d.logInterval)).") var logInterval: Int?
    @Option(parsing: .unconditional, help: "Validate every N steps; 0: at the start and the end only (default \(d.valInterval)).") var valInterval: Int?
    @Option(parsing: .unconditional, help: "Micro-batches per validation (default \(d.valBatches)).") var valBatches: Int?
    @Option(parsing: .unconditional, help: "Keep the K checkpoints with the lowest validation loss, and always the newest (default \(d.saveTopK)).") var saveTopK: Int?
    @Option(parsing: .unconditional, help: "Save the full training state every N steps; 0: at the end only (default \(d.checkpointInterval)).") var checkpointInterval: Int?
    @Option(parsing: .unconditional, help: "Divergence guard: a step whose loss is over F × the median of the last 20 (or not finite, or whose gradient norm explodes) is not applied; the run rewinds to the last checkpoint and skips the batches since. 0: spikes off (default \(d.spikeFactor)).") var spikeFactor: Double?
    @Option(parsing: .unconditional, help: "Rewinds before the run stops with the error; 0: stop at the first fault (default \(d.maxRewinds)).") var maxRewinds: Int?
    @Option(help: "Seed for data order (default \(d.seed)).") var seed: UInt64?
    @Option(help: "Matmul precision: \(precisionHelp) (default \(d.precision)).") var precision: String?
    @Flag(help: "Continue from the newest checkpoint in --output.") var resume = false
    @Flag(help: "Start afresh even though --output holds another run: that run is moved aside to OUTPUT.previous-N.") var overwrite = false

    var settings: TrainSettings {
        var t = TrainSettings()
        t.dataTrain = dataTrain; t.dataVal = dataVal; t.dataTest = dataTest; t.output = output
        if let v = steps { t.steps = v }; if let v = globalBatchSize { t.globalBatchSize = v }
        if let v = microBatchSize { t.microBatchSize = v }; if let v = seqLength { t.seqLength = v }
        if let v = lr { t.lr = v }; if let v = minLr { t.minLr = v }; if let v = warmupSteps { t.warmupSteps = v }
        t.lrDecaySteps = lrDecaySteps; if let v = lrSchedule { t.lrSchedule = v }
        if let v = weightDecay { t.weightDecay = v }; if let v = gradClip { t.gradClip = v }
        if let v = logInterval { t.logInterval = v }; if let v = valInterval { t.valInterval = v }
        if let v = valBatches { t.valBatches = v }; if let v = saveTopK { t.saveTopK = v }
        if let v = checkpointInterval { t.checkpointInterval = v }; if let v = spikeFactor { t.spikeFactor = v }; if let v = maxRewinds { t.maxRewinds = v }
        if let v = seed { t.seed = v }; if let v = precision { t.precision = v }
        t.resume = resume; t.overwrite = overwrite
        return t
    }
}

/// Runs a job's body; its errors become CLI exits whose messages name flags. A training
/// interruption (checkpoint saved) exits 130 like Ctrl-C, which also tells an MPI job that
/// every rank stopped on purpose, together.
@discardableResult
func runJob<T>(_ body: () throws -> T) throws -> T {
    do { return try body() }
    catch let e as ExitCode { throw e }
    catch {
        let code = fail(RecipeError.message(error, naming: SettingName.flag))
        if case TrainingError.interrupted = error { throw ExitCode(130) }
        throw code
    }
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
