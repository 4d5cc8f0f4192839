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
    /// Gemma 3: its activation key (`hidden_activation`, gelu_pytorch_tanh), the attention scale
    /// 1/√query_pre_attn_scalar, each layer's type ("sliding_attention": local, windowed, with
    /// the local RoPE base; "full_attention": global), the local RoPE base, and the options it
    /// has but Pare does not run (softcapping, bidirectional attention), kept to refuse them.
    public var hiddenActivation: String? = nil
    public var queryPreAttnScalar: Double? = nil
    public var layerTypes: [String]? = nil
    public var ropeLocalTheta: Double? = nil
    public var finalLogitSoftcapping: Double? = nil
    public var attnLogitSoftcapping: Double? = nil
    public var useBidirectionalAttention: Bool? = nil

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
        case hiddenActivation = "hidden_activation"
        case queryPreAttnScalar = "query_pre_attn_scalar"
        case layerTypes = "layer_types"
        case ropeLocalBaseFreq = "rope_local_base_freq"
        case finalLogitSoftcapping = "final_logit_softcapping"
        case attnLogitSoftcapping = "attn_logit_softcapping"
        case useBidirectionalAttention = "use_bidirectional_attention"
    }

    /// Gemma 3's `rope_parameters`: one set per layer type.
    struct LayerTypeRope: Codable {
        var ropeType: String?
        var ropeTheta: Double?
        enum CodingKeys: String, CodingKey { case ropeType = "rope_type", ropeTheta = "rope_theta" }
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
        if modelType == ModelFamily.gemma3.rawValue { try decodeGemma(c) }
    }

    /// Gemma 3's keys, with transformers' defaults: every 6th layer global, window 4096, local
    /// RoPE base 10,000 and global 1,000,000, query_pre_attn_scalar 256.
    private mutating func decodeGemma(_ c: KeyedDecodingContainer<CodingKeys>) throws {
        hiddenActivation = try c.decodeIfPresent(String.self, forKey: .hiddenActivation) ?? "gelu_pytorch_tanh"
        queryPreAttnScalar = try c.decodeIfPresent(Double.self, forKey: .queryPreAttnScalar) ?? 256
        slidingWindow = c.contains(.slidingWindow) ? try c.decodeIfPresent(Int.self, forKey: .slidingWindow) : 4096
        layerTypes = try c.decodeIfPresent([String].self, forKey: .layerTypes)
            ?? Self.gemmaLayerTypes(numHiddenLayers)
        let perType = (try? c.decodeIfPresent([String: LayerTypeRope].self, forKey: .ropeParameters)) ?? nil
        let legacyGlobal = try c.decodeIfPresent(Double.self, forKey: .ropeTheta)
        let legacyLocal = try c.decodeIfPresent(Double.self, forKey: .ropeLocalBaseFreq)
        ropeTheta = perType?["full_attention"]?.ropeTheta ?? legacyGlobal ?? 1_000_000
        ropeLocalTheta = perType?["sliding_attention"]?.ropeTheta ?? legacyLocal ?? 10_000
        for (type, rope) in perType ?? [:] where (rope.ropeType ?? "default") != "default" {
            throw ModelError.invalidConfig("rope_parameters.\(type).rope_type is \"\(rope.ropeType!)\": Pare runs Gemma 3 with default RoPE (the 270M and 1B); the 4B and larger scale their global layers' RoPE, which is not implemented")
        }
        if ropeScaling != nil { throw ModelError.invalidConfig("rope_scaling is set: Pare runs Gemma 3 with default RoPE (the 270M and 1B)") }
        finalLogitSoftcapping = try c.decodeIfPresent(Double.self, forKey: .finalLogitSoftcapping)
        attnLogitSoftcapping = try c.decodeIfPresent(Double.self, forKey: .attnLogitSoftcapping)
        useBidirectionalAttention = try c.decodeIfPresent(Bool.self, forKey: .useBidirectionalAttention)
        tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? true
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
        if family.isGemma {
            try encodeGemma(&c)
        } else {
            try c.encode(ropeTheta, forKey: .ropeTheta)
            try c.encodeIfPresent(ropeScaling, forKey: .ropeScaling)
            try c.encode(hiddenAct, forKey: .hiddenAct)
        }
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
        case .gemma3:
            try c.encode(attentionBias, forKey: .attentionBias)
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

    /// Gemma 3's keys as transformers 5 writes them: rope_parameters per layer type, and
    /// layer_types in full (after depth pruning it is not the every-6th pattern).
    private func encodeGemma(_ c: inout KeyedEncodingContainer<CodingKeys>) throws {
        try c.encode(hiddenActivation ?? "gelu_pytorch_tanh", forKey: .hiddenActivation)
        try c.encode(queryPreAttnScalar ?? Double(headDim), forKey: .queryPreAttnScalar)
        try c.encode(slidingWindow, forKey: .slidingWindow)
        try c.encode(layerTypes, forKey: .layerTypes)
        try c.encode(["full_attention": LayerTypeRope(ropeType: "default", ropeTheta: ropeTheta),
                      "sliding_attention": LayerTypeRope(ropeType: "default", ropeTheta: ropeLocalTheta ?? 10_000)], forKey: .ropeParameters)
        try c.encode(finalLogitSoftcapping, forKey: .finalLogitSoftcapping)
        try c.encode(attnLogitSoftcapping, forKey: .attnLogitSoftcapping)
        try c.encode(useBidirectionalAttention ?? false, forKey: .useBidirectionalAttention)
    }

    /// The family (validate() has checked that model_type names one).
    public var family: ModelFamily { ModelFamily(rawValue: modelType) ?? .llama }

    /// Biases on q/k/v: Qwen2 always, Llama and Qwen3 with attention_bias, Mistral never.
    public var qkvBias: Bool { family == .qwen2 || ([.llama, .qwen3, .gemma3].contains(family) && attentionBias) }
    /// Bias on o_proj: Llama, Qwen3 and Gemma 3 with attention_bias only.
    public var oBias: Bool { [.llama, .qwen3, .gemma3].contains(family) && attentionBias }
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
        case .gemma3: nil   // applied on the local layers, whatever the sequence's length
        }
    }

    /// The MLP's activation: SiLU (SwiGLU), or Gemma's tanh-approximated GELU (GeGLU).
    public var gatedActivation: GatedActivation { family.isGemma ? .geluTanh : .silu }

    /// Whether layer l is a local (sliding-window) layer.
    public func isLocalLayer(_ l: Int) -> Bool { layerTypes?[l] == "sliding_attention" }

    /// The attention window of layer l (nil: it sees every earlier position).
    public func attentionWindow(layer l: Int) -> Int? { family.isGemma && isLocalLayer(l) ? slidingWindow : nil }

    /// The attention scores' factor: 1/√head_dim, or Gemma's 1/√query_pre_attn_scalar.
    public var attentionScale: Float { Float(1 / (queryPreAttnScalar ?? Double(headDim)).squareRoot()) }

    /// The factor on the embedding rows: Gemma's √hidden (as transformers rounds it, to
    /// fp32), 1 otherwise.
    public var embeddingScale: Float { family.isGemma ? Float(Double(hiddenSize).squareRoot()) : 1 }

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
        if family.isGemma {
            try validateGemma()
        } else {
            guard hiddenAct == "silu" else { throw fail("hidden_act is \"\(hiddenAct)\"; only \"silu\" (SwiGLU) is supported") }
        }
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

    /// What Pare does not run in a Gemma 3 config, by key.
    private func validateGemma() throws {
        func fail(_ m: String) -> ModelError { .invalidConfig(m) }
        guard hiddenActivation == "gelu_pytorch_tanh" else {
            throw fail("hidden_activation is \"\(hiddenActivation ?? "")\"; Gemma 3 runs \"gelu_pytorch_tanh\" (GeGLU)")
        }
        if let s = finalLogitSoftcapping { throw fail("final_logit_softcapping is \(s): softcapped logits (Gemma 2) are not implemented; Gemma 3 sets null") }
        if let s = attnLogitSoftcapping { throw fail("attn_logit_softcapping is \(s): softcapped attention (Gemma 2) is not implemented; Gemma 3 sets null") }
        if useBidirectionalAttention == true { throw fail("use_bidirectional_attention is true (an embedding model); Pare runs causal decoders") }
        guard let types = layerTypes, types.count == numHiddenLayers,
              types.allSatisfy({ $0 == "sliding_attention" || $0 == "full_attention" }) else {
            throw fail("layer_types must list \(numHiddenLayers) entries, each \"sliding_attention\" or \"full_attention\"; got \(layerTypes.map { "\($0)" } ?? "none")")
        }
        if types.contains("sliding_attention") {
            guard let w = slidingWindow, w > 0 else { throw fail("sliding_window must be positive where layer_types has sliding_attention layers") }
        }
        guard (queryPreAttnScalar ?? 1) > 0 else { throw fail("query_pre_attn_scalar must be positive") }
    }

    /// Gemma 3's layer pattern where nothing states it (transformers' default, and what
    /// llama.cpp's gemma3 fixes): every 6th layer global, the others local.
    public static func gemmaLayerTypes(_ layers: Int) -> [String] {
        (0..<layers).map { ($0 + 1) % 6 == 0 ? "full_attention" : "sliding_attention" }
    }

    /// The query_pre_attn_scalar llama.cpp's gemma3 assumes: head_dim, or hidden / heads for the
    /// 62-layer 27B.
    public var llamaCppGemmaQueryScalar: Double {
        Double(numHiddenLayers == 62 ? hiddenSize / numAttentionHeads : headDim)
    }

    /// Rotary inverse frequencies of the local (sliding-window) layers: Gemma 3's
    /// rope_parameters.sliding_attention; nil for every other family.
    public func ropeLocalInvFreq() -> [Float]? {
        family.isGemma ? RopeTable.defaultInvFreq(headDim: headDim, theta: ropeLocalTheta ?? 10_000) : nil
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
