import PareCore

/// A Llama-shaped model's hyper-parameters (Llama, Mistral, Qwen2, Qwen3: see ModelFamily), with
/// Hugging Face `config.json` key names so a config read from a checkpoint writes back
/// unchanged (plus an explicit `head_dim`, which HF derives when absent and which width
/// pruning makes independent of hidden / heads).
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
    /// Mistral's attention window (null: none); Qwen2's, used only with `use_sliding_window`
    /// on layers from `max_window_layers` on. Pare attends to every earlier position, so it
    /// runs such a model only on sequences the window covers.
    public var slidingWindow: Int? = nil
    public var useSlidingWindow: Bool? = nil
    public var maxWindowLayers: Int? = nil

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
        case slidingWindow = "sliding_window"
        case useSlidingWindow = "use_sliding_window"
        case maxWindowLayers = "max_window_layers"
        case ropeParameters = "rope_parameters"
    }

    /// transformers 5 writes `rope_parameters` (rope_type, rope_theta and the scaling fields
    /// together) instead of `rope_theta` + `rope_scaling`.
    struct RopeParameters: Decodable {
        var ropeTheta: Double?
        enum CodingKeys: String, CodingKey { case ropeTheta = "rope_theta" }
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
        let parameters = try c.decodeIfPresent(RopeParameters.self, forKey: .ropeParameters)
        ropeTheta = try c.decodeIfPresent(Double.self, forKey: .ropeTheta) ?? parameters?.ropeTheta ?? 10_000
        ropeScaling = try c.decodeIfPresent(RopeScaling.self, forKey: .ropeScaling)
        if ropeScaling == nil, let scaling = try c.decodeIfPresent(RopeScaling.self, forKey: .ropeParameters), scaling.ropeType != "default" {
            ropeScaling = scaling
        }
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? "silu"
        tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? false
        attentionBias = try c.decodeIfPresent(Bool.self, forKey: .attentionBias) ?? false
        mlpBias = try c.decodeIfPresent(Bool.self, forKey: .mlpBias) ?? false
        bosTokenId = try c.decodeIfPresent(TokenIds.self, forKey: .bosTokenId)
        eosTokenId = try c.decodeIfPresent(TokenIds.self, forKey: .eosTokenId)
        torchDtype = try c.decodeIfPresent(String.self, forKey: .torchDtype)
        // transformers' MistralConfig defaults an absent sliding_window to 4096.
        slidingWindow = c.contains(.slidingWindow) ? try c.decodeIfPresent(Int.self, forKey: .slidingWindow)
                                                   : (modelType == "mistral" ? 4096 : nil)
        useSlidingWindow = try c.decodeIfPresent(Bool.self, forKey: .useSlidingWindow)
        maxWindowLayers = try c.decodeIfPresent(Int.self, forKey: .maxWindowLayers)
    }

    /// config.json as transformers reads it for this family: Qwen2 and Mistral have no
    /// attention_bias / mlp_bias keys (their biases are fixed), and Mistral's sliding_window is
    /// written even when null, since an absent key means 4096 there.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(architectures, forKey: .architectures)
        try c.encode(modelType, forKey: .modelType)
        try c.encode(vocabSize, forKey: .vocabSize)
        try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(intermediateSize, forKey: .intermediateSize)
        try c.encode(numHiddenLayers, forKey: .numHiddenLayers)
        try c.encode(numAttentionHeads, forKey: .numAttentionHeads)
        try c.encode(numKeyValueHeads, forKey: .numKeyValueHeads)
        try c.encode(headDim, forKey: .headDim)
        try c.encode(maxPositionEmbeddings, forKey: .maxPositionEmbeddings)
        try c.encode(rmsNormEps, forKey: .rmsNormEps)
        try c.encode(ropeTheta, forKey: .ropeTheta)
        try c.encodeIfPresent(ropeScaling, forKey: .ropeScaling)
        try c.encode(hiddenAct, forKey: .hiddenAct)
        try c.encode(tieWordEmbeddings, forKey: .tieWordEmbeddings)
        try c.encodeIfPresent(bosTokenId, forKey: .bosTokenId)
        try c.encodeIfPresent(eosTokenId, forKey: .eosTokenId)
        try c.encodeIfPresent(torchDtype, forKey: .torchDtype)
        switch ModelFamily(rawValue: modelType) {
        case .mistral:
            try c.encode(slidingWindow, forKey: .slidingWindow)
        case .qwen2:
            try c.encodeIfPresent(slidingWindow, forKey: .slidingWindow)
            try c.encodeIfPresent(useSlidingWindow, forKey: .useSlidingWindow)
            try c.encodeIfPresent(maxWindowLayers, forKey: .maxWindowLayers)
        case .qwen3:
            // Qwen3 takes attention_bias (q, k, v and o together) but has no mlp_bias. Its
            // layer_types is not written: transformers derives it from max_window_layers and
            // the layer count, which stays right after depth pruning.
            try c.encode(attentionBias, forKey: .attentionBias)
            try c.encodeIfPresent(slidingWindow, forKey: .slidingWindow)
            try c.encodeIfPresent(useSlidingWindow, forKey: .useSlidingWindow)
            try c.encodeIfPresent(maxWindowLayers, forKey: .maxWindowLayers)
        default:
            try c.encode(attentionBias, forKey: .attentionBias)
            try c.encode(mlpBias, forKey: .mlpBias)
        }
    }

    /// The family (validate() has checked that model_type names one).
    public var family: ModelFamily { ModelFamily(rawValue: modelType) ?? .llama }

    /// Biases on q/k/v: Qwen2 always, Llama and Qwen3 with attention_bias, Mistral never.
    public var qkvBias: Bool { family == .qwen2 || ([.llama, .qwen3].contains(family) && attentionBias) }
    /// Bias on o_proj: Llama and Qwen3 with attention_bias only.
    public var oBias: Bool { [.llama, .qwen3].contains(family) && attentionBias }
    /// Per-head RMSNorms on q and k before RoPE (Qwen3).
    public var headNorms: Bool { family.headNorms }
    /// Biases on the MLP projections: Llama with mlp_bias only.
    public var mlpBiases: Bool { family == .llama && mlpBias }

    /// The attention window that applies to some layer, if any.
    public var activeSlidingWindow: Int? {
        switch family {
        case .mistral: slidingWindow
        case .qwen2, .qwen3: useSlidingWindow == true && (maxWindowLayers ?? 28) < numHiddenLayers ? slidingWindow : nil
        case .llama: nil
        }
    }

    /// How many positions Pare can run: max_position_embeddings, or the sliding window when
    /// that is shorter (Pare attends to every earlier position, as a window that covers the
    /// sequence does).
    public var usablePositions: Int { min(maxPositionEmbeddings, activeSlidingWindow ?? .max) }

    /// The config key that sets `usablePositions`, for messages.
    public var usablePositionsKey: String {
        usablePositions < maxPositionEmbeddings ? "sliding_window" : "max_position_embeddings"
    }

    /// Checks that Pare can run this model; the message says which key is wrong.
    public func validate() throws {
        func fail(_ m: String) -> ModelError { .invalidConfig(m) }
        guard ModelFamily(rawValue: modelType) != nil else { throw fail(ModelFamily.unsupportedMessage(modelType, key: "model_type")) }
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
