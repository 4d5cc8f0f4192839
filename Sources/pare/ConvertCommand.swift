import ArgumentParser
import PareRecipes
import Foundation
import PareCore
import PareFormats
import PareModel

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a GGUF file or Hugging Face directory into a Hugging Face directory.",
        discussion: "The output loads unchanged in transformers (AutoModelForCausalLM / AutoTokenizer). Quantised GGUF tensors are dequantised.")

    @Argument(help: "Input: a .gguf file or a Hugging Face model directory.") var input: String
    @Argument(help: "Output directory (created if needed).") var output: String
    @Option(help: "Weight type of model.safetensors: f32 or bf16.") var dtype = "f32"
    @Flag(help: "When the output folder holds files, move them aside to OUTPUT.previous-N instead of refusing.") var overwrite = false

    func run() throws {
        let type: SafetensorsWriter.DType
        switch dtype.lowercased() {
        case "f32", "float32": type = .F32
        case "bf16", "bfloat16": type = .BF16
        default: throw fail("--dtype must be f32 or bf16, not \(dtype)")
        }
        guard !input.isEmpty else { throw fail("the input is empty: give a .gguf file or a Hugging Face model directory") }
        guard !output.isEmpty else { throw fail("the output is empty: give the folder to write the Hugging Face model to") }
        let t0 = ProcessInfoLite.now()
        do {
            // Checked before the (slow) load, so a mistake costs nothing; anything moved
            // aside only after the input has loaded.
            let occupied = try OutputFolder.check(output, input: input, overwrite: overwrite)
            let m = try PretrainedModel.load(input)
            print("loaded \(input): \(m.model.parameterCount) parameters, \(m.model.config.numHiddenLayers) layers, vocabulary \(m.tokenizer.vocabularySize)")
            if occupied { print(try OutputFolder.moveAside(output)) }
            try HFCheckpoint.save(m.model, tokenizer: m.tokenizer, to: output, dtype: type)
        } catch { throw fail(RecipeError.message(error, naming: SettingName.flag)) }
        print(String(format: "wrote %@ (%@) in %.1f s", output, type.rawValue, ProcessInfoLite.now() - t0))
    }
}
