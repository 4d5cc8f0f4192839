import Foundation
import XCTest
import PareTestSupport
import PareCore
import PareFormats

/// Llama 3 and Qwen2 tokenizers against the libraries users run (scripts/tokenizer_families.py):
/// Meta's tiktoken file against `tiktoken`; the Qwen2.5 GGUF against HF `tokenizers` on the
/// tokenizer.json transformers writes from it. Each also through the tokenizer.json Pare writes.
final class TokenizerFamilyTests: XCTestCase {
    nonisolated(unsafe) static var qwen: Tokenizer?
    nonisolated(unsafe) static var llama3: Tokenizer?

    func qwenTokenizer() throws -> Tokenizer {
        if let t = Self.qwen { return t }
        let t = try Tokenizer(gguf: GGUFFile(path: try Assets.qwen))
        Self.qwen = t
        return t
    }

    func llama3Tokenizer() throws -> Tokenizer {
        if let t = Self.llama3 { return t }
        let t = try Tokenizer(tiktokenModel: try Assets.llama3Tokenizer)
        Self.llama3 = t
        return t
    }

    func checkGolden(_ t: Tokenizer, _ name: String, minimumCases: Int = 200, file: StaticString = #filePath, line: UInt = #line) throws {
        try TokenizerTests.checkGolden(t, file: "tokenizer-golden-\(name)", name: name, rerun: "scripts/tokenizer_families.py golden \(name)",
                                       minimumCases: minimumCases, file: file, line: line)
    }

    /// The tokenizer read back from the tokenizer.json (+ config) Pare writes for it.
    /// `withoutConfigKey` leaves that key out of tokenizer_config.json.
    func roundTripped(_ t: Tokenizer, withoutConfigKey key: String? = nil, patch: ((inout [String: Any]) -> Void)? = nil) throws -> Tokenizer {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pare-tok-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { if ProcessInfo.processInfo.environment["PARE_KEEP"] == nil { try? FileManager.default.removeItem(atPath: dir) } else { print("kept \(dir)") } }
        for (name, var data) in try t.hfFiles(modelMaxLength: 4096) {
            if name == "tokenizer.json", let patch {
                var root = try JSONSerialization.jsonObject(with: data) as! [String: Any]
                patch(&root)
                data = try JSONSerialization.data(withJSONObject: root)
            }
            if name == "tokenizer_config.json", let key {
                var root = try JSONSerialization.jsonObject(with: data) as! [String: Any]
                root[key] = nil
                data = try JSONSerialization.data(withJSONObject: root)
            }
            try data.write(to: URL(fileURLWithPath: dir + "/" + name))
        }
        return try Tokenizer(directory: dir)
    }

    func testQwen2FromGGUFMatchesTokenizers() throws {
        let t = try qwenTokenizer()
        XCTAssertEqual(t.preTokenizer, .qwen2)
        XCTAssertEqual(t.vocabularySize, 151_936, "llama.cpp pads the vocabulary to the embedding's rows")
        XCTAssertEqual(t.encode("<|im_start|>user", parseSpecial: true).first, 151_644)
        try checkGolden(t, "qwen2")
        try checkGolden(try roundTripped(t), "qwen2")
    }

    func testQwen2WithNFCNormalizerMatchesTokenizers() throws {   // (Qwen2's vocabulary is byte-level: JSON editing is safe)
        let t = try roundTripped(try qwenTokenizer()) { $0["normalizer"] = ["type": "NFC"] }
        XCTAssertEqual(t.normalizer, .nfc)
        try checkGolden(t, "qwen2-nfc")
    }

    func testLlama3FromTiktokenMatchesTiktoken() throws {
        let t = try llama3Tokenizer()
        XCTAssertEqual(t.vocabularySize, 128_256)
        XCTAssertEqual(t.encode("<|begin_of_text|>Hi<|eot_id|>", parseSpecial: true).first, 128_000)
        XCTAssertEqual(t.encode("<|eot_id|>", parseSpecial: true), [128_009])
        try checkGolden(t, "llama3")
        // Through a tokenizer.json: Pare's own, and transformers' conversion when the reference
        // script has written it (scripts/tokenizer_families.py golden llama3-json).
        try checkGolden(try roundTripped(t), "llama3")
        let hf = "/tmp/pare-tok/llama3-tokenizer.json"
        if FileManager.default.fileExists(atPath: hf) { try checkGolden(try Tokenizer(path: hf), "llama3") }
    }

    /// Llama 3 starts a text with <|begin_of_text|> (Meta's `encode(bos=True)`; its Hugging Face
    /// tokenizer.json's post-processor, Sequence[ByteLevel, TemplateProcessing]). Pare writes that
    /// post-processor and reads it back, also beside a tokenizer_config without add_bos_token
    /// (Meta's has none); SmolLM2's adds nothing and keeps ByteLevel alone.
    func testLlama3AddsBOSThroughItsPostProcessor() throws {
        let t = try llama3Tokenizer()
        XCTAssertTrue(t.addsBosToken)
        XCTAssertEqual(t.encodePrompt("Hi"), [128_000] + t.encode("Hi"))
        let json = try JSONSerialization.jsonObject(with: try t.hfFiles(modelMaxLength: 4096)["tokenizer.json"]!) as! [String: Any]
        let post = try XCTUnwrap(json["post_processor"] as? [String: Any])
        XCTAssertEqual(post["type"] as? String, "Sequence")
        XCTAssertEqual((post["processors"] as? [[String: Any]])?.compactMap { $0["type"] as? String }, ["ByteLevel", "TemplateProcessing"])
        let back = try roundTripped(t, withoutConfigKey: "add_bos_token")
        XCTAssertTrue(back.addsBosToken, "the post-processor alone says BOS")
        XCTAssertEqual(back.encodePrompt("Hi"), t.encodePrompt("Hi"))
        let smol = try roundTripped(try Tokenizer(gguf: GGUFFile(path: try Assets.teacher)), withoutConfigKey: "add_bos_token")
        XCTAssertFalse(smol.addsBosToken)
        XCTAssertEqual(smol.encodePrompt("Hi"), smol.encode("Hi"))
    }

