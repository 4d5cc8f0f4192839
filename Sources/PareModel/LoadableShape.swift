/// The shape rules a model must meet so that today's consumers load it: current transformers
/// (5.x) and llama.cpp. Width pruning checks its targets against them before any work, and the
/// GGUF exporter against the llama.cpp ones, so a student is never written that only Pare reads.
public struct LoadableShape: Equatable, Sendable {
    public var hidden: Int, ffn: Int, heads: Int, groups: Int, headDim: Int

    public init(hidden: Int, ffn: Int, heads: Int, groups: Int, headDim: Int) {
        self.hidden = hidden; self.ffn = ffn; self.heads = heads; self.groups = groups; self.headDim = headDim
    }
    public init(_ c: LlamaConfig) {
        self.init(hidden: c.hiddenSize, ffn: c.intermediateSize, heads: c.numAttentionHeads, groups: c.numKeyValueHeads, headDim: c.headDim)
    }

    /// Where the model should load. `ggufBlock` is the export type's block (32 for q8_0/q4_0,
    /// 1 for f16/f32); nil skips the llama.cpp rules altogether.
    public struct Consumers: Equatable, Sendable {
        public var family: ModelFamily, qkvBias: Bool, ggufBlock: Int?
        public init(family: ModelFamily, qkvBias: Bool, ggufBlock: Int?) { self.family = family; self.qkvBias = qkvBias; self.ggufBlock = ggufBlock }
    }

    /// Every rule this shape breaks, as sentences naming the consumer and the rule; empty when it loads.
    public func problems(for consumers: Consumers) -> [String] {
        var out: [String] = []
        if headDim % 2 != 0 { out.append("head_dim \(headDim) is odd, and RoPE (transformers and llama.cpp) rotates pairs") }
        if groups < 1 || heads % groups != 0 {
            out.append("num_attention_heads \(heads) is not a multiple of num_key_value_heads \(groups) (grouped-query attention shares each KV head by a whole number of query heads)")
        }
        // transformers 5's LlamaConfig and Gemma3TextConfig validators reject it even when
        // head_dim is explicit; its Qwen2, Qwen3 and Mistral configs do not check.
        if consumers.family == .llama || consumers.family == .gemma3, hidden % heads != 0 {
            out.append("transformers' \(consumers.family == .llama ? "LlamaConfig" : "Gemma3TextConfig") requires hidden_size % num_attention_heads == 0 even with an explicit head_dim, and \(hidden) % \(heads) = \(hidden % heads)")
        }
        if let block = consumers.ggufBlock {
            // llama.cpp's qwen3 reads no attention biases (Qwen3's attention_bias is false in every release).
            if consumers.family == .qwen3, consumers.qkvBias {
                out.append("llama.cpp's qwen3 architecture has no attention biases, and this model's attention_bias is true")
            }
            // llama.cpp sizes a biased q projection (qwen2, llama with attention_bias) by the hidden size.
            if consumers.qkvBias, consumers.family != .qwen3, heads * headDim != hidden {
                out.append("llama.cpp's \(consumers.family.ggufArchitecture) architecture sizes the biased q projection by the hidden size, and heads × head_dim = \(heads) × \(headDim) = \(heads * headDim) ≠ hidden_size \(hidden)")
            }
            if block > 1 {
                for (name, n) in [("hidden_size", hidden), ("intermediate_size", ffn), ("num_attention_heads × head_dim", heads * headDim)] where n % block != 0 {
                    out.append("llama.cpp quantizes rows in blocks of \(block), and \(name) \(n) is not a multiple of \(block)")
                }
            }
        }
        return out
    }
}
