import Foundation
import PareCore
import PareFormats

/// Hugging Face checkpoint directories: config.json, model.safetensors (or shards with
/// model.safetensors.index.json), tokenizer files, generation_config.json.
public enum HFCheckpoint {
    public static func isCheckpoint(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path + "/config.json")
    }

    public static func readConfig(_ dir: String) throws -> LlamaConfig {
        let path = dir + "/config.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FormatError.io(path: path, message: "cannot read config.json")
        }
        do {
            let c = try JSONDecoder().decode(LlamaConfig.self, from: data)
            try c.validate()
            return c
        } catch let e as DecodingError {
            throw FormatError.corrupt(path: path, message: "config.json does not describe a Llama model (\(describe(e)))")
        } catch let e as ModelError {
            throw FormatError.unsupported(path: path, message: "\(e)")
        }
    }

    static func describe(_ e: DecodingError) -> String {
        switch e {
        case .keyNotFound(let k, _): return "missing key \"\(k.stringValue)\""
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
            return "\(c.codingPath.map(\.stringValue).joined(separator: ".")): \(c.debugDescription)"
        @unknown default: return "\(e)"
        }
    }

    /// Tensor name → safetensors file, from the shard index or the single file.
    static func weightFiles(_ dir: String) throws -> [String: SafetensorsFile] {
        let index = dir + "/model.safetensors.index.json"
        if let data = FileManager.default.contents(atPath: index) {
            guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let map = root["weight_map"] as? [String: String] else {
                throw FormatError.corrupt(path: index, message: "no weight_map object")
            }
            var files: [String: SafetensorsFile] = [:]
            var out: [String: SafetensorsFile] = [:]
            for (name, file) in map {
                if files[file] == nil { files[file] = try SafetensorsFile(path: dir + "/" + file) }
                out[name] = files[file]
            }
            return out
        }
        let single = dir + "/model.safetensors"
        guard FileManager.default.fileExists(atPath: single) else {
            throw FormatError.io(path: dir, message: "no model.safetensors or model.safetensors.index.json (PyTorch .bin checkpoints are not read; convert them to safetensors)")
        }
        let f = try SafetensorsFile(path: single)
        return Dictionary(uniqueKeysWithValues: f.tensors.keys.map { ($0, f) })
    }

    public static func loadModel(_ dir: String) throws -> LlamaModel {
        let config = try readConfig(dir)
        let model = try LlamaModel(config: config)
        let files = try weightFiles(dir)
        for e in model.layout.entries {
            guard let f = files[e.name] else {
                // A tied model whose config.json lacks the flag: transformers' Llama default is untied.
                if e.name == "lm_head.weight", !config.tieWordEmbeddings, files["model.embed_tokens.weight"] != nil {
                    let said = (try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/config.json"))) as? [String: Any])?["tie_word_embeddings"] != nil
                    throw FormatError.inconsistent(path: dir + "/config.json", message: "the weights have no lm_head.weight, so the output head must share the embedding, but config.json \(said ? "says \"tie_word_embeddings\": false" : "has no \"tie_word_embeddings\" (transformers then unties the head)"); set \"tie_word_embeddings\": true")
                }
                throw FormatError.missingTensor(path: dir + "/model.safetensors", name: e.name)
            }
            let info = try f.info(e.name)
            guard info.shape == e.shape else {
                throw FormatError.inconsistent(path: f.path, message: "tensor \"\(e.name)\" has shape \(info.shape) but \(dir)/config.json implies \(e.shape); config.json and the weights disagree (check hidden_size, intermediate_size, num_attention_heads, num_key_value_heads, head_dim)")
            }
            try f.read(e.name, into: model.parameter(e.name)!)
        }
        // transformers ignores a tied model's stored lm_head and the old rotary buffers too.
        let used = Set(model.layout.entries.map(\.name))
        let unused = files.keys.filter { n in !used.contains(n) && !n.hasSuffix("rotary_emb.inv_freq") && !(config.tieWordEmbeddings && n == "lm_head.weight") }
        try StrictLoading.checkUnused(unused, path: dir + "/model.safetensors", configName: "config.json")
        try StrictLoading.checkFinite(model, path: dir + "/model.safetensors")
        return model
    }

    /// Writes `model` (and `tokenizer`) as a directory `transformers` loads unchanged.
    ///
    /// Every file goes to a temporary folder first; only a complete set is moved into `dir`,
    /// config.json last, so an interrupted or failed write (disk full) never leaves a folder that
    /// looks like a model but lacks its tokenizer. Other files already in `dir` (importance.json)
    /// stay.
    public static func save(_ model: LlamaModel, tokenizer: Tokenizer?, to dir: String, dtype: SafetensorsWriter.DType = .F32) throws {
        model.requireF32Matrices("save")
        let fm = FileManager.default
        let parent = URL(fileURLWithPath: dir).deletingLastPathComponent().path
        let tmp = parent + "/." + URL(fileURLWithPath: dir).lastPathComponent + ".tmp-\(getpid())"
        StaleTemporaries.remove(in: parent, prefix: "." + URL(fileURLWithPath: dir).lastPathComponent)
        try? fm.removeItem(atPath: tmp)
        do {
            try fm.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        } catch {
            throw FormatError.io(path: dir, message: "cannot create the output folder (\(SystemErrorText.reason(error)))")
        }
        do {
            let names = try write(model, tokenizer: tokenizer, to: tmp, dtype: dtype)
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
            // The old config.json goes first: until the new one is in, dir is not a model.
            try? fm.removeItem(atPath: dir + "/config.json")
            // Weights of an earlier model that loaders would read instead of (or beside) the new
            // model.safetensors: a sharded index wins over it, here and in transformers.
            for name in (try? fm.contentsOfDirectory(atPath: dir)) ?? [] where competesWithNewWeights(name) {
                try? fm.removeItem(atPath: dir + "/" + name)
            }
            for name in names.filter({ $0 != "config.json" }) + ["config.json"] {
                guard rename(tmp + "/" + name, dir + "/" + name) == 0 else {
                    throw FormatError.io(path: dir + "/" + name, message: "cannot move the written file into place (\(String(cString: strerror(errno))))")
                }
            }
            try? fm.removeItem(atPath: tmp)
        } catch {
            try? fm.removeItem(atPath: tmp)
            throw error
        }
    }

    /// Weight files another checkpoint may have left: sharded safetensors and their index,
    /// PyTorch .bin weights (single or sharded).
    static func competesWithNewWeights(_ name: String) -> Bool {
        name == "model.safetensors.index.json" || (name.hasPrefix("model-") && name.hasSuffix(".safetensors"))
            || (name.hasPrefix("pytorch_model") && (name.hasSuffix(".bin") || name.hasSuffix(".bin.index.json")))
    }

    /// The model's files in `dir`; returns their names.
    static func write(_ model: LlamaModel, tokenizer: Tokenizer?, to dir: String, dtype: SafetensorsWriter.DType) throws -> [String] {
        var names = ["model.safetensors", "config.json", "generation_config.json"]
        var config = model.config
        config.torchDtype = dtype == .F32 ? "float32" : "bfloat16"
        if let t = tokenizer {
            config.bosTokenId = t.bosTokenId.map { .one(Int($0)) } ?? config.bosTokenId
            config.eosTokenId = t.eosTokenId.map { .one(Int($0)) } ?? config.eosTokenId
        }
        let entries = model.layout.entries.map { e in
            SafetensorsWriter.Entry(name: e.name, shape: e.shape,
                                    data: UnsafeBufferPointer(start: model.params.pointer + e.offset, count: e.count))
        }
        try SafetensorsWriter.write(path: dir + "/model.safetensors", tensors: entries, dtype: dtype, metadata: ["format": "pt"])
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicFileWriter.write(try enc.encode(config), to: dir + "/config.json")
        var gen: [String: Any] = ["_from_model_config": true]
        if let b = config.bosTokenId?.ids.first { gen["bos_token_id"] = b }
        if let e = config.eosTokenId?.ids { gen["eos_token_id"] = e.count == 1 ? e[0] : e }
        try AtomicFileWriter.write(try JSONSerialization.data(withJSONObject: gen, options: [.prettyPrinted, .sortedKeys]),
                                   to: dir + "/generation_config.json")
        if let t = tokenizer {
            for (name, data) in try t.hfFiles(modelMaxLength: config.maxPositionEmbeddings) {
                try AtomicFileWriter.write(data, to: dir + "/" + name)
                names.append(name)
            }
        }
        return names
    }
}

