import ArgumentParser
import PareRecipes

struct Finetune: ParsableCommand {
    static let configuration = jobConfiguration(
        FinetuneJob.self, abstract: "Continue training a model on a corpus (the Minitron recipe's teacher correction).",
        usage: "pare finetune --model <path> --data-train <prefix> --output <dir> [<setting> ...]",
        discussion: "Writes checkpoints/ (resumable with --resume), tensorboard/, metrics.jsonl and the final Hugging Face model in OUTPUT/model.")

    @OptionGroup var options: JobOptions
    func run() throws { try options.runTraining(FinetuneJob.self) { try $0.run(progress: $1, communicator: $2) } }
}
