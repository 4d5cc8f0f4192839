import PareCore

/// A Llama model's hyper-parameters, with Hugging Face `config.json` key names so a config
/// read from a checkpoint writes back unchanged (plus an explicit `head_dim`, which HF
/// derives when absent and which width pruning makes independent of hidden / heads).
public struct LlamaConfig: Codable, Equatable, Sendable {
    public var architectures: [String] = ["LlamaForCausalLM"]
    public var modelType: String = "llama"
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int
    public var headDim: Int
    public var maxPositionEmbeddings: Int = 8192
    public var rmsNormEps: Double = 1e-5
    public var ropeTheta: Double = 10_000
    public var ropeScaling: RopeScaling? = nil
    public var hiddenAct: String = "silu"
    public var tieWordEmbeddings: Bool = false
    public var attentionBias: Bool = false
    public var mlpBias: Bool = false
    public var bosTokenId: TokenIds? = nil
    public var eosTokenId: TokenIds? = nil
    public var torchDtype: String? = "float32"

    enum CodingKeys: String, CodingKey {
        case architectures
        case modelType = "model_type"
        case vocabSize = "vocab_size"
        case hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads"
        case numKeyValueHeads = "num_key_value_heads"
        case headDim = "head_dim"
        case maxPositionEmbeddings = "max_position_embeddings"
        case rmsNormEps = "rms_norm_eps"
        case ropeTheta = "rope_theta"
        case ropeScaling = "rope_scaling"
        case hiddenAct = "hidden_act"
        case tieWordEmbeddings = "tie_word_embeddings"
        case attentionBias = "attention_bias"
        case mlpBias = "mlp_bias"
        case bosTokenId = "bos_token_id"
        case eosTokenId = "eos_token_id"
        case torchDtype = "torch_dtype"
    }

    public init(
        vocabSize: Int, hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int,
        numAttentionHeads: Int, numKeyValueHeads: Int, headDim: Int? = nil,
        maxPositionEmbeddings: Int = 8192, rmsNormEps: Double = 1e-5, ropeTheta: Double = 10_000,
        ropeScaling: RopeScaling? = nil, tieWordEmbeddings: Bool = false,
        attentionBias: Bool = false, mlpBias: Bool = false
    ) {
        self.vocabSize = vocabSize; self.hiddenSize = hiddenSize; self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers; self.numAttentionHeads = numAttentionHeads
        self.numKeyValueHeads = numKeyValueHeads; self.headDim = headDim ?? hiddenSize / numAttentionHeads
        self.maxPositionEmbeddings = maxPositionEmbeddings; self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta; self.ropeScaling = ropeScaling
        self.tieWordEmbeddings = tieWordEmbeddings; self.attentionBias = attentionBias; self.mlpBias = mlpBias
    }

    /// Model configs from the wild carry many keys Pare does not use (`use_cache`,
    /// `initializer_range`, …): those are ignored; the ones Pare needs are required.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        architectures = try c.decodeIfPresent([String].self, forKey: .architectures) ?? ["LlamaForCausalLM"]
        modelType = try c.decodeIfPresent(String.self, forKey: .modelType) ?? "llama"
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        numHiddenLayers = try c.decode(Int.self, forKey: .numHiddenLayers)
        numAttentionHeads = try c.decode(Int.self, forKey: .numAttentionHeads)
        numKeyValueHeads = try c.decodeIfPresent(Int.self, forKey: .numKeyValueHeads) ?? numAttentionHeads
        headDim = try c.decodeIfPresent(Int.self, forKey: .headDim) ?? hiddenSize / max(1, numAttentionHeads)
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? 2048
        rmsNormEps = try c.decodeIfPresent(Double.self, forKey: .rmsNormEps) ?? 1e-6
        ropeTheta = try c.decodeIfPresent(Double.self, forKey: .ropeTheta) ?? 10_000
        ropeScaling = try c.decodeIfPresent(RopeScaling.self, forKey: .ropeScaling)
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? "silu"
        tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? false
        attentionBias = try c.decodeIfPresent(Bool.self, forKey: .attentionBias) ?? false
        mlpBias = try c.decodeIfPresent(Bool.self, forKey: .mlpBias) ?? false
        bosTokenId = try c.decodeIfPresent(TokenIds.self, forKey: .bosTokenId)
        eosTokenId = try c.decodeIfPresent(TokenIds.self, forKey: .eosTokenId)
        torchDtype = try c.decodeIfPresent(String.self, forKey: .torchDtype)
    }

    /// Checks that Pare can run this model; the message says which key is wrong.
    public func validate() throws {
        func fail(_ m: String) -> ModelError { .invalidConfig(m) }
        guard modelType == "llama" else { throw fail("model_type is \"\(modelType)\"; Pare runs Llama-architecture models (model_type \"llama\")") }
        guard hiddenAct == "silu" else { throw fail("hidden_act is \"\(hiddenAct)\"; only \"silu\" (SwiGLU) is supported") }
        for (k, v) in [("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
                       ("num_hidden_layers", numHiddenLayers), ("num_attention_heads", numAttentionHeads),
                       ("num_key_value_heads", numKeyValueHeads), ("head_dim", headDim)] where v <= 0 {
            throw fail("\(k) must be positive, got \(v)")
        }
        guard numAttentionHeads % numKeyValueHeads == 0 else {
            throw fail("num_attention_heads (\(numAttentionHeads)) must be a multiple of num_key_value_heads (\(numKeyValueHeads))")
        }
        guard headDim % 2 == 0 else { throw fail("head_dim (\(headDim)) must be even for rotary embeddings") }
        if let s = ropeScaling { try s.validate() }
    }

    /// Rotary inverse frequencies, including Llama 3.1's scaling when configured.
    public func ropeInvFreq() -> [Float] {
        let base = RopeTable.defaultInvFreq(headDim: headDim, theta: ropeTheta)
        guard let s = ropeScaling, s.ropeType == "llama3" else { return base }
        return s.llama3(base)
    }
}

/// `bos_token_id` / `eos_token_id`: HF writes a single id or a list.
public enum TokenIds: Codable, Equatable, Sendable {
    case one(Int), many([Int])
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let v = try? c.decode(Int.self) { self = .one(v) } else { self = .many(try c.decode([Int].self)) }
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .one(let v): try c.encode(v)
        case .many(let v): try c.encode(v)
        }
    }
    public var ids: [Int] { switch self { case .one(let v): [v]; case .many(let v): v } }
}