    /// SentencePiece BPE with byte fallback (a 262,144-token vocabulary with <0xNN> tokens, read
    /// from a GGUF whose tokenizer.ggml.model is "llama"), with and without the prefix space,
    /// from the GGUF and through tokenizer.json (Pare's, and transformers' when the reference
    /// script has written it).
    func testSentencePieceWithByteFallbackMatchesTokenizers() throws {
        let g = try GGUFFile(path: try Assets.sentencePieceVocabulary)
        let t = try Tokenizer(gguf: g)
        XCTAssertEqual(t.sentencePiece?.prepend, .never, "this file says add_space_prefix false")
        try checkGolden(t, "spm")
        try checkGolden(try roundTripped(t), "spm")
        // The prefix space of Llama 2 / Mistral: the same vocabulary with Metaspace prepend "first"
        // and the decoder's Strip, through the tokenizer.json Pare writes for it. (Built here, not
        // by editing JSON: Foundation's JSON objects merge canonically equivalent keys.)
        let spm = t.sentencePiece!
        let withPrefix = try SentencePieceModel(tokens: spm.tokens, merges: spm.merges, prepend: .first, stripLeadingSpace: true, unkId: spm.unkId)
        let prefixed = try roundTripped(Tokenizer(model: t.model, preTokenizer: .gpt2, addedTokens: t.addedTokens, bos: t.bosTokenId,
                                                  eos: t.eosTokenId, unk: t.unkTokenId, pad: t.padTokenId, chatTemplate: nil, sentencePiece: withPrefix))
        XCTAssertEqual(prefixed.sentencePiece?.prepend, .first)
        try checkGolden(prefixed, "spm-prefix")
        for name in ["spm", "spm-prefix"] where FileManager.default.fileExists(atPath: "/tmp/pare-tok/\(name)-tokenizer.json") {
            try checkGolden(try Tokenizer(path: "/tmp/pare-tok/\(name)-tokenizer.json"), name)
        }
    }

    /// The whole bundled corpus round-trips; with a reference dump
    /// (scripts/tokenizer_families.py corpus FAMILY) every document's ids are compared too.
    func testWholeCorpusPerFamily() throws {
        let docs = try Corpus.documents(path: try Assets.corpus)
        let spm = try Tokenizer(gguf: GGUFFile(path: try Assets.sentencePieceVocabulary))
        for (name, t) in [("qwen2", try qwenTokenizer()), ("llama3", try llama3Tokenizer()), ("spm", spm)] {
            var enc = TokenEncoder(t)
            let t0 = ProcessInfoLite.now()
            let all = docs.map { enc.encode($0) }
            let seconds = ProcessInfoLite.now() - t0
            let bytes = docs.reduce(0) { $0 + $1.utf8.count }
            XCTAssertEqual(zip(docs, all).filter { t.decode($0.1) != $0.0 }.count, 0, "\(name): documents whose decode(encode(x)) != x")
            print(String(format: "tokenizer corpus %@: %d documents, %.2f MB/s single-threaded (first pass)", name, docs.count, Double(bytes) / seconds / 1e6))
            let dir = ProcessInfo.processInfo.environment["PARE_TOKENIZER_REFERENCE_DIR"] ?? "/tmp/pare-tok"
            try TokenizerTests.compare(all, of: docs, withDump: dir + "/corpus-\(name).jsonl", name: "tokenizer corpus \(name)",
                                       rerun: "scripts/tokenizer_families.py corpus \(name)")
        }
    }

    /// Added tokens with lstrip/rstrip swallow Unicode whitespace beside them as tokenizers
    /// does (its regex \s is White_Space): NBSP, U+3000, NEL, U+2028 yes; ZWSP, BOM, U+001C no.
    func testLstripAndRstripStripUnicodeWhitespaceAsTokenizersDoes() throws {
        // The same flags scripts/tokenizer_families.py (STRIPPED) sets for the reference.
        let stripped: [String: (Bool, Bool)] = ["<|im_start|>": (true, true), "<|im_end|>": (true, false),
                                                "<tool_call>": (false, true), "</tool_call>": (true, false)]
        let t = try roundTripped(try qwenTokenizer()) { root in
            var added = root["added_tokens"] as! [[String: Any]]
            for k in added.indices {
                if let (l, r) = stripped[added[k]["content"] as! String] { added[k]["lstrip"] = l; added[k]["rstrip"] = r }
            }
            root["added_tokens"] = added
        }
        XCTAssertEqual(t.addedTokens.filter { $0.lstrip || $0.rstrip }.count, 4)
        try checkGolden(t, "qwen2-strip", minimumCases: 15)
    }

    func testAnUnknownSplitPatternIsRefusedWithThePatternQuoted() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pare-tok-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let json = """
        {"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]},
         "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": "\\\\p{Han}+|[a-z]+"}, "behavior": "Isolated", "invert": false},
            {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]}}
        """
        try json.write(toFile: dir + "/tokenizer.json", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Tokenizer(directory: dir)) { e in
            let m = "\(e)"
            XCTAssert(m.contains("\\p{Han}+|[a-z]+") && m.contains("tokenizer.json"), m)
        }
    }
}
