import ArgumentParser
import PareRecipes

struct Finetune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Continue training a model on a corpus (the Minitron recipe's teacher correction).",
        discussion: "Writes checkpoints/ (resumable with --resume), tensorboard/, metrics.jsonl and the final Hugging Face model in OUTPUT/model.")

    @Option(help: "The model to train: a .gguf file or a Hugging Face directory.") var model: String
    @OptionGroup var training: TrainingOptions
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        try threads.apply()
        let comm = try DataParallel.communicator()   // first: an MPI misconfiguration fails before any work
        installInterruptHandler()
        var job = FinetuneJob()
        job.model = model; job.train = training.settings
        try runJob { try job.run(progress: .console, communicator: comm) }
    }
}