/// A model and its tokenizer loaded from a GGUF file or a Hugging Face directory.
public struct PretrainedModel {
    public let model: LlamaModel
    public let tokenizer: Tokenizer
    public let source: String

    public static func load(_ path: String) throws -> PretrainedModel {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw FormatError.io(path: path, message: "no such file or directory; pass a .gguf file or a Hugging Face model directory")
        }
        if isDir.boolValue {
            guard HFCheckpoint.isCheckpoint(path) else {
                throw FormatError.io(path: path, message: "not a Hugging Face model directory (no config.json)")
            }
            let model = try HFCheckpoint.loadModel(path)
            let tokenizer = try Tokenizer(directory: path)
            try check(tokenizer, model, path)
            return PretrainedModel(model: model, tokenizer: tokenizer, source: path)
        }
        let g = try GGUFFile(path: path)
        let model = try LlamaModel.load(gguf: g)
        let tokenizer = try Tokenizer(gguf: g)
        try check(tokenizer, model, path)
        return PretrainedModel(model: model, tokenizer: tokenizer, source: path)
    }

    static func check(_ t: Tokenizer, _ m: LlamaModel, _ path: String) throws {
        guard t.vocabularySize <= m.config.vocabSize else {
            // Not damage: usually a tokenizer from another model (or added tokens) beside these weights.
            throw FormatError.inconsistent(path: path, message: "the tokenizer has \(t.vocabularySize) tokens but the model's embedding has \(m.config.vocabSize) rows (vocab_size), so ids from \(m.config.vocabSize) on have no embedding; use the tokenizer that came with these weights, or resize the embedding to \(t.vocabularySize) rows before loading the model here")
        }
    }
}
