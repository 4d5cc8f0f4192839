import Foundation
import PareCore
import PareFormats
import PareModel
import PareTrain

/// `finetune`: continued training of a model on a corpus (the recipe's teacher correction).
/// Writes OUTPUT/checkpoints (resumable), tensorboard/, metrics.jsonl and the final model.
public struct FinetuneJob: Equatable, JobSettings {
    public var model = ""                 // a .gguf file or a Hugging Face directory
    public var train = TrainSettings()

    public init() {}

    public static let settings: [Setting<FinetuneJob>] = [
        .model(\.model, "The model to train"),
    ] + TrainSettings.settings.map { $0.lifted(\.train) }

    public func validate() throws {
        guard !model.isEmpty else { throw RecipeError.invalid("model", "is required: a .gguf file or a Hugging Face directory") }
        try train.validate()
    }

    /// Trains to the end (resuming with `resume`) and returns the final model's directory.
    @discardableResult
    public func run(progress: Progress, communicator comm: Communicator = SingleProcess()) throws -> String {
        try validate()
        var config = train.trainerConfig()
        config.dataFingerprint = try train.dataFingerprint()
        let loaded = try PretrainedModel.load(model)
        try PrecisionSetting.apply(train.precision, to: loaded.model)
        try checkPositions(config.seqLength, key: "seq_length", model: loaded.model.config, model)
        try train.checkTokenizer(loaded.tokenizer, model: model, progress)
        let trainStream = try train.stream("data_train", train.dataTrain)
        let val = try train.dataVal.map { try train.stream("data_val", $0) }
        let log = try train.openLog(comm, config, progress)
        log.say("finetune \(model): \(loaded.model.parameterCount) parameters; \(TrainSettings.steps(config)) × \(config.globalBatchSize) sequences × \(config.seqLength) tokens (\(config.accumulationSteps) micro-batches of \(config.microBatchSize)); \(Parallel.threads) threads, \(train.precision)")
        let trainer = try Trainer(model: loaded.model, tokenizer: loaded.tokenizer, config: config, train: trainStream, val: val,
                                  output: train.output, log: log, communicator: comm, shouldStop: progress.shouldStop)
        let t0 = ProcessInfoLite.now()
        let final = try trainer.run(resume: train.resume)
        if let test = train.dataTest, let v = try trainer.validate(on: try train.stream("data_test", test))?.loss {
            log.record(step: trainer.config.steps, [("test/loss", v), ("test/ppl", exp(v))])
            log.say(String(format: "test loss %.4f (ppl %.2f)", v, exp(v)))
        }
        log.say(String(format: "done in %@; final model: %@", formatDuration(ProcessInfoLite.now() - t0), final))
        return final
    }
}

/// As the pipeline runs it (in the YAML section `finetune`).
extension FinetuneJob: RecipeJob {
    public static let section = "finetune"
    public func runStep(progress: Progress) throws { try run(progress: progress) }
    public var runFolder: String? { train.output }
}
