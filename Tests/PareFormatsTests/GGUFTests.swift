import XCTest
import PareTestSupport
import PareFormats

final class GGUFTests: XCTestCase {
    func testBundledTeacherHeaderAndKnownValues() throws {
        let g = try GGUFFile(path: try Assets.teacher)
        XCTAssertEqual(g.version, 3)
        XCTAssertEqual(g.tensors.count, 272)
        XCTAssertEqual(g.metadata.count, 33)
        XCTAssertEqual(try g.int("llama.block_count"), 30)
        XCTAssertEqual(try g.int("llama.embedding_length"), 576)
        XCTAssertEqual(try g.int("llama.feed_forward_length"), 1536)
        XCTAssertEqual(try g.int("llama.attention.head_count"), 9)
        XCTAssertEqual(try g.int("llama.attention.head_count_kv"), 3)
        XCTAssertEqual(try g.double("llama.rope.freq_base"), 100_000)
        XCTAssertEqual(try g.strings("tokenizer.ggml.tokens").count, 49152)
        XCTAssertEqual(try g.strings("tokenizer.ggml.merges").count, 48900)
        let embd = try g.info("token_embd.weight")
        XCTAssertEqual(embd.type, .q8_0)
        XCTAssertEqual(embd.ne, [576, 49152])
        XCTAssertNil(g.tensors["output.weight"], "SmolLM2 ties its output layer to the embedding")
        XCTAssertEqual(try g.info("blk.0.attn_q.weight").type, .q4_1)
        XCTAssertEqual(try g.info("output_norm.weight").type, .f32)

        let norm = try g.floats("output_norm.weight")
        XCTAssertEqual(Array(norm[0..<4]), [1.7578125, 1.8203125, 1.78125, 1.6015625])
        let q = try g.floats("blk.0.attn_q.weight")
        let expected: [Float] = [-0.0963135, 0.1573486, -0.0963135, -0.7304688, 1.1719971]
        for i in 0..<5 { XCTAssertEqual(q[i], expected[i], accuracy: 1e-6, "attn_q[\(i)]") }
    }

    func testNameTableRoundTrips() {
        for hf in ["model.embed_tokens.weight", "model.norm.weight", "lm_head.weight",
                   "model.layers.12.self_attn.q_proj.weight", "model.layers.0.mlp.down_proj.weight",
                   "model.layers.29.post_attention_layernorm.weight", "model.layers.3.self_attn.k_proj.bias"] {
            let g = WeightNames.gguf(fromHF: hf)
            XCTAssertNotNil(g, hf)
            XCTAssertEqual(WeightNames.hf(fromGGUF: g!), hf)
        }
        XCTAssertEqual(WeightNames.gguf(fromHF: "model.layers.7.self_attn.o_proj.weight"), "blk.7.attn_output.weight")
        XCTAssertNil(WeightNames.gguf(fromHF: "model.layers.x.mlp.up_proj.weight"))
    }

    func testPermutationIsTheDocumentedMapAndInvertible() {
        // 2 heads of 4 rows, 3 columns: HF row h·4 + t·2 + j comes from GGUF row h·4 + 2j + t.
        let rows = 8, cols = 3
        var x = (0..<rows * cols).map(Float.init)
        let original = x
        x.withUnsafeMutableBufferPointer { WeightNames.unpermuteRows($0.baseAddress!, heads: 2, rows: rows, cols: cols) }
        for h in 0..<2 { for t in 0..<2 { for j in 0..<2 {
            let hfRow = h * 4 + t * 2 + j, ggRow = h * 4 + 2 * j + t
            XCTAssertEqual(Array(x[hfRow * cols..<(hfRow + 1) * cols]), Array(original[ggRow * cols..<(ggRow + 1) * cols]))
        } } }
        x.withUnsafeMutableBufferPointer { WeightNames.permuteRows($0.baseAddress!, heads: 2, rows: rows, cols: cols) }
        XCTAssertEqual(x, original)
    }
}
