import Foundation
import XCTest
import PareCore
import PareFormats

final class DataPrefixTests: XCTestCase {
    let dir = NSTemporaryDirectory() + "pare-prefix-\(getpid())"
    override func setUp() { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func testParsesOnePrefixAndWeightedPairs() throws {
        let one = try DataPrefix("data/a")
        XCTAssertEqual(one.parts.map(\.prefix), ["data/a"]); XCTAssertEqual(one.parts.map(\.weight), [1])
        let two = try DataPrefix("0.7 data/a 0.3 data/b")
        XCTAssertEqual(two.parts.map(\.prefix), ["data/a", "data/b"]); XCTAssertEqual(two.parts.map(\.weight), [0.7, 0.3])
        XCTAssertEqual(try DataPrefix("0.7,data/a,0.3,data/b"), two, "commas separate like spaces")
        let shares = try DataPrefix("2 a 6 b").shares
        XCTAssertEqual(shares[0], 0.25, accuracy: 1e-12); XCTAssertEqual(shares[1], 0.75, accuracy: 1e-12)
    }

    func testRejectsMalformedSpecs() {
        for (spec, words) in [("0.7 a 0.3", "weight/prefix pairs"), ("-1 a 1 b", "\"-1\" is not a positive weight"),
                              ("x a 1 b", "\"x\" is not a positive weight"), ("0 a 1 b", "\"0\" is not a positive weight"), ("  ", "names no dataset")] {
            XCTAssertThrowsError(try DataPrefix(spec), spec) { XCTAssert("\($0)".contains(words), "\(spec): \($0)") }
        }
    }

    func testResolvesTheMegatronSuffix() throws {
        let w = try IndexedDatasetWriter(prefix: dir + "/x_text_document", tokenType: .uint16)
        try w.add([1, 2, 3]); try w.finish()
        XCTAssertEqual(DataPrefix.resolve(dir + "/x"), dir + "/x_text_document")
        XCTAssertEqual(DataPrefix.resolve(dir + "/x_text_document"), dir + "/x_text_document")
    }

    /// Blended by weight as Megatron's BlendedDataset: after n samples, stream d has had
    /// round(w_d · n) of them (the stream furthest behind its share goes next).
    func testWeightsDecideTheSampleShares() throws {
        var rng = RNG(seed: 2)
        for (name, base) in [("a", 0), ("b", 1000)] {
            let w = try IndexedDatasetWriter(prefix: dir + "/\(name)_text_document", tokenType: .uint16)
            for _ in 0..<40 { try w.add((0..<30).map { _ in Int32(base + Int(rng.next() % 500)) }) }
            try w.finish()
        }
        let s = try DataPrefix("0.7 \(dir)/a 0.3 \(dir)/b").stream(seqLength: 16, seed: 1)
        var window = [Int32](repeating: 0, count: 17)
        var fromB = 0
        for i in 0..<100 {
            window.withUnsafeMutableBufferPointer { s.sample(i, into: $0.baseAddress!) }
            if window[0] >= 1000 { fromB += 1 }
        }
        XCTAssertEqual(fromB, 30)
    }
}
