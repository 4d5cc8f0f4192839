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
}
