/// The architectures Pare runs: one Llama-shaped decoder with options, named by Hugging Face's
/// `model_type`. Everything that differs between them is a property here.
public enum ModelFamily: String, CaseIterable, Sendable {
    case llama, mistral, qwen2, qwen3

    /// `architectures` in config.json, the class transformers builds.
    public var hfArchitecture: String {
        switch self {
        case .llama: "LlamaForCausalLM"
        case .mistral: "MistralForCausalLM"
        case .qwen2: "Qwen2ForCausalLM"
        case .qwen3: "Qwen3ForCausalLM"
        }
    }

    /// llama.cpp's `general.architecture`: its converter writes Mistral as "llama". Its "llama"
    /// rotates adjacent pairs, so q/k rows are permuted there; "qwen2" and "qwen3" use Hugging
    /// Face's rotate-half layout and are not.
    public var ggufArchitecture: String {
        switch self {
        case .llama, .mistral: "llama"
        case .qwen2: "qwen2"
        case .qwen3: "qwen3"
        }
    }

    /// Whether q and k go through a per-head RMSNorm (over head_dim) before RoPE: Qwen3's
    /// `self_attn.q_norm` / `k_norm`, one weight of head_dim shared by every head.
    public var headNorms: Bool { self == .qwen3 }

    /// Families by their llama.cpp name, for GGUF files.
    public static func fromGGUF(_ arch: String) -> ModelFamily? {
        switch arch {
        case "llama": .llama
        case "qwen2": .qwen2
        case "qwen3": .qwen3
        default: nil
        }
    }

    /// What to tell a user whose model_type (or GGUF architecture) Pare does not run.
    static func unsupportedMessage(_ type: String, key: String) -> String {
        let runs = "Pare runs \(allCases.map(\.rawValue).joined(separator: ", ")) (Llama-shaped decoders with SwiGLU)"
        let why: String
        switch type {
        case let t where t.hasPrefix("gemma"): why = "Gemma's architecture (GeGLU, scaled embeddings, extra norms) is not implemented"
        case let t where t.hasPrefix("phi"): why = "Phi models fuse q/k/v into one qkv_proj (and gate/up into one), which Pare does not split"
        case let t where t.contains("moe") || ["mixtral", "dbrx", "deepseek_v2", "deepseek_v3", "olmoe", "jamba", "granitemoe"].contains(t):
            why = "it is a mixture-of-experts model; Pare prunes dense models"
        default: why = "its architecture is not one Pare implements"
        }
        return "\(key) is \"\(type)\": \(why). \(runs)"
    }
}
