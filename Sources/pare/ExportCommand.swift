import ArgumentParser
import PareRecipes

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Export a model to other formats.", subcommands: [ExportGGUF.self])
}

struct ExportGGUF: ParsableCommand {
    static let configuration = jobConfiguration("gguf", ExportJob.self, abstract: "Write a GGUF file that llama.cpp loads and runs.",
                                                usage: "pare export gguf --model <path> --output <file> [--type <f32|f16|q8_0|q4_0>]")
    @OptionGroup var options: JobOptions
    func run() throws { try options.run(ExportJob.self) { try $0.run(progress: .console) } }
}
