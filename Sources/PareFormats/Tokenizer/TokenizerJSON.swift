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
        if (model["byte_fallback"] as? Bool) == true { throw bad("byte_fallback BPE (SentencePiece-style) is not supported") }
        var normalizer = TextNormalizer.none
        if let n = root["normalizer"], !(n is NSNull) {
            guard let type = (n as? [String: Any])?["type"] as? String, type == "NFC" else {
                throw bad("normalizer \(String(describing: n).prefix(120)) is not one Pare implements (none, or NFC)")
            }
            normalizer = .nfc
        }
        let pre = try Tokenizer.preTokenizerKind(root["pre_tokenizer"], path: path)
        guard let vocab = model["vocab"] as? [String: Int] else { throw FormatError.corrupt(path: path, message: "model.vocab is missing") }
        var added: [AddedToken] = []
        for a in (root["added_tokens"] as? [[String: Any]]) ?? [] {
            guard let id = a["id"] as? Int, let content = a["content"] as? String else { continue }
            if (a["single_word"] as? Bool) == true { throw bad("added token \"\(content)\" is single_word, which Pare does not implement") }
            added.append(AddedToken(id: Int32(id), content: content, special: (a["special"] as? Bool) ?? false,
                                    lstrip: (a["lstrip"] as? Bool) ?? false, rstrip: (a["rstrip"] as? Bool) ?? false,
                                    normalized: (a["normalized"] as? Bool) ?? false))
        }
        let size = max(vocab.values.max() ?? -1, added.map { Int($0.id) }.max() ?? -1) + 1
        var tokens = [String](repeating: "", count: size)
        for (t, i) in vocab where i >= 0 { tokens[i] = t }
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
        let bpe: BPEModel
        do { bpe = try BPEModel(tokens: tokens, merges: merges, ignoreMerges: (model["ignore_merges"] as? Bool) ?? false) } catch {
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
        self.init(model: bpe, preTokenizer: pre, normalizer: normalizer, addedTokens: added, bos: special("bos_token"), eos: special("eos_token"),
                  unk: special("unk_token"), pad: special("pad_token"), chatTemplate: config["chat_template"] as? String)
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
        let json: [String: Any] = [
            "version": "1.0", "truncation": NSNull(), "padding": NSNull(),
            "added_tokens": addedTokens.map { ["id": Int($0.id), "content": $0.content, "single_word": false, "lstrip": $0.lstrip,
                                               "rstrip": $0.rstrip, "normalized": $0.normalized, "special": $0.special] },
            "normalizer": normalizer == .nfc ? ["type": "NFC"] as Any : NSNull(),
            "pre_tokenizer": pre,
            "post_processor": ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true],
            "decoder": ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true],
            "model": ["type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "continuing_subword_prefix": NSNull(),
                      "end_of_word_suffix": NSNull(), "fuse_unk": false, "byte_fallback": false, "ignore_merges": model.ignoreMerges,
                      "vocab": vocab, "merges": model.merges.map { "\($0.0) \($0.1)" }] as [String: Any],
        ]
        func name(_ id: Int32?) -> Any { id.map { Int($0) < model.tokens.count ? model.tokens[Int($0)] : "" } ?? NSNull() }
        var decoderTable: [String: Any] = [:]
        for a in addedTokens {
            decoderTable[String(a.id)] = ["content": a.content, "lstrip": a.lstrip, "normalized": a.normalized, "rstrip": a.rstrip,
                                          "single_word": false, "special": a.special]
        }
        var config: [String: Any] = [
            // The class transformers builds: Qwen2's and Llama 3's repositories name these.
            "tokenizer_class": preTokenizer == .qwen2 ? "Qwen2Tokenizer" : preTokenizer == .llama3 ? "PreTrainedTokenizerFast" : "GPT2Tokenizer",
            "add_prefix_space": false, "add_bos_token": false,
            "clean_up_tokenization_spaces": false, "model_max_length": modelMaxLength,
            "bos_token": name(bosTokenId), "eos_token": name(eosTokenId), "unk_token": name(unkTokenId), "pad_token": name(padTokenId),
            "added_tokens_decoder": decoderTable,
            "additional_special_tokens": addedTokens.filter(\.special).map(\.content),
        ]
        if let t = chatTemplate { config["chat_template"] = t }
        let map: [String: Any] = ["bos_token": name(bosTokenId), "eos_token": name(eosTokenId), "unk_token": name(unkTokenId),
                                  "pad_token": name(padTokenId), "additional_special_tokens": addedTokens.filter(\.special).map(\.content)]
        let opts: JSONSerialization.WritingOptions = [.sortedKeys, .withoutEscapingSlashes]
        return ["tokenizer.json": try JSONSerialization.data(withJSONObject: json, options: opts),
                "tokenizer_config.json": try JSONSerialization.data(withJSONObject: config, options: opts.union(.prettyPrinted)),
                "special_tokens_map.json": try JSONSerialization.data(withJSONObject: map, options: opts.union(.prettyPrinted))]
    }
}
