import Foundation
import XCTest
import PareTestSupport
import PareCore
import PareFormats
import PareModel

/// Pare's GGUF export read back by Pare's GGUF reader (which tests check against gguf-py
/// and transformers): weights and tokenizer survive.
final class GGUFExportTests: XCTestCase {
    let dir = NSTemporaryDirectory() + "pare-export-\(getpid())"
    override func setUp() { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func testRoundTripOfTheTeacher() throws {
        Parallel.configure(threads: 2)
        let t = try PretrainedModel.load(try Assets.teacher)
        let original = t.model.params.toArray()
        for type in GGUFExport.TensorType.allCases {
            let path = dir + "/teacher-\(type.rawValue).gguf"
            try GGUFExport.write(t.model, tokenizer: t.tokenizer, type: type, name: "teacher", to: path)
            let g = try GGUFFile(path: path)
            XCTAssertEqual(try g.string("general.architecture"), "llama")
            XCTAssertEqual(try g.int("llama.attention.key_length"), 64)
            let back = try LlamaModel.load(gguf: g)
            XCTAssertEqual(back.config.numHiddenLayers, 30)
            let values = back.params.toArray()
            switch type {
            case .f32:
                XCTAssertEqual(values, original, "f32 export is exact")
                let tok = try Tokenizer(gguf: g)
                XCTAssertEqual(tok.encode("Hello world! The year 2024 had 366 days."), t.tokenizer.encode("Hello world! The year 2024 had 366 days."))
                XCTAssertEqual(tok.chatTemplate, t.tokenizer.chatTemplate)
            case .f16:
                for e in back.layout.entries where e.shape.count == 2 {
                    for i in stride(from: e.offset, to: e.offset + e.count, by: 97) { XCTAssertEqual(values[i], Float(Float16(original[i]))) }
                }
            case .q8_0, .q4_0:
                // Per block of 32: |x − q·d| ≤ d/2 (Q8_0) or d (Q4_0, whose top level is one step short),
                // plus what rounding d to fp16 adds (|q| ≤ 127 or 8 steps of it).
                var worstRatio: Float = 0
                for e in back.layout.entries where e.shape.count == 2 {
                    var b = e.offset
                    while b < e.offset + e.count {
                        let block = original[b..<b + 32]
                        let amax = block.map(abs).max()!
                        let d = type == .q8_0 ? amax / 127 : amax / 8
                        let d16 = Float(Float16(d))
                        let bound = (type == .q8_0 ? d / 2 + 127 * abs(d - d16) : d + 8 * abs(d - d16)) * (1 + 1e-5) + 1e-7
                        for i in b..<b + 32 { worstRatio = max(worstRatio, abs(values[i] - original[i]) / bound) }
                        b += 32
                    }
                }
                XCTAssertLessThanOrEqual(worstRatio, 1, "\(type): worst error / ggml bound = \(worstRatio)")
                print("GGUF \(type.rawValue) export: worst block error is \(String(format: "%.3f", worstRatio)) of ggml's bound")
            }
        }
    }

    /// Qwen2 (llama.cpp's "qwen2": q/k not permuted, q/k/v biases), Mistral (written as
    /// "llama", permuted) and Qwen3 ("qwen3": q/k norms, heads × head_dim ≠ hidden) survive an
    /// f32 export exactly, and the logits with them.
    func testOtherFamiliesRoundTripThroughGGUF() throws {
        let tok = try Tokenizer(gguf: GGUFFile(path: try Assets.teacher))
        for (name, arch, hidden) in [("tiny-qwen2", "qwen2", 64), ("tiny-mistral", "llama", 64), ("tiny-qwen3", "qwen3", 64)] {
            let f = try Fixture(name)
            var config = f.config
            config.hiddenSize = hidden
            config.vocabSize = tok.vocabularySize     // the exporter writes the tokenizer's vocabulary
            let m = try LlamaModel(config: config)
            m.initializeRandom(seed: 3)
            let path = dir + "/\(name)-\(hidden).gguf"
            try GGUFExport.write(m, tokenizer: tok, type: .f32, name: name, to: path)
            let g = try GGUFFile(path: path)
            XCTAssertEqual(try g.string("general.architecture"), arch)
            let back = try LlamaModel.load(gguf: g)
            XCTAssertEqual(back.config.family, ModelFamily.fromGGUF(arch), "\(name) (a GGUF does not say Mistral)")
            XCTAssertEqual(back.layout.entries.map(\.name), m.layout.entries.map(\.name), "\(name): the same tensors (biases included)")
            XCTAssertEqual(back.params.toArray(), m.params.toArray(), "\(name): f32 export is exact")
            let ids: [Int32] = [1, 504, 3575, 282, 4649, 314]
            XCTAssertEqual(try back.logits(tokens: ids, B: 1, T: ids.count), try m.logits(tokens: ids, B: 1, T: ids.count), name)
        }
    }

    /// llama.cpp sizes a biased q projection by the hidden size: a Qwen2 whose heads × head_dim
    /// differ from it (a width prune that kept the heads) is refused with the sizes that fit.
    func testAQwen2WhoseHeadsDoNotSpanTheHiddenSizeIsRefused() throws {
        let tok = try Tokenizer(gguf: GGUFFile(path: try Assets.teacher))
        var config = try Fixture("tiny-qwen2").config
        config.vocabSize = tok.vocabularySize; config.hiddenSize = 48
        let m = try LlamaModel(config: config)
        XCTAssertThrowsError(try GGUFExport.write(m, tokenizer: tok, type: .f32, name: "narrow", to: dir + "/narrow.gguf")) { e in
            XCTAssert("\(e)".contains("--num-attention-heads 2 --hidden-size 32"), "\(e)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/narrow.gguf"))
    }

    /// A SentencePiece vocabulary goes out as llama.cpp's "llama" tokenizer (scores, byte tokens)
    /// and reads back with the same ids.
    func testASentencePieceTokenizerRoundTripsThroughGGUF() throws {
        let tok = try Tokenizer(gguf: GGUFFile(path: try Assets.sentencePieceVocabulary))
        var config = try Fixture("tiny-mistral").config
        config.vocabSize = tok.vocabularySize
        let m = try LlamaModel(config: config)
        let path = dir + "/spm.gguf"
        try GGUFExport.write(m, tokenizer: tok, type: .f32, name: "spm", to: path)
        let back = try Tokenizer(gguf: GGUFFile(path: path))
        XCTAssertNotNil(back.sentencePiece)
        for text in ["Hello world! The year 2024 had 366 days.", "   leading spaces and 東京 🙂", "e\u{301} vs \u{e9}, \u{212b}"] {
            XCTAssertEqual(back.encode(text), tok.encode(text), text)
            XCTAssertEqual(back.decode(back.encode(text)), tok.decode(tok.encode(text)), text)
        }
    }

    /// GPT-2's own pattern (a tokenizer.json with a plain ByteLevel pre-tokenizer) goes out
    /// under llama.cpp's name for it, "gpt-2": llama.cpp refuses the file for "gpt2".
    func testAGPT2PatternTokenizerIsWrittenUnderLlamaCppsName() throws {
        try FileManager.default.createDirectory(atPath: dir + "/tok", withIntermediateDirectories: true)
        let json = """
        {"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]},
         "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}}
        """
        try json.write(toFile: dir + "/tok/tokenizer.json", atomically: true, encoding: .utf8)
        let tok = try Tokenizer(directory: dir + "/tok")
        XCTAssertEqual(tok.preTokenizer, .gpt2)
        var config = try Fixture("tiny-untied").config
        config.vocabSize = 3
        try GGUFExport.write(try LlamaModel(config: config), tokenizer: tok, type: .f32, name: "gpt2", to: dir + "/gpt2.gguf")
        let g = try GGUFFile(path: dir + "/gpt2.gguf")
        XCTAssertEqual(g.metadata["tokenizer.ggml.pre"]?.string, "gpt-2")
        XCTAssertEqual(try Tokenizer(gguf: g).preTokenizer, .gpt2)
    }

    func testUnsupportedExportsAreRefused() throws {
        let f = try Fixture("tiny-llama3")          // llama3 rope scaling
        let tok = try Tokenizer(gguf: GGUFFile(path: try Assets.teacher))
        XCTAssertThrowsError(try GGUFExport.write(try f.model(), tokenizer: tok, type: .f32, name: "x", to: dir + "/x.gguf")) {
            XCTAssert("\($0)".contains("rope"), "\($0)")
        }
        var c = try Fixture("tiny-untied").config
        c.intermediateSize = 40                       // rows of 40 cannot be cut into blocks of 32
        let m = try LlamaModel(config: c)
        XCTAssertThrowsError(try GGUFExport.write(m, tokenizer: tok, type: .q8_0, name: "x", to: dir + "/y.gguf")) {
            XCTAssert("\($0)".contains("multiple of"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/y.gguf"), "no half-written file")
    }
}
