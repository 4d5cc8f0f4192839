import PareCore
import PareFormats

/// Writes a model and its tokenizer as a GGUF that llama.cpp runs (its "llama" architecture
/// for Llama and Mistral, "qwen2" and "qwen3" for the Qwens).
public enum GGUFExport {
    public enum TensorType: String, CaseIterable, Sendable {
        case f32, f16, q8_0, q4_0
        /// Values per quantization block: a matrix's rows must be a multiple of it.
        public var blockElements: Int { self == .q8_0 || self == .q4_0 ? 32 : 1 }
    }

    public static func write(_ model: LlamaModel, tokenizer t: Tokenizer, type: TensorType, name: String, to path: String) throws {
        model.requireF32Matrices("export")
        try checkLoadable(model.config, as: type, path)
        var w = GGUFWriter()
        addHyperparameters(model.config, type: type, name: name, to: &w)
        addTokenizer(t, vocabSize: model.config.vocabSize, to: &w)
        addTensors(model, type: type, to: &w)
        try w.write(to: path)
    }

    /// Refuses what llama.cpp would not load (or this exporter cannot write), saying what to do.
    static func checkLoadable(_ c: LlamaConfig, as type: TensorType, _ path: String) throws {
        if c.family.isGemma { try checkGemmaLoadable(c, path) }
        guard c.family.isGemma || c.hiddenAct == "silu" else {
            throw FormatError.unsupported(path: path, message: "hidden_act is \(c.hiddenAct); llama.cpp's llama, qwen2 and qwen3 architectures use SiLU")
        }
        let arch = c.family.ggufArchitecture
        let problems = LoadableShape(c).problems(for: .init(family: c.family, qkvBias: c.qkvBias, ggufBlock: type.blockElements))
        if !problems.isEmpty {
            let fit = (1...c.numAttentionHeads).reversed().first { $0 * c.headDim <= c.hiddenSize && $0 % c.numKeyValueHeads == 0 } ?? 1
            let hint = c.qkvBias ? " Width-prune so that they match, e.g. --num-attention-heads \(fit) --hidden-size \(fit * c.headDim)" : ""
            throw FormatError.unsupported(path: path, message: "llama.cpp could not load this model as \(type.rawValue): \(problems.joined(separator: "; ")).\(hint)\(type.blockElements > 1 ? " Or export as f16." : "")")
        }
        if let s = c.ropeScaling, s.ropeType == "llama3" {
            throw FormatError.unsupported(path: path, message: "Llama 3.1 rope scaling needs a rope_freqs tensor, which this exporter does not write yet")
        }
    }

    /// llama.cpp's gemma3 fixes what transformers' config states (llama-model.cpp): every 6th
    /// layer global and the rest local, the local RoPE base 10,000, the attention scale from
    /// head_dim, no biases. A model that differs (a depth prune that broke the pattern) would
    /// load and compute something else, so it is refused, saying which.
    static func checkGemmaLoadable(_ c: LlamaConfig, _ path: String) throws {
        let expected = LlamaConfig.gemmaLayerTypes(c.numHiddenLayers)
        var problems: [String] = []
        if c.layerTypes != expected {
            let globals = (c.layerTypes ?? []).indices.filter { !c.isLocalLayer($0) }
            problems.append("its global layers are \(globals) and llama.cpp's gemma3 makes every 6th layer global (\(expected.indices.filter { expected[$0] == "full_attention" })); drop whole groups of 6 layers when depth-pruning a Gemma 3 for llama.cpp")
        }
        if (c.ropeLocalTheta ?? 10_000) != 10_000 { problems.append("its local RoPE base is \(c.ropeLocalTheta!) and llama.cpp's gemma3 fixes 10000") }
        let scalar = c.llamaCppGemmaQueryScalar
        if (c.queryPreAttnScalar ?? scalar) != scalar { problems.append("query_pre_attn_scalar is \(c.queryPreAttnScalar!) and llama.cpp's gemma3 uses \(Int(scalar)) for \(c.numHiddenLayers) layers") }
        if c.attentionBias { problems.append("attention_bias is true and llama.cpp's gemma3 reads no biases") }
        if !problems.isEmpty {
            throw FormatError.unsupported(path: path, message: "llama.cpp could not run this Gemma 3 as it is: \(problems.joined(separator: "; "))")
        }
    }

