import Foundation
import XCTest
import PareTestSupport
import PareCore
import PareFormats
import PareModel

/// What is particular to Gemma 3 beyond the fixture tests every family runs (ReferenceTests and
/// the others match PyTorch with the tiny-gemma3 fixture, whose window of 5 is shorter than its
/// sequence): the config transformers reads, GGUF's 1 + w norms and fixed layer pattern, and
/// the real 270M decoding past its 512-token window.
final class Gemma3Tests: XCTestCase {
    let dir = NSTemporaryDirectory() + "pare-gemma3-\(getpid())"
    override func setUp() { Parallel.configure(threads: 2) }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// config.json as transformers 5 writes Gemma 3: rope_parameters per layer type, the layer
    /// types in full, hidden_activation, query_pre_attn_scalar; no rope_theta or hidden_act.
    func testAGemma3FolderRoundTripsWithItsConfig() throws {
        let model = try Fixture("tiny-gemma3").model()
        try HFCheckpoint.save(model, tokenizer: nil, to: dir + "/g3")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/g3/config.json"))) as! [String: Any]
        XCTAssertEqual(json["model_type"] as? String, "gemma3_text")
        XCTAssertEqual(json["architectures"] as? [String], ["Gemma3ForCausalLM"])
        XCTAssertEqual(json["layer_types"] as? [String], ["sliding_attention", "full_attention", "sliding_attention"])
        XCTAssertEqual(json["sliding_window"] as? Int, 5)
        XCTAssertEqual(json["query_pre_attn_scalar"] as? Double, 24)
        XCTAssertEqual(json["hidden_activation"] as? String, "gelu_pytorch_tanh")
        let rope = json["rope_parameters"] as? [String: [String: Any]]
        XCTAssertEqual(rope?["sliding_attention"]?["rope_theta"] as? Double, 10_000)
        XCTAssertEqual(rope?["full_attention"]?["rope_theta"] as? Double, 1_000_000)
        XCTAssertNil(json["rope_theta"]); XCTAssertNil(json["hidden_act"])
        let back = try HFCheckpoint.loadModel(dir + "/g3")
        XCTAssertEqual(back.config, { var c = model.config; c.torchDtype = "float32"; return c }())
        XCTAssertEqual(back.params.toArray(), model.params.toArray())
    }

    /// What Pare does not run is refused by key, not computed wrongly.
    func testGemmaOptionsPareDoesNotRunAreRefused() throws {
        let good = try Fixture("tiny-gemma3").config
        for (edit, key) in [({ (c: inout LlamaConfig) in c.finalLogitSoftcapping = 30 }, "final_logit_softcapping"),
                            ({ $0.attnLogitSoftcapping = 50 }, "attn_logit_softcapping"),
                            ({ $0.useBidirectionalAttention = true }, "use_bidirectional_attention"),
                            ({ $0.hiddenActivation = "gelu" }, "hidden_activation"),
                            ({ $0.layerTypes = ["sliding_attention"] }, "layer_types")] {
            var c = good
            edit(&c)
            XCTAssertThrowsError(try c.validate(), key) { XCTAssert("\($0)".contains(key), "\($0)") }
        }
    }

    /// GGUF: llama.cpp's names for the four norms, their weights stored as 1 + w (read back
    /// as w), and the layer pattern llama.cpp fixes; a model whose pattern differs is refused.
    func testGemma3GGUFRoundTripAndThePatternLlamaCppFixes() throws {
        let tok = try Tokenizer(gguf: GGUFFile(path: try Assets.gemma3))
        var config = try Fixture("tiny-gemma3").config
        config.vocabSize = tok.vocabularySize
        XCTAssertThrowsError(try GGUFExport.write(try LlamaModel(config: config), tokenizer: tok, type: .f32, name: "g", to: dir + "/bad.gguf")) {
            XCTAssert("\($0)".contains("every 6th layer global") && "\($0)".contains("query_pre_attn_scalar"), "\($0)")
        }
        config.layerTypes = Array(repeating: "sliding_attention", count: 3)   // 3 layers: all local for llama.cpp
        config.queryPreAttnScalar = Double(config.headDim)
        config.hiddenSize = 64
        let m = try LlamaModel(config: config)
        m.initializeRandom(seed: 5)
        for e in m.layout.entries where e.name.hasSuffix("norm.weight") {   // norms away from 0, as trained ones are
            for i in 0..<e.count { m.params.pointer[e.offset + i] = Float(i % 7) * 0.1 - 0.3 }
        }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try GGUFExport.write(m, tokenizer: tok, type: .f32, name: "g", to: dir + "/g.gguf")
        let g = try GGUFFile(path: dir + "/g.gguf")
        XCTAssertEqual(try g.string("general.architecture"), "gemma3")
        XCTAssertEqual(g.metadata["gemma3.attention.sliding_window"]?.int, 5)
        XCTAssertEqual(g.metadata["tokenizer.ggml.add_bos_token"]?.bool, true)
        for name in ["blk.0.post_attention_norm.weight", "blk.0.ffn_norm.weight", "blk.0.post_ffw_norm.weight", "blk.0.attn_q_norm.weight"] {
            XCTAssertNotNil(g.tensors[name], name)
        }
        let back = try LlamaModel.load(gguf: g)
        XCTAssertEqual(back.config.layerTypes, config.layerTypes)
        assertClose(back.params.toArray(), m.params.toArray(), atol: 1e-6, rtol: 0, "f32 export, norms through 1 + w")
        let ids: [Int32] = [2, 504, 3575, 282, 4649, 314, 9, 17]
        assertClose(try back.logits(tokens: ids, B: 1, T: ids.count), try m.logits(tokens: ids, B: 1, T: ids.count), atol: 1e-4, rtol: 0, "logits")
    }

