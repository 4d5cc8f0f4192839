import ArgumentParser
import PareRecipes

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Export a model to other formats.", subcommands: [ExportGGUF.self])
}

struct ExportGGUF: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gguf", abstract: "Write a GGUF file that llama.cpp loads and runs.")

    @Option(help: "The model: a Hugging Face directory (or a .gguf to re-quantise).") var model: String
    @Option(help: "Output .gguf file.") var output: String
    @Option(help: "Tensor type: f32, f16, q8_0 or q4_0; norms stay f32 (default \(ExportJob().type)).") var type: String?

    func run() throws {
        var job = ExportJob()
        job.model = model; job.output = output
        if let v = type { job.type = v }
        try runJob { try job.run(progress: .console) }
    }
}
