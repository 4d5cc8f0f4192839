import ArgumentParser
import PareRecipes

struct Finetune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Continue training a model on a corpus (the Minitron recipe's teacher correction).",
        usage: "pare finetune --model <path> --data-train <prefix> --output <dir> [<setting> ...]",
        discussion: settingsHelp("Writes checkpoints/ (resumable with --resume), tensorboard/, metrics.jsonl and the final Hugging Face model in OUTPUT/model.", FinetuneJob.self))

    @OptionGroup var settings: SettingArguments
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        try threads.apply()
        let job = try settings.job(FinetuneJob.self)
        let comm = try DataParallel.communicator()   // before any work: an MPI misconfiguration fails first
        let progress = interruptibleConsole()
        try runJob { try job.run(progress: progress, communicator: comm) }
    }
}
