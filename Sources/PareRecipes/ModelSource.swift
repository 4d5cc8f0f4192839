import PareModel

/// A model argument for benchmarks: `random:PRESET` (random weights in a known model's shape),
/// `smollm2-135m` (the bundled teacher), or a .gguf file / Hugging Face directory.
public enum ModelSource {
    public static func load(_ spec: String, seed: UInt64 = 0) throws -> LlamaModel {
        if spec.hasPrefix("random:") {
            let name = String(spec.dropFirst("random:".count))
            guard let config = LlamaConfig.presets[name] else {
                throw RecipeError.failed("unknown preset \"\(name)\"; known: \(LlamaConfig.presets.keys.sorted().joined(separator: ", "))")
            }
            let model = try LlamaModel(config: config)
            model.initializeRandom(seed: seed)
            return model
        }
        return try PretrainedModel.load(BundledAssets.model(spec)).model
    }
}
