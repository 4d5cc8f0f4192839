import PareModel

/// Resolves `--model`: today `random:PRESET` (random weights in a known model's shape);
/// Hugging Face directories and GGUF files arrive with the real-model readers.
enum ModelSpec {
    static func load(_ spec: String, seed: UInt64 = 0) throws -> LlamaModel {
        if spec.hasPrefix("random:") {
            let name = String(spec.dropFirst("random:".count))
            guard let config = LlamaConfig.presets[name] else {
                throw ModelSpecError("unknown preset \"\(name)\"; known: \(LlamaConfig.presets.keys.sorted().joined(separator: ", "))")
            }
            let model = try LlamaModel(config: config)
            model.initializeRandom(seed: seed)
            return model
        }
        throw ModelSpecError("cannot load \"\(spec)\": this build reads only random:PRESET models (Hugging Face and GGUF loading is not built yet)")
    }
}

struct ModelSpecError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
