import PareFormats

/// Checks every loader makes after reading weights: the file's tensors are exactly the ones
/// the config implies (a config that declares fewer layers than the weights hold would
/// otherwise silently drop them), and every weight is finite (NaN weights would otherwise
/// make generate print nothing and training blame the learning rate).
enum StrictLoading {
    /// `unused`: tensor names in the file that the model did not read.
    static func checkUnused(_ unused: [String], path: String, configName: String) throws {
        guard !unused.isEmpty else { return }
        let sample = unused.sorted().prefix(3).map { "\"\($0)\"" }.joined(separator: ", ")
        let held = "holds \(unused.count) tensor\(unused.count == 1 ? "" : "s") that \(configName) does not describe (\(sample)\(unused.count > 3 ? ", …" : ""))"
        // Per-head q/k norms in a file read as a family without them (no model_type, or a Llama
        // one): the family is what is wrong, not the layer counts.
        if unused.contains(where: { $0.contains("q_norm") || $0.contains("k_norm") || $0.contains("attn_q_norm") || $0.contains("attn_k_norm") }) {
            throw FormatError.unsupported(path: path, message: "\(held): per-head q/k norms, as in Qwen3, Gemma 3 or OLMo 2, which \(configName) does not name (model_type); for a Qwen3 model set model_type \"qwen3\" (GGUF: general.architecture \"qwen3\"); llama, mistral and qwen2 have none")
        }
        throw FormatError.inconsistent(path: path, message: "\(held); \(configName) and the weights disagree: fix num_hidden_layers and the sizes in \(configName)")
    }

    static func checkFinite(_ model: LlamaModel, path: String) throws {
        for e in model.layout.entries {
            let p = model.params.pointer + e.offset
            for i in 0..<e.count where !p[i].isFinite {
                throw FormatError.inconsistent(path: path, message: "tensor \"\(e.name)\" holds a non-finite value (\(p[i]) at element \(i)); the model is damaged (re-download it, or go back to an earlier checkpoint)")
            }
        }
    }
}
