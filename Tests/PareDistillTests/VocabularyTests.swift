import Foundation
import XCTest
import PareTestSupport
import PareCore
import PareDistill
import PareFormats
import PareModel
import PareTrain

/// Teacher and student vocabularies of different sizes over one tokenizer (Qwen2.5-7B's 152,064
/// embedding rows against the 0.5B's 151,936), and tokenizers that do not agree.
final class VocabularyTests: XCTestCase {
    override func setUp() { Parallel.configure(threads: 2) }

    /// A teacher with 16 more rows than the student: KD over the student's 240 ids equals KD
    /// from a teacher cut to those rows (its logits an explicit slice of the full teacher's),
    /// in the loss and in every student gradient.
    func testKDFromALargerVocabularyIsKDOverTheSharedIds() throws {
        let f = try Fixture("tiny-untied")
        let teacher = try f.model(), V = 240
        var small = f.config
        small.vocabSize = V
        let sliced = try LlamaModel(config: small)
        for e in sliced.layout.entries {   // (V, C) tables keep their first V rows; the rest is the same tensor
            let from = teacher.layout.entry(e.name)!
            (sliced.params.pointer + e.offset).update(from: teacher.params.pointer + from.offset, count: e.count)
        }
        let tokens = f.tokens.map { $0 % Int32(V) }, targets = f.targets.map { $0 < 0 ? $0 : $0 % Int32(V) }
        let full = try teacher.logits(tokens: tokens, B: f.B, T: f.T), cut = try sliced.logits(tokens: tokens, B: f.B, T: f.T)
        for r in 0..<(f.B * f.T) { XCTAssertEqual(Array(full[(r * 256)..<(r * 256 + V)]), Array(cut[(r * V)..<(r * V + V)])) }

        var results: [(Double, [Float])] = []
        for t in [teacher, sliced] {
            let student = try LlamaModel(config: small)
            student.initializeRandom(seed: 9, std: 0.08)
            let d = try Distiller(teacher: t, student: student, settings: KDSettings(), kdRatio: 1, microBatch: f.B, seqLength: f.T)
            student.zeroGradients()
            let acts = Activations(config: small, B: f.B, T: f.T)
            let count = targets.filter { $0 != ignoreIndex }.count
            let r = try tokens.withUnsafeBufferPointer { tk in try targets.withUnsafeBufferPointer {
                try d.microStep(tokens: tk.baseAddress!, targets: $0.baseAddress!, acts: acts, lossScale: 1 / Float(count), firstSample: 0) } }
            results.append((r.sum / Double(r.count), student.grads!.toArray()))
        }
        XCTAssertEqual(results[0].0, results[1].0, accuracy: 1e-6)
        assertClose(results[0].1, results[1].1, atol: 1e-7, rtol: 0, "student gradients")
    }

    /// A sibling as the student: nothing ties the student to the teacher but the vocabulary
    /// (here a Qwen3 of other widths and head_dim learning from a Llama): KD runs and falls.
    func testASiblingNotPrunedFromTheTeacherLearnsFromIt() throws {
        let f = try Fixture("tiny-untied")
        let teacher = try f.model(), student = try Fixture("tiny-qwen3-untied").model()
        XCTAssertNotEqual(student.parameterCount, teacher.parameterCount)
        let d = try Distiller(teacher: teacher, student: student, settings: KDSettings(), kdRatio: 1, microBatch: f.B, seqLength: f.T)
        let opt = AdamW(parameterCount: student.parameterCount, hyper: AdamWHyper(lr: 3e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0))
        let acts = Activations(config: student.config, B: f.B, T: f.T)
        let count = f.targets.filter { $0 != ignoreIndex }.count
        var losses: [Double] = []
        for _ in 0..<8 {
            student.zeroGradients()
            let r = try f.tokens.withUnsafeBufferPointer { tk in try f.targets.withUnsafeBufferPointer {
                try d.microStep(tokens: tk.baseAddress!, targets: $0.baseAddress!, acts: acts, lossScale: 1 / Float(count), firstSample: 0) } }
            losses.append(r.sum / Double(r.count))
            opt.update(student, lr: 3e-3)
        }
        XCTAssertLessThan(losses.last!, 0.5 * losses.first!, "KD loss \(losses)")
    }

    /// Tokenizers that differ say where: special tokens on one side and text on the other, or
    /// the first id whose token differs; the same tokenizer agrees with itself.
    func testTokenizersThatDisagreeSayWhere() throws {
        let t = try Tokenizer(gguf: GGUFFile(path: try Assets.teacher))
        XCTAssertNil(t.disagreement(with: t, mine: "teacher", theirs: "student"))
        let specials = t.addedTokens.filter(\.special).map(\.id).sorted()
        XCTAssertFalse(specials.isEmpty)
        let plain = Tokenizer(model: t.model, preTokenizer: t.preTokenizer, addedTokens: t.addedTokens.map { AddedToken(id: $0.id, content: $0.content, special: false) },
                              bos: t.bosTokenId, eos: t.eosTokenId, unk: t.unkTokenId, pad: t.padTokenId, chatTemplate: nil)
        let m = try XCTUnwrap(t.disagreement(with: plain, mine: "teacher", theirs: "student"))
        XCTAssert(m.contains("ids \(specials[0])–") && m.contains("are special tokens in the teacher and text in the student"), m)
        var tokens = t.model.tokens
        tokens.swapAt(1000, 1001)
        let swapped = Tokenizer(model: try BPEModel(tokens: tokens, merges: t.model.merges), preTokenizer: t.preTokenizer, addedTokens: t.addedTokens,
                                bos: t.bosTokenId, eos: t.eosTokenId, unk: nil, pad: nil, chatTemplate: nil)
        let m2 = try XCTUnwrap(t.disagreement(with: swapped, mine: "teacher", theirs: "student"))
        XCTAssert(m2.contains("id 1000 is \"\(t.model.tokens[1000])\" in the teacher and \"\(t.model.tokens[1001])\" in the student (1 more ids differ)"), m2)
    }
}
