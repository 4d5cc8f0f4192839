import ArgumentParser
import PareRecipes

struct Distill: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a (pruned) student to match a teacher's output distribution.",
        usage: "pare distill --teacher <path> --student <path> --data-train <prefix> --output <dir> [<setting> ...]",
        discussion: settingsHelp("The teacher runs forward only in the same process. Logs kd_loss and lm_loss (train and validation), writes checkpoints/, tensorboard/, metrics.jsonl and OUTPUT/model.", DistillJob.self))

    @OptionGroup var settings: SettingArguments
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        try threads.apply()
        let job = try settings.job(DistillJob.self)
        let comm = try DataParallel.communicator()   // before any work: an MPI misconfiguration fails first
        let progress = interruptibleConsole()
        try runJob { try job.run(progress: progress, communicator: comm) }
    }
}
