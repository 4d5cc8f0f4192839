extension Tokenizer {
    /// The tokenizer stored in a GGUF's metadata (`tokenizer.ggml.*`).
    public convenience init(gguf g: GGUFFile) throws {
        let kind = try g.string("tokenizer.ggml.model")
        if kind == "llama" { try self.init(sentencePieceGGUF: g); return }
        guard kind == "gpt2" else {
            throw FormatError.unsupported(path: g.path, message: "tokenizer.ggml.model is \"\(kind)\"; Pare reads byte-level BPE (\"gpt2\") and SentencePiece BPE (\"llama\") tokenizers")
        }
        let preName = g.metadata["tokenizer.ggml.pre"]?.string ?? "gpt2"
        guard let pre = PreTokenizerKind(ggufName: preName) else {
            throw FormatError.unsupported(path: g.path, message: "pre-tokenizer \"\(preName)\" (tokenizer.ggml.pre) is not supported; Pare implements \"smollm\", \"gpt2\", \"default\", \"llama-bpe\" (Llama 3) and \"qwen2\"")
        }
        let tokens = try g.strings("tokenizer.ggml.tokens")
        let merges = try g.strings("tokenizer.ggml.merges").enumerated().map { (i, m) -> (String, String) in
            guard let sp = m.firstIndex(of: " ") else {
                throw FormatError.corrupt(path: g.path, message: "merge \(i) \"\(m)\" is not two tokens separated by a space")
            }
            return (String(m[..<sp]), String(m[m.index(after: sp)...]))
        }
        let added = Tokenizer.addedTokens(g, tokens)
        let model: BPEModel
        // llama.cpp (like tiktoken) takes a piece that is a whole token as it is for Llama 3.
        do { model = try BPEModel(tokens: tokens, merges: merges, ignoreMerges: pre == .llama3) } catch {
            throw FormatError.corrupt(path: g.path, message: "\(error)")
        }
        func id(_ key: String) -> Int32? { g.metadata[key]?.int.map(Int32.init) }
        self.init(model: model, preTokenizer: pre, addedTokens: added,
                  bos: id("tokenizer.ggml.bos_token_id"), eos: id("tokenizer.ggml.eos_token_id"),
                  unk: id("tokenizer.ggml.unknown_token_id"), pad: id("tokenizer.ggml.padding_token_id"),
                  chatTemplate: g.metadata["tokenizer.chat_template"]?.string,
                  addsBos: g.metadata["tokenizer.ggml.add_bos_token"]?.bool ?? false)
    }

    /// A SentencePiece BPE vocabulary (`tokenizer.ggml.model = llama`): tokens and scores, merges
    /// generated from the scores (as transformers does; llama.cpp ranks pairs by the same
    /// scores), the prefix space as `tokenizer.ggml.add_space_prefix` says (default true).
    convenience init(sentencePieceGGUF g: GGUFFile) throws {
        let tokens = try g.strings("tokenizer.ggml.tokens")
        guard let scores = g.metadata["tokenizer.ggml.scores"]?.array?.map({ Float($0.double ?? 0) }), scores.count == tokens.count else {
            throw FormatError.corrupt(path: g.path, message: "tokenizer.ggml.scores is missing or not one score per token; a SentencePiece vocabulary needs them")
        }
        let merges: [(String, String)]
        if let listed = try? g.strings("tokenizer.ggml.merges") {
            merges = listed.compactMap { m in m.firstIndex(of: " ").map { (String(m[..<$0]), String(m[m.index(after: $0)...])) } }
        } else {
            merges = SentencePieceModel.mergesFromScores(tokens: tokens, scores: scores)
        }
        let prefix = g.metadata["tokenizer.ggml.add_space_prefix"]?.bool ?? true
        func id(_ key: String) -> Int32? { g.metadata[key]?.int.map(Int32.init) }
        let spm: SentencePieceModel
        do {
            spm = try SentencePieceModel(tokens: tokens, merges: merges, scores: scores, prepend: prefix ? .first : .never,
                                         stripLeadingSpace: prefix, unkId: id("tokenizer.ggml.unknown_token_id"))
        } catch { throw FormatError.corrupt(path: g.path, message: "\(error)") }
        let added = Tokenizer.addedTokens(g, tokens)
        self.init(model: try BPEModel(tokens: tokens, merges: []), preTokenizer: .gpt2, addedTokens: added,
                  bos: id("tokenizer.ggml.bos_token_id"), eos: id("tokenizer.ggml.eos_token_id"),
                  unk: id("tokenizer.ggml.unknown_token_id"), pad: id("tokenizer.ggml.padding_token_id"),
                  chatTemplate: g.metadata["tokenizer.chat_template"]?.string, sentencePiece: spm,
                  addsBos: g.metadata["tokenizer.ggml.add_bos_token"]?.bool ?? false)
    }

    /// The added tokens of llama.cpp's token types: 3 = control (special), 4 = user-defined
    /// (added, not special).
    static func addedTokens(_ g: GGUFFile, _ tokens: [String]) -> [AddedToken] {
        let types = g.metadata["tokenizer.ggml.token_type"]?.array?.map { $0.int ?? 1 } ?? []
        return types.enumerated().compactMap { i, t in
            (t == 3 || t == 4) && i < tokens.count ? AddedToken(id: Int32(i), content: tokens[i], special: t == 3) : nil
        }
    }
}