    /// The general.* and ARCH.* keys.
    static func addHyperparameters(_ c: LlamaConfig, type: TensorType, name: String, to w: inout GGUFWriter) {
        let arch = c.family.ggufArchitecture
        func key(_ k: String) -> String { arch + "." + k }
        let fileType: UInt32 = switch type { case .f32: 0; case .f16: 1; case .q4_0: 2; case .q8_0: 7 }
        w.add("general.architecture", .string(arch))
        w.add("general.type", .string("model"))
        w.add("general.name", .string(name))
        w.add("general.file_type", .u32(fileType))
        w.add("general.quantization_version", .u32(2))
        // Mistral's window becomes the context: llama.cpp's llama architecture has no window.
        w.add(key("context_length"), .u32(UInt32(c.usablePositions)))
        w.add(key("embedding_length"), .u32(UInt32(c.hiddenSize)))
        w.add(key("block_count"), .u32(UInt32(c.numHiddenLayers)))
        w.add(key("feed_forward_length"), .u32(UInt32(c.intermediateSize)))
        w.add(key("attention.head_count"), .u32(UInt32(c.numAttentionHeads)))
        w.add(key("attention.head_count_kv"), .u32(UInt32(c.numKeyValueHeads)))
        // Written always: after width pruning heads × head_dim no longer equals the hidden size.
        w.add(key("attention.key_length"), .u32(UInt32(c.headDim)))
        w.add(key("attention.value_length"), .u32(UInt32(c.headDim)))
        w.add(key("rope.dimension_count"), .u32(UInt32(c.headDim)))
        w.add(key("rope.freq_base"), .f32(Float(c.ropeTheta)))
        w.add(key("attention.layer_norm_rms_epsilon"), .f32(Float(c.rmsNormEps)))
        w.add(key("vocab_size"), .u32(UInt32(c.vocabSize)))
        if c.family.isGemma, let window = c.slidingWindow { w.add(key("attention.sliding_window"), .u32(UInt32(window))) }
    }

    /// The tokenizer.* keys, its vocabulary padded to the embedding's `vocabSize` rows.
    static func addTokenizer(_ t: Tokenizer, vocabSize: Int, to w: inout GGUFWriter) {
        // Tokenizer: byte-level BPE as llama.cpp's "gpt2" model with its pre-tokenizer name, or
        // SentencePiece BPE as its "llama" model (scores instead of merges).
        var tokens = t.model.tokens
        if tokens.count < vocabSize { tokens += (tokens.count..<vocabSize).map { "[PAD\($0)]" } }
        let added = Dictionary(t.addedTokens.map { (Int($0.id), $0) }, uniquingKeysWith: { a, _ in a })
        let byteTokens = Set(t.sentencePiece?.byteTokens.filter { $0 >= 0 }.map(Int.init) ?? [])
        w.add("tokenizer.ggml.model", .string(t.sentencePiece == nil ? "gpt2" : "llama"))
        w.add("tokenizer.ggml.pre", .string(t.sentencePiece == nil ? t.preTokenizer.rawValue : "default"))
        w.add("tokenizer.ggml.tokens", .array(tokens.map { .string($0) }))
        w.add("tokenizer.ggml.token_type", .array(tokens.indices.map { i in
            if let a = added[i] { return .i32(a.special ? 3 : 4) }
            if i >= t.vocabularySize { return .i32(5) }
            if byteTokens.contains(i) { return .i32(6) }   // a byte-fallback token <0xNN>
            return .i32(1)
        }))
        if let spm = t.sentencePiece {
            // llama.cpp merges the pair whose token scores highest; without the file's scores,
            // −(rank of the first merge that makes a token) orders them as the merges do.
            var scores = spm.scores ?? []
            if scores.count != spm.tokens.count {
                scores = [Float](repeating: 0, count: spm.tokens.count)
                var seen = Set<Int32>()
                for (rank, (a, b)) in spm.merges.enumerated() {
                    if let id = spm.vocab[Array((a + b).utf8)], seen.insert(id).inserted { scores[Int(id)] = -Float(rank) }
                }
            }
            scores += [Float](repeating: 0, count: tokens.count - scores.count)
            w.add("tokenizer.ggml.scores", .array(scores.map { .f32($0) }))
        } else {
            w.add("tokenizer.ggml.merges", .array(t.model.merges.map { .string("\($0.0) \($0.1)") }))
        }
        if let b = t.bosTokenId { w.add("tokenizer.ggml.bos_token_id", .u32(UInt32(b))) }
        if let e = t.eosTokenId { w.add("tokenizer.ggml.eos_token_id", .u32(UInt32(e))) }
        if let u = t.unkTokenId { w.add("tokenizer.ggml.unknown_token_id", .u32(UInt32(u))) }
        if let p = t.padTokenId { w.add("tokenizer.ggml.padding_token_id", .u32(UInt32(p))) }
        w.add("tokenizer.ggml.add_bos_token", .bool(t.addsBosToken))
        w.add("tokenizer.ggml.add_space_prefix", .bool(t.sentencePiece.map { $0.prepend != .never } ?? false))
        if let ct = t.chatTemplate { w.add("tokenizer.chat_template", .string(ct)) }
    }

