import PareCore

/// One named tensor inside a flat buffer. Names are the Hugging Face checkpoint's.
public struct ParameterEntry: Sendable, Equatable {
    public let name: String
    public let shape: [Int]          // PyTorch order, e.g. (O, I) for a Linear weight
    public let offset: Int           // in floats, into the flat buffer
    public var count: Int { shape.reduce(1, *) }
    /// Norm weights and biases are exempt from weight decay (as in Megatron and nanoGPT).
    public var decays: Bool { shape.count >= 2 }
}

/// Offsets of one decoder layer's tensors in the flat parameter (and gradient) buffer.
public struct LayerOffsets: Sendable {
    public var inputNorm: Int           // (C)
    public var q: Int, k: Int, v: Int   // (H·D, C), (KV·D, C), (KV·D, C)
    public var qBias: Int?, kBias: Int?, vBias: Int?
    public var o: Int                   // (C, H·D)
    public var oBias: Int?
    public var qNorm: Int?, kNorm: Int? // (D) each: Qwen3's per-head norms, shared by every head
    public var postNorm: Int            // (C) the MLP's input norm (Gemma's pre_feedforward_layernorm)
    public var attnOutNorm: Int?        // (C) Gemma: norm of the attention output (its post_attention_layernorm)
    public var mlpOutNorm: Int?         // (C) Gemma: norm of the MLP output (post_feedforward_layernorm)
    public var gate: Int, up: Int       // (F, C)
    public var gateBias: Int?, upBias: Int?
    public var down: Int                // (C, F)
    public var downBias: Int?
}

/// The size table behind the flat parameter buffer: every tensor of a Llama model in
/// checkpoint order, with typed offsets for the hot paths. Gradients and Adam moments use
/// the same table, so the optimizer and checkpointing are loops over `entries`.
public struct ParameterLayout: Sendable {
    public private(set) var entries: [ParameterEntry] = []
    public private(set) var index: [String: Int] = [:]
    public private(set) var count = 0
    public private(set) var layers: [LayerOffsets] = []
    public private(set) var embed = 0      // (V, C)
    public private(set) var finalNorm = 0  // (C)
    public private(set) var lmHead = 0     // (V, C); equals `embed` when tied

    public init(config c: LlamaConfig) {
        let C = c.hiddenSize, F = c.intermediateSize, D = c.headDim
        let HD = c.numAttentionHeads * D, KVD = c.numKeyValueHeads * D
        embed = add("model.embed_tokens.weight", [c.vocabSize, C])
        for l in 0..<c.numHiddenLayers {
            let p = "model.layers.\(l)."
            let inputNorm = add(p + "input_layernorm.weight", [C])
            let q = add(p + "self_attn.q_proj.weight", [HD, C])
            let qb = c.qkvBias ? add(p + "self_attn.q_proj.bias", [HD]) : nil
            let k = add(p + "self_attn.k_proj.weight", [KVD, C])
            let kb = c.qkvBias ? add(p + "self_attn.k_proj.bias", [KVD]) : nil
            let v = add(p + "self_attn.v_proj.weight", [KVD, C])
            let vb = c.qkvBias ? add(p + "self_attn.v_proj.bias", [KVD]) : nil
            let o = add(p + "self_attn.o_proj.weight", [C, HD])
            let ob = c.oBias ? add(p + "self_attn.o_proj.bias", [C]) : nil
            let qn = c.headNorms ? add(p + "self_attn.q_norm.weight", [D]) : nil
            let kn = c.headNorms ? add(p + "self_attn.k_norm.weight", [D]) : nil
            // Gemma normalises the attention output under Llama's name for the MLP's input
            // norm, and calls the latter pre_feedforward_layernorm.
            let gemma = c.family.isGemma
            let attnOutNorm = gemma ? add(p + "post_attention_layernorm.weight", [C]) : nil
            let postNorm = add(p + (gemma ? "pre_feedforward_layernorm.weight" : "post_attention_layernorm.weight"), [C])
            let gate = add(p + "mlp.gate_proj.weight", [F, C])
            let gb = c.mlpBiases ? add(p + "mlp.gate_proj.bias", [F]) : nil
            let up = add(p + "mlp.up_proj.weight", [F, C])
            let ub = c.mlpBiases ? add(p + "mlp.up_proj.bias", [F]) : nil
            let down = add(p + "mlp.down_proj.weight", [C, F])
            let db = c.mlpBiases ? add(p + "mlp.down_proj.bias", [C]) : nil
            let mlpOutNorm = gemma ? add(p + "post_feedforward_layernorm.weight", [C]) : nil
            layers.append(LayerOffsets(inputNorm: inputNorm, q: q, k: k, v: v, qBias: qb, kBias: kb, vBias: vb,
                                       o: o, oBias: ob, qNorm: qn, kNorm: kn, postNorm: postNorm,
                                       attnOutNorm: attnOutNorm, mlpOutNorm: mlpOutNorm, gate: gate, up: up,
                                       gateBias: gb, upBias: ub, down: down, downBias: db))
        }
        finalNorm = add("model.norm.weight", [C])
        lmHead = c.tieWordEmbeddings ? embed : add("lm_head.weight", [c.vocabSize, C])
    }

    private mutating func add(_ name: String, _ shape: [Int]) -> Int {
        let e = ParameterEntry(name: name, shape: shape, offset: count)
        index[name] = entries.count
        entries.append(e)
        count += e.count
        return e.offset
    }

    public func entry(_ name: String) -> ParameterEntry? { index[name].map { entries[$0] } }
}
