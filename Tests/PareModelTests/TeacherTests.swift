import Foundation
import XCTest
import PareTestSupport
import PareCore
import PareFormats
import PareModel

/// The real bundled teacher, end to end, against transformers (scripts/teacher_reference.py).
final class TeacherTests: XCTestCase {
    override func setUp() { Parallel.configure(threads: 2) }

    func testCapitalOfFranceLogitsMatchTransformers() throws {
        let model = try LlamaModel.load(gguf: GGUFFile(path: try Assets.teacher))
        XCTAssertEqual(model.config.numHiddenLayers, 30)
        XCTAssertTrue(model.config.tieWordEmbeddings)
        let ids: [Int32] = [504, 3575, 282, 4649, 314]
        let logits = try model.logits(tokens: ids, B: 1, T: ids.count)
        let V = model.config.vocabSize
        let last = Array(logits[(ids.count - 1) * V..<ids.count * V])
        let top = last.indices.max { last[$0] < last[$1] }!
        XCTAssertEqual(top, 7042, "\" Paris\" should come first")
        XCTAssertEqual(last[7042], 17.3713, accuracy: 1e-3)
        XCTAssertEqual(last[260], 14.8886, accuracy: 1e-3, "\" the\"")
        print("teacher: \" Paris\" logit \(last[7042]), \" the\" \(last[260])")
        if let url = try? Fixture.url("smollm2-capital-logits", "safetensors") {
            let ref = try SafetensorsFile(path: url.path).floats("logits")
            assertClose(logits, ref, atol: 1e-3, rtol: 0, "teacher logits vs transformers")
            print("teacher logits vs transformers: max |diff| \(maxAbsDiff(logits, ref))")
        }
    }

    /// Perplexity on the first 8 windows of 512 of the corpus tail (last 5% of documents,
    /// EOS between them): transformers gives 12.4029 (scripts/teacher_reference.py perplexity).
    func testPerplexityMatchesTransformers() throws {
        let t = try PretrainedModel.load(try Assets.teacher)
        let docs = try Corpus.documents(path: try Assets.corpus)
        let (stream, n) = CorpusSlice.tailStream(documents: docs, fraction: 0.05, tokenizer: t.tokenizer, eos: 2)
        XCTAssertEqual(n, 502)
        XCTAssertEqual(stream.count, 56_407, "tokens of the slice incl. EOS, as transformers counts them")
        let r = try t.model.evaluate(stream: stream, seq: 512, batch: 4, maxWindows: 8)
        XCTAssertEqual(r.tokens, 8 * 512)
        XCTAssertEqual(r.perplexity, 12.4029, accuracy: 0.005 * 12.4029)
        XCTAssertEqual(r.meanLoss, 2.517931, accuracy: 1e-4)
        print(String(format: "teacher perplexity, first 8 windows: %.4f (transformers 12.4029)", r.perplexity))
    }

    /// bf16 mixed precision on the real teacher: logits over 256 tokens of the corpus tail and
    /// the loss on the 8 windows above, against fp32 (the same weights, only the matmuls differ).
    func testBF16StaysCloseToFP32() throws {
        if let why = GEMM.bf16Unavailability { throw XCTSkip(why) }
        let t = try PretrainedModel.load(try Assets.teacher)
        let docs = try Corpus.documents(path: try Assets.corpus)
        let (stream, _) = CorpusSlice.tailStream(documents: docs, fraction: 0.05, tokenizer: t.tokenizer, eos: 2)
        let ids = Array(stream.prefix(256))
        let f32 = try t.model.logits(tokens: ids, B: 1, T: ids.count)
        let r32 = try t.model.evaluate(stream: stream, seq: 512, batch: 4, maxWindows: 8)
        try t.model.setPrecision(.bf16)
        let b16 = try t.model.logits(tokens: ids, B: 1, T: ids.count)
        let r16 = try t.model.evaluate(stream: stream, seq: 512, batch: 4, maxWindows: 8)
        var maxDiff: Float = 0, sumDiff = 0.0, agree = 0
        let V = t.model.config.vocabSize
        for i in 0..<f32.count { let d = abs(f32[i] - b16[i]); maxDiff = max(maxDiff, d); sumDiff += Double(d) }
        for r in 0..<ids.count {
            let a = f32[r * V..<(r + 1) * V], b = b16[r * V..<(r + 1) * V]
            if a.indices.max(by: { a[$0] < a[$1] }) == b.indices.max(by: { b[$0] < b[$1] }) { agree += 1 }
        }
        let meanDiff = sumDiff / Double(f32.count)
        print(String(format: "teacher bf16 vs fp32: logits max |diff| %.4f, mean |diff| %.5f, argmax agrees at %d of %d positions; loss %.6f vs %.6f (8 windows of 512)",
                     maxDiff, meanDiff, agree, ids.count, r16.meanLoss, r32.meanLoss))
        XCTAssertLessThan(meanDiff, 0.08, "bf16 logits drift on average (0.044 measured with oneDNN 2.6.3 on AVX512_BF16)")
        XCTAssertLessThan(maxDiff, 1.0)
        XCTAssertGreaterThanOrEqual(agree, ids.count * 95 / 100)
        XCTAssertEqual(r16.meanLoss, r32.meanLoss, accuracy: 0.01, "bf16 loss within 0.01 nats of fp32")
    }
}
