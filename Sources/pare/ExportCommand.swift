import ArgumentParser
import Foundation
import PareCore
import PareFormats
import PareModel

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Export a model to other formats.", subcommands: [ExportGGUF.self])
}

struct ExportGGUF: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gguf", abstract: "Write a GGUF file that llama.cpp loads and runs.")

    @Option(help: "The model: a Hugging Face directory (or a .gguf to re-quantise).") var model: String
    @Option(help: "Output .gguf file.") var output: String
    @Option(help: "Tensor type: f32, f16, q8_0 or q4_0 (norms stay f32).") var type = "f16"

    func run() throws {
        guard let tt = GGUFExport.TensorType(rawValue: type.lowercased()) else { throw fail("--type must be f32, f16, q8_0 or q4_0, not \(type)") }
        let t0 = ProcessInfoLite.now()
        do {
            let m = try PretrainedModel.load(model)
            let name = URL(fileURLWithPath: model).deletingPathExtension().lastPathComponent
            try GGUFExport.write(m.model, tokenizer: m.tokenizer, type: tt, name: name, to: output)
        } catch let e as FormatError { throw fail("\(e)") }
        let size = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
        print(String(format: "wrote %@ (%@, %.1f MB) in %.1f s", output, tt.rawValue, Double(size) / 1e6, ProcessInfoLite.now() - t0))
    }
}
