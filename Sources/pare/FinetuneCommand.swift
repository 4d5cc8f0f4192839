import ArgumentParser
import Foundation
import PareCore
import PareFormats
import PareModel
import PareTrain

struct Finetune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Continue training a model on a corpus (the Minitron recipe's teacher correction).",
        discussion: "Writes checkpoints/ (resumable with --resume), tensorboard/, metrics.jsonl and the final Hugging Face model in OUTPUT/model.")

    @Option(help: "The model to train: a .gguf file or a Hugging Face directory.") var model: String
    @OptionGroup var training: TrainingOptions
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        threads.apply()
        let comm = try DataParallel.communicator()   // first: an MPI misconfiguration fails before any work
        installInterruptHandler()
        let config = try training.trainerConfig()
        let loaded: PretrainedModel
        do { loaded = try PretrainedModel.load(model) } catch let e as FormatError { throw fail("\(e)") }
        let vocab = loaded.model.config.vocabSize
        let train = try training.stream(training.dataTrain, vocabulary: vocab)
        let val = try training.dataVal.map { try training.stream($0, vocabulary: vocab) }
        let log = try training.openLog(comm, config)
        log.say("finetune \(model): \(loaded.model.parameterCount) parameters; \(config.steps) steps × \(config.globalBatchSize) sequences × \(config.seqLength) tokens (\(config.accumulationSteps) micro-batches of \(config.microBatchSize)); \(Parallel.threads) threads")
        let trainer = try Trainer(model: loaded.model, tokenizer: loaded.tokenizer, config: config, train: train, val: val,
                                  output: training.output, log: log)
        trainer.communicator = comm
        let t0 = ProcessInfoLite.now()
        let final = try training.run(trainer)
        if let test = training.dataTest {
            if let v = try trainer.validate(on: try training.stream(test, vocabulary: vocab)) {
                log.record(step: config.steps, [("test/loss", v), ("test/ppl", exp(v))])
                log.say(String(format: "test loss %.4f (ppl %.2f)", v, exp(v)))
            }
        }
        log.say(String(format: "done in %@; final model: %@", formatDuration(ProcessInfoLite.now() - t0), final))
    }
}
