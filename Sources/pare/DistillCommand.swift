import ArgumentParser
import PareRecipes

struct Distill: ParsableCommand {
    static let configuration = jobConfiguration(
        DistillJob.self, abstract: "Train a (pruned) student to match a teacher's output distribution.",
        usage: "pare distill --teacher <path> --student <path> --data-train <prefix> --output <dir> [<setting> ...]",
        discussion: "The teacher runs forward only in the same process. Logs kd_loss and lm_loss (train and validation), writes checkpoints/, tensorboard/, metrics.jsonl and OUTPUT/model.")

    @OptionGroup var options: JobOptions
    func run() throws { try options.runTraining(DistillJob.self) { try $0.run(progress: $1, communicator: $2) } }
}
