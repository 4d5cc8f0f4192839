import Foundation
import XCTest
import PareTestSupport
import PareCore
import PareFormats
import PareModel

/// What is particular to Qwen3 beyond the fixture tests every family runs (ReferenceTests and
/// the others match PyTorch with the tiny-qwen3 fixtures): the config.json transformers reads,
/// the q/k norms in the files, and what llama.cpp's qwen3 cannot load.
final class Qwen3Tests: XCTestCase {
    let dir = NSTemporaryDirectory() + "pare-qwen3-\(getpid())"
    override func setUp() { Parallel.configure(threads: 2) }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// A Qwen3 folder round-trips: its config says qwen3 with attention_bias and no mlp_bias
    /// (Qwen3Config takes none) or layer_types (derived from the layer count, so a depth prune
    /// cannot leave a stale list), and its q/k norms are in model.safetensors.
    func testAQwen3FolderRoundTripsWithItsNormsAndConfig() throws {
        let f = try Fixture("tiny-qwen3")
        let model = try f.model()
        try HFCheckpoint.save(model, tokenizer: nil, to: dir + "/q3")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/q3/config.json"))) as! [String: Any]
        XCTAssertEqual(json["model_type"] as? String, "qwen3")
        XCTAssertEqual(json["architectures"] as? [String], ["Qwen3ForCausalLM"])
        XCTAssertEqual(json["attention_bias"] as? Bool, false)
        XCTAssertEqual(json["head_dim"] as? Int, 32)
        XCTAssertNil(json["mlp_bias"]); XCTAssertNil(json["layer_types"])
        let file = try SafetensorsFile(path: dir + "/q3/model.safetensors")
        XCTAssertEqual(file.tensors["model.layers.1.self_attn.q_norm.weight"]?.shape, [32])
        XCTAssertEqual(file.tensors["model.layers.1.self_attn.k_norm.weight"]?.shape, [32])
        let back = try HFCheckpoint.loadModel(dir + "/q3")
        XCTAssertEqual(back.config.family, .qwen3)
        XCTAssertEqual(back.params.toArray(), model.params.toArray())
    }

    /// The norms change the model: zeroing one head-norm channel changes the logits (so the
    /// fixture tests exercise them), and the layer's norm weights hold head_dim values.
    func testTheHeadNormsAreUsed() throws {
        let f = try Fixture("tiny-qwen3-untied")
        let model = try f.model()
        let before = try model.logits(tokens: f.tokens, B: f.B, T: f.T)
        let e = try XCTUnwrap(model.layout.entry("model.layers.0.self_attn.k_norm.weight"))
        XCTAssertEqual(e.shape, [f.config.headDim])
        model.params.pointer[e.offset + 3] = 0
        XCTAssertNotEqual(try model.logits(tokens: f.tokens, B: f.B, T: f.T), before)
    }

    /// llama.cpp's qwen3 reads no attention biases: such a model is refused by name, not written.
    func testAQwen3WithAttentionBiasIsRefusedForLlamaCpp() throws {
        let tok = try Tokenizer(gguf: GGUFFile(path: try Assets.teacher))
        var config = try Fixture("tiny-qwen3").config
        config.vocabSize = tok.vocabularySize; config.attentionBias = true
        let m = try LlamaModel(config: config)
        XCTAssertEqual(m.layout.entry("model.layers.0.self_attn.o_proj.bias")?.shape, [64], "Qwen3's attention_bias covers o_proj too")
        XCTAssertThrowsError(try GGUFExport.write(m, tokenizer: tok, type: .f32, name: "biased", to: dir + "/biased.gguf")) { e in
            XCTAssert("\(e)".contains("qwen3 architecture has no attention biases"), "\(e)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/biased.gguf"))
    }
}
