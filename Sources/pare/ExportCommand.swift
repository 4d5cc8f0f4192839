import ArgumentParser
import PareRecipes

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Export a model to other formats.", subcommands: [ExportGGUF.self])
}

struct ExportGGUF: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gguf", abstract: "Write a GGUF file that llama.cpp loads and runs.",
        usage: "pare export gguf --model <path> --output <file> [--type <f32|f16|q8_0|q4_0>]",
        discussion: ExportJob.helpText())

    @OptionGroup var settings: SettingArguments

    func run() throws {
        let job = try settings.job(ExportJob.self)
        try runJob { try job.run(progress: .console) }
    }
}
