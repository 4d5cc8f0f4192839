import PareCore
import PareFormats

extension LlamaConfig {
    /// The Hugging Face config equivalent to a llama.cpp GGUF's hyper-parameters.
    public init(gguf g: GGUFFile) throws {
        let arch = try g.string("general.architecture")
        guard var family = ModelFamily.fromGGUF(arch) else {
            throw FormatError.unsupported(path: g.path, message: ModelFamily.unsupportedMessage(arch, key: "general.architecture"))
        }
        if g.tensors["rope_freqs.weight"] != nil {
            throw FormatError.unsupported(path: g.path, message: "the model uses per-dimension rope frequency factors (rope_freqs.weight, Llama 3.1 style), which Pare cannot read from GGUF yet; convert the Hugging Face checkpoint instead")
        }
        // q/k/v biases without an o bias are Qwen2's, whatever architecture name a converter wrote.
        if family == .llama, g.tensors["blk.0.attn_q.bias"] != nil, g.tensors["blk.0.attn_output.bias"] == nil { family = .qwen2 }
        // Hyper-parameters are prefixed by the architecture name ("llama.block_count", "qwen2.block_count").
        func key(_ k: String) -> String { arch + "." + k }
        let hidden = try g.int(key("embedding_length")), heads = try g.int(key("attention.head_count"))
        let vocab = try g.metadata[key("vocab_size")]?.int ?? g.strings("tokenizer.ggml.tokens").count
        self.init(vocabSize: vocab, hiddenSize: hidden, intermediateSize: try g.int(key("feed_forward_length")),
                  numHiddenLayers: try g.int(key("block_count")), numAttentionHeads: heads,
                  numKeyValueHeads: g.metadata[key("attention.head_count_kv")]?.int ?? heads,
                  headDim: g.metadata[key("attention.key_length")]?.int ?? hidden / heads,
                  maxPositionEmbeddings: g.metadata[key("context_length")]?.int ?? 2048,
                  // GGUF stores fp32; keep the shortest decimal that round-trips it (1e-05, as HF writes).
                  rmsNormEps: Double("\(Float(try g.double(key("attention.layer_norm_rms_epsilon"))))") ?? 1e-5,
                  ropeTheta: g.metadata[key("rope.freq_base")]?.double ?? 10_000,
                  tieWordEmbeddings: g.tensors["output.weight"] == nil,
                  attentionBias: [.llama, .qwen3].contains(family) && g.tensors["blk.0.attn_q.bias"] != nil)
        modelType = family.rawValue
        architectures = [family.hfArchitecture]
        if family == .qwen2 || family == .qwen3 {
            // llama.cpp's qwen2 and qwen3 run full attention; Qwen2.5's and Qwen3's configs say
            // use_sliding_window false.
            useSlidingWindow = false
        }
        bosTokenId = g.metadata["tokenizer.ggml.bos_token_id"]?.int.map { .one($0) }
        eosTokenId = g.metadata["tokenizer.ggml.eos_token_id"]?.int.map { .one($0) }
        if let rot = g.metadata[key("rope.dimension_count")]?.int, rot != headDim {
            throw FormatError.unsupported(path: g.path, message: "rope.dimension_count \(rot) differs from the head size \(headDim); partial rotary embeddings are not supported")
        }
        if let t = g.metadata[key("rope.scaling.type")]?.string, t != "none" {
            throw FormatError.unsupported(path: g.path, message: "rope scaling type \"\(t)\" in GGUF is not supported")
        }
        if let w = g.metadata[key("attention.sliding_window")]?.int, w > 0 {
            slidingWindow = w
        }
        if family == .gemma3 { setGemmaFromGGUF() }
    }

    /// What llama.cpp's gemma3 fixes instead of storing (llama-model.cpp): every 6th layer
    /// global, the others local with RoPE base 10,000, and the attention scale 1/√head_dim
    /// (1/√(hidden/heads) for the 62-layer 27B); transformers' GGUF loader reads the same.
    private mutating func setGemmaFromGGUF() {
        hiddenActivation = "gelu_pytorch_tanh"
        layerTypes = Self.gemmaLayerTypes(numHiddenLayers)
        ropeLocalTheta = 10_000
        queryPreAttnScalar = llamaCppGemmaQueryScalar
        if slidingWindow == nil { slidingWindow = 4096 }
    }
}

extension LlamaModel {
    /// Loads a llama.cpp GGUF: config from the metadata, every tensor dequantised to fp32,
    /// q/k rows put back into Hugging Face's rotary layout where llama.cpp permuted them.
    public static func load(gguf g: GGUFFile) throws -> LlamaModel {
        let config = try LlamaConfig(gguf: g)
        let model = try LlamaModel(config: config)
        // llama.cpp's "llama" rotates adjacent pairs, so its converter permuted q/k; "qwen2" and
        // "qwen3" did not.
        let permuted = try g.string("general.architecture") == "llama"
        let gemma = config.family.isGemma
        for e in model.layout.entries {
            guard let name = WeightNames.gguf(fromHF: e.name, gemma: gemma) else { preconditionFailure("no GGUF name for \(e.name)") }
            let info = try g.info(name)
            guard info.torchShape == e.shape || (e.shape.count == 1 && info.count == e.count) else {
                throw FormatError.corrupt(path: g.path, message: "tensor \"\(name)\" has shape \(info.torchShape) but the metadata implies \(e.shape)")
            }
            let view = model.parameter(e.name)!
            try g.dequantize(name, into: view)
            if permuted,
               let heads = WeightNames.permutedHeads(hfName: e.name, queryHeads: config.numAttentionHeads, kvHeads: config.numKeyValueHeads) {
                WeightNames.unpermuteRows(view.baseAddress!, heads: heads, rows: e.shape[0], cols: e.shape.count > 1 ? e.shape[1] : 1)
            }
            // llama.cpp's converter stores Gemma's norm weights as 1 + w, the factor itself.
            if gemma, e.name.hasSuffix("norm.weight") { for i in view.indices { view[i] -= 1 } }
        }
        let used = Set(model.layout.entries.compactMap { WeightNames.gguf(fromHF: $0.name, gemma: gemma) })
        try StrictLoading.checkUnused(g.tensors.keys.filter { !used.contains($0) }, path: g.path, configName: "the GGUF metadata")
        try StrictLoading.checkFinite(model, path: g.path)
        return model
    }
}
