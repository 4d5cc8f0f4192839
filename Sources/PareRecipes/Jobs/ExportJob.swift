import Foundation
import PareCore
import PareFormats
import PareModel

/// `export gguf`: a GGUF file that llama.cpp loads and runs.
public struct ExportJob: Equatable, JobSettings {
    public var model = ""        // a Hugging Face directory (or a .gguf to re-quantise)
    public var output = ""       // the .gguf file
    public var type = "f16"      // f32 | f16 | q8_0 | q4_0 (norms stay f32)

    public init() {}

    public static let settings: [Setting<ExportJob>] = [
        Setting("model", \.model, "The model: a Hugging Face directory (or a .gguf to re-quantise)."),
        Setting("output", \.output, "Output .gguf file."),
        Setting("type", \.type, "Tensor type: f32, f16, q8_0 or q4_0; norms stay f32."),
    ]

    public func validate() throws {
        guard !model.isEmpty else { throw RecipeError.invalid("model", "is required") }
        guard !output.isEmpty else { throw RecipeError.invalid("output", "is required: the .gguf file to write") }
        guard GGUFExport.TensorType(rawValue: type.lowercased()) != nil else { throw RecipeError.invalid("type", "must be f32, f16, q8_0 or q4_0, not \(type)") }
        var isDir: ObjCBool = false
        if output.hasSuffix("/") || (FileManager.default.fileExists(atPath: output, isDirectory: &isDir) && isDir.boolValue) {
            throw RecipeError.invalid("output", "(\(output)) is a folder; give the path of the .gguf file to write, e.g. \(output.hasSuffix("/") ? output : output + "/")model.gguf")
        }
    }

    public func run(progress: Progress) throws {
        try validate()
        let tt = GGUFExport.TensorType(rawValue: type.lowercased())!
        let t0 = ProcessInfoLite.now()
        let m = try PretrainedModel.load(model)
        let name = URL(fileURLWithPath: model).deletingPathExtension().lastPathComponent
        try GGUFExport.write(m.model, tokenizer: m.tokenizer, type: tt, name: name, to: output)
        let size = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
        progress.say(String(format: "wrote %@ (%@, %.1f MB) in %.1f s", output, tt.rawValue, Double(size) / 1e6, ProcessInfoLite.now() - t0))
    }
}