    /// Every parameter under its GGUF name: matrices in `type`, 1-D tensors in F32; q and k
    /// rows permuted for llama.cpp's "llama" rotation.
    static func addTensors(_ model: LlamaModel, type: TensorType, to w: inout GGUFWriter) {
        let c = model.config, arch = c.family.ggufArchitecture, gemma = c.family.isGemma
        for e in model.layout.entries {
            guard let gname = WeightNames.gguf(fromHF: e.name, gemma: gemma) else { preconditionFailure("no GGUF name for \(e.name)") }
            var values = Array(UnsafeBufferPointer(start: model.params.pointer + e.offset, count: e.count))
            // llama.cpp multiplies by a Gemma norm's weight as stored: 1 + w.
            if gemma, e.name.hasSuffix("norm.weight") { values = values.map { $0 + 1 } }
            if arch == "llama",   // llama.cpp's "llama" rotates adjacent pairs; "qwen2"/"qwen3" rotate halves, as HF does
               let heads = WeightNames.permutedHeads(hfName: e.name, queryHeads: c.numAttentionHeads, kvHeads: c.numKeyValueHeads) {
                values.withUnsafeMutableBufferPointer {
                    WeightNames.permuteRows($0.baseAddress!, heads: heads, rows: e.shape[0], cols: e.shape.count > 1 ? e.shape[1] : 1)
                }
            }
            let ne = Array(e.shape.reversed())
            // llama.cpp keeps 1-D tensors (norms, biases) in F32.
            let matrixType: GGMLType = switch type { case .f32: .f32; case .f16: .f16; case .q8_0: .q8_0; case .q4_0: .q4_0 }
            let tt: GGMLType = e.shape.count == 1 ? .f32 : matrixType
            precondition(ne[0] % tt.block.elements == 0, "LoadableShape checked the row lengths")
            var bytes: [UInt8] = []
            bytes.reserveCapacity(tt.byteCount(elements: values.count))
            values.withUnsafeBufferPointer { v in
                switch tt {
                case .f32: bytes = Array(UnsafeRawBufferPointer(v))
                case .f16: Quantize.f16(v.baseAddress!, count: v.count, into: &bytes)
                case .q8_0: Quantize.q8_0(v.baseAddress!, count: v.count, into: &bytes)
                case .q4_0: Quantize.q4_0(v.baseAddress!, count: v.count, into: &bytes)
                default: break
                }
            }
            w.tensors.append((gname, ne, tt, bytes))
        }
    }
}
