/// The architectures Pare runs: one Llama-shaped decoder with options, named by Hugging Face's
/// `model_type`. Everything that differs between them is a property here.
public enum ModelFamily: String, CaseIterable, Sendable {
    case llama, mistral, qwen2, qwen3
    case gemma3 = "gemma3_text"

    /// `architectures` in config.json, the class transformers builds.
    public var hfArchitecture: String {
        switch self {
        case .llama: "LlamaForCausalLM"
        case .mistral: "MistralForCausalLM"
        case .qwen2: "Qwen2ForCausalLM"
        case .qwen3: "Qwen3ForCausalLM"
        case .gemma3: "Gemma3ForCausalLM"
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
        case .gemma3: "gemma3"
        }
    }

    /// Whether q and k go through a per-head RMSNorm (over head_dim) before RoPE: Qwen3's and
    /// Gemma 3's `self_attn.q_norm` / `k_norm`, one weight of head_dim shared by every head.
    public var headNorms: Bool { self == .qwen3 || self == .gemma3 }

    /// Gemma 3's differences from the Llama layer, all together: embeddings scaled by
    /// √hidden, RMSNorm as x·(1 + w), the attention and MLP outputs normalised before their
    /// residual adds (post_attention_layernorm / post_feedforward_layernorm; the MLP's input
    /// norm is pre_feedforward_layernorm), GeGLU, and local sliding-window layers beside
    /// global ones, each with its own RoPE base.
    public var isGemma: Bool { self == .gemma3 }

    /// Whether task contexts start with BOS: lm-eval-harness sets `add_bos_token` for every
    /// model_type containing "gemma" ("Gemma underperforms without it"), and model cards'
    /// figures are scored so; the other families are scored without it.
    public var scoresWithBos: Bool { isGemma }

    /// What every RMSNorm weight is read with: Gemma stores w for x·(1 + w).
    public var normWeightOffset: Float { isGemma ? 1 : 0 }

    /// Families by their llama.cpp name, for GGUF files.
    public static func fromGGUF(_ arch: String) -> ModelFamily? {
        switch arch {
        case "llama": .llama
        case "qwen2": .qwen2
        case "qwen3": .qwen3
        case "gemma3": .gemma3
        default: nil
        }
    }

    /// What runs and what is refused, for `pare --help` (the refusals are `unsupportedMessage`'s).
    public static let helpText = """
        Model families (config.json model_type / GGUF general.architecture):
          runs     llama (Llama 2, 3, 3.1, 3.2), mistral, qwen2 (Qwen2, Qwen2.5), qwen3 (dense Qwen3),
                   gemma3_text (Gemma 3's text decoder: 270M, 1B; GGUF gemma3)
          refused  gemma, gemma2: softcapped logits and their norms are not implemented
                   gemma3 (multimodal): the vision tower; its text_config is a gemma3_text
                   phi3: q/k/v fused in one qkv_proj (and gate/up in one), which Pare does not split
                   mixtral, qwen3_moe and other mixtures of experts: Pare prunes dense models
        """

    /// What to tell a user whose model_type (or GGUF architecture) Pare does not run.
    static func unsupportedMessage(_ type: String, key: String) -> String {
        let runs = "Pare runs \(allCases.map(\.rawValue).joined(separator: ", ")) (Llama-shaped decoders)"
        let why: String
        switch type {
        case "gemma3": why = "it is the multimodal Gemma 3 (a vision tower beside the decoder); Pare runs the text decoder, gemma3_text, as in the 270M and 1B releases"
        case let t where t.hasPrefix("gemma"): why = "Gemma 1 and 2 (softcapped logits, other norms) are not implemented; Gemma 3 (gemma3_text) is"
        case let t where t.hasPrefix("phi"): why = "Phi models fuse q/k/v into one qkv_proj (and gate/up into one), which Pare does not split"
        case let t where t.contains("moe") || ["mixtral", "dbrx", "deepseek_v2", "deepseek_v3", "olmoe", "jamba", "granitemoe"].contains(t):
            why = "it is a mixture-of-experts model; Pare prunes dense models"
        default: why = "its architecture is not one Pare implements"
        }
        return "\(key) is \"\(type)\": \(why). \(runs)"
    }
}
