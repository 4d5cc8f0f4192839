import Foundation
import XCTest
import PareTestSupport
import PareCore
import PareFormats
import PareModel

/// Hugging Face directories written by Pare load back into the same model and tokenizer.
final class CheckpointTests: XCTestCase {
    let dir = NSTemporaryDirectory() + "pare-ckpt-\(getpid())"
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func testSaveLoadRoundTripF32AndBF16() throws {
        let f = try Fixture("tiny-llama3")
        let model = try f.model()
        try HFCheckpoint.save(model, tokenizer: nil, to: dir + "/f32", dtype: .F32)
        let back = try HFCheckpoint.loadModel(dir + "/f32")
        XCTAssertEqual(back.config, {
            var c = model.config; c.torchDtype = "float32"; return c
        }())
        XCTAssertEqual(back.params.toArray(), model.params.toArray(), "f32 round trip is exact")

        try HFCheckpoint.save(model, tokenizer: nil, to: dir + "/bf16", dtype: .BF16)
        let bf = try HFCheckpoint.loadModel(dir + "/bf16")
        let a = bf.params.toArray(), b = model.params.toArray()
        for i in 0..<a.count { XCTAssertEqual(a[i], b[i], accuracy: abs(b[i]) / 256 + 1e-30) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/f32/model.safetensors.tmp-\(getpid())"))
    }

    /// Saving over a folder that holds a sharded model: the old index and shards would win over
    /// the new model.safetensors, so they go; other files (importance.json) stay.
    func testSavingOverAShardedModelRemovesItsWeights() throws {
        let f = try Fixture("tiny-llama3")
        let old = try f.model(), new = try f.model()
        new.initializeRandom(seed: 99)
        let out = dir + "/over"
        try HFCheckpoint.save(old, tokenizer: nil, to: out)
        let fm = FileManager.default
        try fm.moveItem(atPath: out + "/model.safetensors", toPath: out + "/model-00001-of-00001.safetensors")
        let map = Dictionary(uniqueKeysWithValues: old.layout.entries.map { ($0.name, "model-00001-of-00001.safetensors") })
        try JSONSerialization.data(withJSONObject: ["metadata": [:], "weight_map": map]).write(to: URL(fileURLWithPath: out + "/model.safetensors.index.json"))
        _ = fm.createFile(atPath: out + "/pytorch_model.bin", contents: Data([1]))
        _ = fm.createFile(atPath: out + "/importance.json", contents: Data("{}".utf8))
        XCTAssertEqual(try HFCheckpoint.loadModel(out).params.toArray(), old.params.toArray(), "the sharded model loads before")
        try HFCheckpoint.save(new, tokenizer: nil, to: out)
        XCTAssertEqual(try HFCheckpoint.loadModel(out).params.toArray(), new.params.toArray(), "the new weights load, not the old shards")
        let left = try fm.contentsOfDirectory(atPath: out).sorted()
        XCTAssertEqual(left, ["config.json", "generation_config.json", "importance.json", "model.safetensors"])
    }

    func testTiedModelHasNoLMHeadAndUntiedNeedsOne() throws {
        let tied = try Fixture("tiny-tied").model()
        try HFCheckpoint.save(tied, tokenizer: nil, to: dir + "/tied")
        let st = try SafetensorsFile(path: dir + "/tied/model.safetensors")
        XCTAssertNil(st.tensors["lm_head.weight"])
        // An untied config whose weights lack lm_head must fail naming the tensor.
        var cfg = try String(contentsOfFile: dir + "/tied/config.json", encoding: .utf8)
        cfg = cfg.replacingOccurrences(of: "\"tie_word_embeddings\" : true", with: "\"tie_word_embeddings\" : false")
        try cfg.write(toFile: dir + "/tied/config.json", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try HFCheckpoint.loadModel(dir + "/tied")) { XCTAssert("\($0)".contains("lm_head.weight"), "\($0)") }
    }

    func testShapeMismatchIsReported() throws {
        let m = try Fixture("tiny-untied").model()
        try HFCheckpoint.save(m, tokenizer: nil, to: dir + "/bad")
        var cfg = try String(contentsOfFile: dir + "/bad/config.json", encoding: .utf8)
        cfg = cfg.replacingOccurrences(of: "\"intermediate_size\" : 160", with: "\"intermediate_size\" : 128")
        try cfg.write(toFile: dir + "/bad/config.json", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try HFCheckpoint.loadModel(dir + "/bad")) { XCTAssert("\($0)".contains("shape"), "\($0)") }
        XCTAssertThrowsError(try PretrainedModel.load(dir + "/nowhere")) { XCTAssert("\($0)".contains("no such file"), "\($0)") }
    }

    /// The real teacher: GGUF → HF directory → same logits, and the written tokenizer.json
    /// reads back to the same tokenizer.
    func testTeacherConvertRoundTrip() throws {
        Parallel.configure(threads: 2)
        let teacher = try PretrainedModel.load(try Assets.teacher)
        try HFCheckpoint.save(teacher.model, tokenizer: teacher.tokenizer, to: dir + "/teacher")
        let back = try PretrainedModel.load(dir + "/teacher")
        XCTAssertEqual(back.model.params.count, teacher.model.params.count)
        XCTAssertTrue(memcmp(back.model.params.pointer, teacher.model.params.pointer, 4 * teacher.model.params.count) == 0, "weights identical")
        for text in ["Hello world! The year 2024 had 366 days.", "<|im_start|>user\nhi<|im_end|>\n", "  naïve  東京 🙂 x²"] {
            XCTAssertEqual(back.tokenizer.encode(text, parseSpecial: true), teacher.tokenizer.encode(text, parseSpecial: true), text)
            XCTAssertEqual(back.tokenizer.encode(text), teacher.tokenizer.encode(text), text)
        }
        XCTAssertEqual(back.tokenizer.eosTokenId, 2)
        XCTAssertEqual(back.tokenizer.bosTokenId, 1)
        XCTAssertEqual(back.tokenizer.chatTemplate, teacher.tokenizer.chatTemplate)
        let prompt = try back.tokenizer.chatPrompt([ChatMessage(role: "user", content: "What is the capital of France?")])
        XCTAssertTrue(prompt.hasPrefix("<|im_start|>system\nYou are a helpful AI assistant named SmolLM"))
        XCTAssertTrue(prompt.hasSuffix("<|im_start|>assistant\n"))
    }

    func testTeacherAnswersCapitalOfFrance() throws {
        Parallel.configure(threads: 2)
        let t = try PretrainedModel.load(try Assets.teacher)
        let ids = t.tokenizer.encode(try t.tokenizer.chatPrompt([ChatMessage(role: "user", content: "What is the capital of France?")]), parseSpecial: true)
        var sampler = Sampler()
        let (out, stats) = try t.model.generate(prompt: ids, maxNewTokens: 24, sampler: &sampler, stop: [2])
        let answer = t.tokenizer.decode(out, skipSpecial: true)
        print("teacher answer: \(answer) [\(String(format: "%.1f", stats.decodeTokensPerSecond)) tokens/s]")
        XCTAssertTrue(answer.contains("Paris"), answer)
    }
}
