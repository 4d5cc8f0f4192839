import XCTest
import PareTestSupport
import PareCore
import PareModel

/// A read-only model whose matrices are kept in bf16 alone (`keepMatricesInBF16Only`, what a
/// bf16 distillation teacher becomes).
final class BF16OnlyModelTests: XCTestCase {
    override func setUp() { Parallel.configure(threads: 2) }

    func testBF16OnlyModelComputesWhatItsBF16CopyDoes() throws {
        if let why = GEMM.bf16Unavailability { throw XCTSkip(why) }
        for name in Fixture.names {
            let f = try Fixture(name)
            // The twin keeps its f32 matrices, with the embedding table rounded to bf16: the
            // only value the bf16-only model reads differently (its lookup widens bf16 rows).
            let twin = try f.model()
            let embed = twin.parameter("model.embed_tokens.weight")!
            for i in embed.indices { embed[i] = floatFromBF16Bits(bf16Bits(embed[i])) }
            try twin.setPrecision(.bf16)
            let model = try f.model()
            let hash = model.contentHash
            let matrixBytes = model.layout.entries.filter { $0.shape.count == 2 }.reduce(0) { $0 + 4 * $1.count }
            let released = try model.keepMatricesInBF16Only()
            XCTAssertTrue(model.matricesInBF16Only)
            XCTAssertEqual(model.precision, .bf16)
            XCTAssertEqual(model.contentHash, hash, "\(name): the hash is the one taken before the f32 matrices went")
            // Pages wholly inside each matrix are released (each matrix keeps ≤ 2 partial pages).
            let pages = 2 * 4096 * model.layout.entries.filter { $0.shape.count == 2 }.count
            XCTAssertGreaterThanOrEqual(released, matrixBytes - pages, "\(name): bytes given back")

            let logits = try model.logits(tokens: f.tokens, B: f.B, T: f.T)
            let expected = try twin.logits(tokens: f.tokens, B: f.B, T: f.T)
            XCTAssertEqual(logits, expected, "\(name): logits equal the f32-holding model's bf16 forward")

            // Decoding reads the bf16 matrices one row at a time: it agrees with the full
            // forward up to the products' bf16 rounding of one row vs many.
            let T = min(f.T, 6), V = f.config.vocabSize
            let row = Array(f.tokens[0..<T])
            let full = try model.logits(tokens: row, B: 1, T: T)
            let cache = KVCache(config: f.config, maxTokens: T)
            var decoded: [Float] = []
            for t in row { decoded += try model.forwardCached(tokens: [t], cache: cache) }
            let scale = full.map(abs).max()!
            XCTAssertLessThanOrEqual(maxAbsDiff(decoded, full), 0.02 * scale, "\(name): decode vs full forward")
            XCTAssertEqual(decoded.count, T * V)
            print("\(name): bf16-only model: \(released) of \(matrixBytes) matrix bytes released; logits = twin's; decode vs forward max |diff| \(maxAbsDiff(decoded, full)) (logit scale \(scale))")
        }
    }
}
