import Foundation

/// Reading and writing Hugging Face `tokenizer.json` (+ `tokenizer_config.json`) for the
/// byte-level BPE family Pare implements. Anything outside that family is refused with a
/// message naming the part, rather than tokenized differently.
extension Tokenizer {
    public convenience init(directory: String) throws {
        try self.init(tokenizerJSON: directory + "/tokenizer.json", configDirectory: directory)
    }

    /// A tokenizer.json file; special-token names and the chat template come from the
    /// tokenizer_config.json in `configDirectory`, when there is one.
    public convenience init(tokenizerJSON path: String, configDirectory directory: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FormatError.io(path: path, message: "cannot read tokenizer.json; the model directory needs one")
        }
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let model = root["model"] as? [String: Any] else {
            throw FormatError.corrupt(path: path, message: "not a tokenizer.json (no \"model\" object)")
        }
        func bad(_ m: String) -> FormatError { .unsupported(path: path, message: m) }
        guard (model["type"] as? String) == "BPE" else { throw bad("model type \(model["type"] ?? "nil"); Pare reads BPE tokenizers") }
        let byteFallback = (model["byte_fallback"] as? Bool) == true
        var normalizer = TextNormalizer.none
        var pre = PreTokenizerKind.gpt2
        if !byteFallback {
            if let n = root["normalizer"], !(n is NSNull) {
                guard let type = (n as? [String: Any])?["type"] as? String, type == "NFC" else {
                    throw bad("normalizer \(String(describing: n).prefix(120)) is not one Pare implements (none, or NFC)")
                }
                normalizer = .nfc
            }
            pre = try Tokenizer.preTokenizerKind(root["pre_tokenizer"], path: path)
        }
        guard let vocab = model["vocab"] as? [String: Int] else { throw FormatError.corrupt(path: path, message: "model.vocab is missing") }
        var added: [AddedToken] = []
        for a in (root["added_tokens"] as? [[String: Any]]) ?? [] {
            guard let id = a["id"] as? Int, let content = a["content"] as? String else { continue }
            if (a["single_word"] as? Bool) == true { throw bad("added token \"\(content)\" is single_word, which Pare does not implement") }
            added.append(AddedToken(id: Int32(id), content: content, special: (a["special"] as? Bool) ?? false,
                                    lstrip: (a["lstrip"] as? Bool) ?? false, rstrip: (a["rstrip"] as? Bool) ?? false,
                                    normalized: (a["normalized"] as? Bool) ?? false))
        }
        // SentencePiece vocabularies hold canonically equivalent strings that a Swift dictionary
        // merges; their tokens come from the raw JSON text instead (VocabJSON).
        let pairs = byteFallback ? (VocabJSON.entries(data) ?? vocab.map { ($0.key, $0.value) }) : vocab.map { ($0.key, $0.value) }
        let size = max(pairs.map(\.1).max() ?? -1, added.map { Int($0.id) }.max() ?? -1) + 1
        var tokens = [String](repeating: "", count: size)
        for (t, i) in pairs where i >= 0 { tokens[i] = t }
        for a in added { tokens[Int(a.id)] = a.content }
        var merges: [(String, String)] = []
        for (i, m) in ((model["merges"] as? [Any]) ?? []).enumerated() {
            if let s = m as? String, let sp = s.firstIndex(of: " ") {
                merges.append((String(s[..<sp]), String(s[s.index(after: sp)...])))
            } else if let p = m as? [String], p.count == 2 {
                merges.append((p[0], p[1]))
            } else {
                throw FormatError.corrupt(path: path, message: "merge \(i) is neither \"A B\" nor [A, B]")
            }
        }
        if byteFallback, let raw = VocabJSON.merges(data) { merges = raw }
        let bpe: BPEModel
        var spm: SentencePieceModel? = nil
        do {
            if byteFallback {
                let prepend = try Tokenizer.sentencePiecePrepend(root, path: path)
                let decoders = ((root["decoder"] as? [String: Any])?["decoders"] as? [[String: Any]]) ?? []
                let strip = decoders.contains { ($0["type"] as? String) == "Strip" && ($0["content"] as? String) == " " && ($0["start"] as? Int ?? 0) == 1 }
                let unk = (model["unk_token"] as? String).flatMap { vocab[$0] }.map(Int32.init)
                spm = try SentencePieceModel(tokens: tokens, merges: merges, prepend: prepend, stripLeadingSpace: strip, unkId: unk)
                bpe = try BPEModel(tokens: tokens, merges: [])
            } else {
                bpe = try BPEModel(tokens: tokens, merges: merges, ignoreMerges: (model["ignore_merges"] as? Bool) ?? false)
            }
        } catch {
            throw FormatError.corrupt(path: path, message: "\(error)")
        }
        // Special-token names and the chat template live in tokenizer_config.json.
        var config: [String: Any] = [:]
        if let d = FileManager.default.contents(atPath: directory + "/tokenizer_config.json"),
           let c = try? JSONSerialization.jsonObject(with: d) as? [String: Any] { config = c }
        func special(_ key: String) -> Int32? {
            let v = config[key]
            let name = (v as? String) ?? ((v as? [String: Any])?["content"] as? String)
            return name.flatMap { n in added.first { $0.content == n }?.id ?? vocab[n].map(Int32.init) }
        }
        let bos = special("bos_token")
        self.init(model: bpe, preTokenizer: pre, normalizer: normalizer, addedTokens: added, bos: bos, eos: special("eos_token"),
                  unk: special("unk_token"), pad: special("pad_token"), chatTemplate: config["chat_template"] as? String, sentencePiece: spm,
                  addsBos: config["add_bos_token"] as? Bool
                      ?? bos.map { Tokenizer.postProcessorAddsFirst(root["post_processor"], token: bpe.tokens[Int($0)]) } ?? false)
    }

    /// Whether a tokenizer.json post-processor puts `token` before every single text: a
    /// TemplateProcessing whose `single` starts with it, alone or in a Sequence. It tells whether
    /// the tokenizer adds BOS when tokenizer_config has no add_bos_token (Llama 3's has none).
    static func postProcessorAddsFirst(_ processor: Any?, token: String) -> Bool {
        guard let p = processor as? [String: Any] else { return false }
        switch p["type"] as? String {
        case "Sequence":
            return ((p["processors"] as? [Any]) ?? []).contains { postProcessorAddsFirst($0, token: token) }
        case "TemplateProcessing":
            let first = (p["single"] as? [[String: Any]])?.first?["SpecialToken"] as? [String: Any]
            return first?["id"] as? String == token
        default:
            return false
        }
    }

    /// transformers adds BOS through tokenizer.json's post-processor (Gemma's and Llama 3's
    /// do): the TemplateProcessing that puts it first, for a tokenizer that adds it.
    func bosPostProcessor() -> [String: Any]? {
        guard addsBosToken, let bos = bosTokenId else { return nil }
        let name = model.tokens[Int(bos)]
        return ["type": "TemplateProcessing",
                "single": [["SpecialToken": ["id": name, "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]]],
                "pair": [["SpecialToken": ["id": name, "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]],
                         ["Sequence": ["id": "B", "type_id": 1]]],
                "special_tokens": [name: ["id": name, "ids": [Int(bos)], "tokens": [name]]]]
    }

    /// The prefix of a SentencePiece-style tokenizer.json: a Metaspace pre-tokenizer with its
    /// prepend_scheme (or the older add_prefix_space), or the older normalizer
    /// Sequence[Prepend("▁"), Replace(" ", "▁")] with no pre-tokenizer.
    static func sentencePiecePrepend(_ root: [String: Any], path: String) throws -> SentencePieceModel.Prepend {
        func bad(_ what: String) -> FormatError {
            .unsupported(path: path, message: "\(what) is not one Pare implements for a byte_fallback (SentencePiece-style) BPE: Metaspace(replacement ▁, split false), or normalizer Sequence[Prepend(▁), Replace(\" \", ▁)]")
        }
        let pre = root["pre_tokenizer"] as? [String: Any]
        let norm = root["normalizer"] as? [String: Any]
        if let pre {
            guard (pre["type"] as? String) == "Metaspace", (pre["replacement"] as? String) == "\u{2581}", (pre["split"] as? Bool ?? false) == false,
                  norm == nil else { throw bad("pre_tokenizer \(String(describing: pre).prefix(160)) with normalizer \(String(describing: norm).prefix(80))") }
            if let scheme = pre["prepend_scheme"] as? String {
                guard let p = SentencePieceModel.Prepend(rawValue: scheme), p != .normalizer else { throw bad("prepend_scheme \(scheme)") }
                return p
            }
            return (pre["add_prefix_space"] as? Bool ?? true) ? .always : .never
        }
        guard let norm else { return .never }
        let steps = (norm["normalizers"] as? [[String: Any]]) ?? []
        let isPrepend = steps.count == 2 && (steps[0]["type"] as? String) == "Prepend" && (steps[0]["prepend"] as? String) == "\u{2581}"
            && (steps[1]["type"] as? String) == "Replace" && ((steps[1]["pattern"] as? [String: Any])?["String"] as? String) == " "
            && (steps[1]["content"] as? String) == "\u{2581}"
        guard (norm["type"] as? String) == "Sequence", isPrepend else { throw bad("normalizer \(String(describing: norm).prefix(160))") }
        return .normalizer
    }

    static func preTokenizerKind(_ node: Any?, path: String) throws -> PreTokenizerKind {
        func bad(_ what: String? = nil) -> FormatError {
            .unsupported(path: path, message: what ?? "pre_tokenizer \(String(describing: node).prefix(200)) is not one Pare implements (ByteLevel; Sequence[Digits(individual_digits), ByteLevel]; Sequence[Split(the Llama 3 or Qwen2 pattern), ByteLevel(use_regex: false)])")
        }
        guard let n = node as? [String: Any], let type = n["type"] as? String else { throw bad() }
        func isByteLevel(_ x: [String: Any], regex: Bool) -> Bool {
            (x["type"] as? String) == "ByteLevel" && (x["use_regex"] as? Bool ?? true) == regex && !(x["add_prefix_space"] as? Bool ?? false)
        }
        if isByteLevel(n, regex: true) { return .gpt2 }
        guard type == "Sequence", let list = n["pretokenizers"] as? [[String: Any]], list.count == 2 else { throw bad() }
        if (list[0]["type"] as? String) == "Digits", (list[0]["individual_digits"] as? Bool) == true, isByteLevel(list[1], regex: true) {
            return .smollm
        }
        if (list[0]["type"] as? String) == "Split", isByteLevel(list[1], regex: false) {
            let split = list[0]
            guard let pattern = (split["pattern"] as? [String: Any])?["Regex"] as? String else { throw bad() }
            guard let kind = PreTokenizerKind.allCases.first(where: { $0.splitPattern == pattern }) else {
                throw bad("pre_tokenizer splits by the regex \(pattern), which Pare has no matcher for; Pare implements the GPT-2, SmolLM, Llama 3 and Qwen2 patterns")
            }
            guard (split["behavior"] as? String)?.lowercased() == "isolated", (split["invert"] as? Bool ?? false) == false else {
                throw bad("pre_tokenizer Split has behavior \(split["behavior"] ?? "nil"), invert \(split["invert"] ?? "nil"); Pare implements Isolated, not inverted")
            }
            return kind
        }
        throw bad()
    }

    /// `tokenizer.json`, `tokenizer_config.json` and `special_tokens_map.json` that
    /// `AutoTokenizer.from_pretrained` loads as this same tokenizer.
    public func hfFiles(modelMaxLength: Int) throws -> [String: Data] {
        let byteLevel: [String: Any] = ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true]
        let byteLevelPost: [String: Any] = ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true]
        let pre: [String: Any] = switch preTokenizer {
        case .smollm: ["type": "Sequence", "pretokenizers": [["type": "Digits", "individual_digits": true], byteLevel]]
        case .gpt2: byteLevel
        case .llama3, .qwen2:
            ["type": "Sequence", "pretokenizers": [
                ["type": "Split", "pattern": ["Regex": preTokenizer.splitPattern!], "behavior": "Isolated", "invert": false],
                ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false]]]
        }
        var vocab: [String: Int] = [:]
        let addedIds = Set(addedTokens.map(\.id))
        for (i, t) in model.tokens.enumerated() where !addedIds.contains(Int32(i)) || model.vocab[t] == Int32(i) { vocab[t] = i }
        var json: [String: Any] = [
            "version": "1.0", "truncation": NSNull(), "padding": NSNull(),
            "added_tokens": addedTokens.map { ["id": Int($0.id), "content": $0.content, "single_word": false, "lstrip": $0.lstrip,
                                               "rstrip": $0.rstrip, "normalized": $0.normalized, "special": $0.special] },
            "normalizer": normalizer == .nfc ? ["type": "NFC"] as Any : NSNull(),
            "pre_tokenizer": pre,
            // Llama 3's layout: ByteLevel's offsets, then BOS where the tokenizer adds it.
            "post_processor": bosPostProcessor().map { ["type": "Sequence", "processors": [byteLevelPost, $0]] as [String: Any] } ?? byteLevelPost,
            "decoder": ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true],
            "model": ["type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "continuing_subword_prefix": NSNull(),
                      "end_of_word_suffix": NSNull(), "fuse_unk": false, "byte_fallback": false, "ignore_merges": model.ignoreMerges,
                      "vocab": vocab, "merges": model.merges.map { "\($0.0) \($0.1)" }] as [String: Any],
        ]
        let vocabPlaceholder = "__PARE_VOCAB_OBJECT__"
        var vocabText: String? = nil
        if let spm = sentencePiece {
            // SentencePiece-style: spaces to ▁ by Metaspace (or the older normalizer), byte fallback.
            // The vocabulary goes in as raw JSON text (see VocabJSON): a [String: Int] would merge
            // canonically equivalent tokens.
            let v = spm.tokens.enumerated().filter { spm.vocab[Array($0.element.utf8)] == Int32($0.offset) }.map { ($0.element, $0.offset) }
            vocabText = VocabJSON.text(v)
            if spm.prepend == .normalizer {
                json["normalizer"] = ["type": "Sequence", "normalizers": [["type": "Prepend", "prepend": "\u{2581}"],
                                                                         ["type": "Replace", "pattern": ["String": " "], "content": "\u{2581}"]]]
                json["pre_tokenizer"] = NSNull()
            } else {
                json["normalizer"] = NSNull()
                json["pre_tokenizer"] = ["type": "Metaspace", "replacement": "\u{2581}", "prepend_scheme": spm.prepend.rawValue, "split": false]
            }
            var decoders: [[String: Any]] = [["type": "Replace", "pattern": ["String": "\u{2581}"], "content": " "], ["type": "ByteFallback"], ["type": "Fuse"]]
            if spm.stripLeadingSpace { decoders.append(["type": "Strip", "content": " ", "start": 1, "stop": 0]) }
            json["decoder"] = ["type": "Sequence", "decoders": decoders]
            json["post_processor"] = bosPostProcessor() ?? NSNull()
            json["model"] = ["type": "BPE", "dropout": NSNull(), "unk_token": spm.unkId.map { spm.tokens[Int($0)] as Any } ?? NSNull(),
                             "continuing_subword_prefix": NSNull(), "end_of_word_suffix": NSNull(), "fuse_unk": true, "byte_fallback": true,
                             "ignore_merges": false, "vocab": vocabPlaceholder, "merges": spm.merges.map { [$0.0, $0.1] }] as [String: Any]
        }
        func name(_ id: Int32?) -> Any { id.map { Int($0) < model.tokens.count ? model.tokens[Int($0)] : "" } ?? NSNull() }
        var decoderTable: [String: Any] = [:]
        for a in addedTokens {
            decoderTable[String(a.id)] = ["content": a.content, "lstrip": a.lstrip, "normalized": a.normalized, "rstrip": a.rstrip,
                                          "single_word": false, "special": a.special]
        }
        var config: [String: Any] = [
            // The class transformers builds: Qwen2's and Llama 3's repositories name these.
            "tokenizer_class": sentencePiece != nil ? "LlamaTokenizer" : preTokenizer == .qwen2 ? "Qwen2Tokenizer"
                : preTokenizer == .llama3 ? "PreTrainedTokenizerFast" : "GPT2Tokenizer",
            "add_prefix_space": false, "add_bos_token": addsBosToken,
            "clean_up_tokenization_spaces": false, "model_max_length": modelMaxLength,
            "bos_token": name(bosTokenId), "eos_token": name(eosTokenId), "unk_token": name(unkTokenId), "pad_token": name(padTokenId),
            "added_tokens_decoder": decoderTable,
            "additional_special_tokens": addedTokens.filter(\.special).map(\.content),
        ]
        if let t = chatTemplate { config["chat_template"] = t }
        let map: [String: Any] = ["bos_token": name(bosTokenId), "eos_token": name(eosTokenId), "unk_token": name(unkTokenId),
                                  "pad_token": name(padTokenId), "additional_special_tokens": addedTokens.filter(\.special).map(\.content)]
        let opts: JSONSerialization.WritingOptions = [.sortedKeys, .withoutEscapingSlashes]
        var tokenizerJSON = try JSONSerialization.data(withJSONObject: json, options: opts)
        if let vocabText {
            let text = String(decoding: tokenizerJSON, as: UTF8.self).replacingOccurrences(of: "\"\(vocabPlaceholder)\"", with: vocabText)
            tokenizerJSON = Data(text.utf8)
        }
        return ["tokenizer.json": tokenizerJSON,
                "tokenizer_config.json": try JSONSerialization.data(withJSONObject: config, options: opts.union(.prettyPrinted)),
                "special_tokens_map.json": try JSONSerialization.data(withJSONObject: map, options: opts.union(.prettyPrinted))]
    }
}