    /// Gemma's tokenizer adds BOS (tokenizer.ggml.add_bos_token): a prompt starts with it, once
    /// even when a chat template wrote it; SmolLM2's does not.
    func testAPromptStartsWithBOSWhereTheTokenizerAddsIt() throws {
        let tok = try Tokenizer(gguf: GGUFFile(path: try Assets.gemma3))
        XCTAssertTrue(tok.addsBosToken)
        let ids = tok.encodePrompt("The capital of France is")
        XCTAssertEqual(ids.first, 2)
        XCTAssertEqual(Array(ids.dropFirst()), tok.encode("The capital of France is"))
        XCTAssertEqual(tok.encodePrompt("<bos>Hi", parseSpecial: true).filter { $0 == 2 }.count, 1)
        let smol = try Tokenizer(gguf: GGUFFile(path: try Assets.teacher))
        XCTAssertFalse(smol.addsBosToken)
        XCTAssertEqual(smol.encodePrompt("Hi"), smol.encode("Hi"))
    }

    /// Task contexts start with BOS for Gemma only, as lm-eval-harness scores the family
    /// (`add_bos_token` for every model_type containing "gemma"); the continuation's tokens
    /// are the same either way, and an empty context becomes lm-eval's prefix token, BOS.
    func testGemmaTaskContextsStartWithBOS() throws {
        let tok = try Tokenizer(gguf: GGUFFile(path: try Assets.gemma3))
        let task = TaskRequests(name: "t", variant: "rc_0shot", kind: .multipleChoice, primaryMetric: "acc_raw", shots: 0,
                                documents: [.init(id: 0, requests: [.init(context: "Is the sky blue?\nAnswer:", continuation: " yes"),
                                                                   .init(context: " ", continuation: "no")], gold: 0)],
                                subtasks: [], reportsNormalized: false, contentHash: "t")
        let plain = try task.tokenized(tok)[0], withBos = try task.tokenized(tok, leadingBos: true)[0]
        XCTAssertEqual(plain[0].context, tok.encode("Is the sky blue?\nAnswer:"))
        XCTAssertEqual(withBos[0].context, [2] + plain[0].context)
        XCTAssertEqual(withBos[0].continuation, plain[0].continuation)
        XCTAssertEqual(plain[1].context, [2], "an empty context is BOS, lm-eval's prefix token")
        XCTAssertEqual(plain[1].continuation, tok.encode(" no"))
        XCTAssertEqual(ModelFamily.allCases.filter(\.scoresWithBos), [.gemma3])
    }

    /// The real 270M: the next-token logits after 560 tokens are the same whether the window
    /// (512) is applied by the prefill's blocked attention or by decoding one token at a time
    /// across the window's edge, and the layer pattern is llama.cpp's.
    func testRealGemma3DecodingPastTheWindowEqualsThePrefill() throws {
        let g = try GGUFFile(path: try Assets.gemma3)
        let model = try LlamaModel.load(gguf: g)
        let c = model.config
        XCTAssertEqual(c.family, .gemma3)
        XCTAssertEqual(c.slidingWindow, 512)
        XCTAssertEqual((0..<c.numHiddenLayers).filter { !c.isLocalLayer($0) }, [5, 11, 17])
        let tok = try Tokenizer(gguf: g)
        let text = try String(contentsOfFile: try Assets.corpus, encoding: .utf8)
        let ids = [tok.bosTokenId!] + Array(tok.encode(String(text.prefix(6000))).prefix(559))
        XCTAssertEqual(ids.count, 560)
        let whole = try model.forwardCached(tokens: ids, cache: KVCache(config: c, maxTokens: 560))
        let cache = KVCache(config: c, maxTokens: 560)
        var stepped = try model.forwardCached(tokens: Array(ids[0..<500]), cache: cache)
        for t in 500..<560 { stepped = try model.forwardCached(tokens: [ids[t]], cache: cache) }
        assertClose(stepped, whole, atol: 2e-3, rtol: 0, "decode past the window vs prefill")
        print("Gemma 3 270M: decode past the window vs prefill, max |diff| \(maxAbsDiff(stepped, whole))")
    }
}
