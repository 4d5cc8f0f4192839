import ArgumentParser

@main
struct Pare: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pare",
        abstract: "Prune and distill Llama models on the CPU (the Minitron recipe).",
        version: "0.1.0",
        subcommands: [Pipeline.self, Report.self, DataGroup.self, Finetune.self, Prune.self, Distill.self, Export.self, Convert.self, Generate.self, Eval.self, Bench.self])
}
