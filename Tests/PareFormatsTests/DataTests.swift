import Foundation
import XCTest
import PareCore
import PareFormats

final class DataTests: XCTestCase {
    let dir = NSTemporaryDirectory() + "pare-data-\(getpid())"
    override func setUp() { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func write(_ docs: [[Int32]], _ name: String, _ type: IndexedDatasetWriter.TokenType) throws -> String {
        let prefix = dir + "/" + name
        let w = try IndexedDatasetWriter(prefix: prefix, tokenType: type)
        for d in docs { try w.add(d) }
        try w.finish()
        return prefix
    }

    /// The exact bytes Megatron's MMapIndexedDatasetBuilder writes for [[1, 2, 3], [4, 5]].
    func testIndexGoldenBytes() throws {
        let prefix = try write([[1, 2, 3], [4, 5]], "golden", .uint16)
        let idx = [UInt8](try Data(contentsOf: URL(fileURLWithPath: prefix + ".idx")))
        var want: [UInt8] = Array("MMIDIDX".utf8) + [0, 0]
        func le<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { want += $0 } }
        le(UInt64(1)); want.append(8); le(UInt64(2)); le(UInt64(3))
        le(Int32(3)); le(Int32(2))          // lengths
        le(Int64(0)); le(Int64(6))          // byte offsets (uint16: 2 bytes per token)
        le(Int64(0)); le(Int64(1)); le(Int64(2))   // document indices
        XCTAssertEqual(idx, want)
        let bin = [UInt8](try Data(contentsOf: URL(fileURLWithPath: prefix + ".bin")))
        XCTAssertEqual(bin, [1, 0, 2, 0, 3, 0, 4, 0, 5, 0])
    }

    func testRoundTripBothTokenTypes() throws {
        var rng = RNG(seed: 1)
        let docs = (0..<50).map { _ in (0..<Int(1 + rng.next() % 40)).map { _ in Int32(rng.next() % 60_000) } }
        for type in [IndexedDatasetWriter.TokenType.uint16, .int32] {
            let ds = try IndexedDataset(prefix: try write(docs, "rt\(type.rawValue)", type))
            XCTAssertEqual(ds.documentCount, 50)
            XCTAssertEqual(ds.tokenCount, docs.reduce(0) { $0 + $1.count })
            for (i, d) in docs.enumerated() { XCTAssertEqual(ds.sequence(i), d) }
        }
        XCTAssertEqual(IndexedDatasetWriter.TokenType.forVocabulary(49152), .uint16)
        XCTAssertEqual(IndexedDatasetWriter.TokenType.forVocabulary(128_256), .int32)
    }

    func testCorruptIndexIsRejected() throws {
        let prefix = try write([[1, 2, 3], [4, 5]], "c", .uint16)
        let idx = [UInt8](try Data(contentsOf: URL(fileURLWithPath: prefix + ".idx")))
        for n in 0..<idx.count {
            try Data(idx[0..<n]).write(to: URL(fileURLWithPath: dir + "/t.idx"))
            try FileManager.default.copyItem(atPath: prefix + ".bin", toPath: dir + "/t.bin")
            XCTAssertThrowsError(try IndexedDataset(prefix: dir + "/t"), "truncated at \(n)")
            try FileManager.default.removeItem(atPath: dir + "/t.bin")
        }
        // A .bin from another dataset (too short) is caught, not read past.
        try Data([1, 0]).write(to: URL(fileURLWithPath: prefix + ".bin"))
        XCTAssertThrowsError(try IndexedDataset(prefix: prefix)) { XCTAssert("\($0)".contains("do not belong together"), "\($0)") }
    }

    func testSplitIsStableAndProportional() {
        let docs = (0..<20_000).map { "document number \($0)" }
        let parts = docs.map { DocumentSplit.part(of: $0, valFraction: 0.025, testFraction: 0.025, seed: 1234) }
        let val = parts.filter { $0 == .val }.count, test = parts.filter { $0 == .test }.count
        XCTAssertEqual(Double(val) / 20_000, 0.025, accuracy: 0.005)
        XCTAssertEqual(Double(test) / 20_000, 0.025, accuracy: 0.005)
        XCTAssertEqual(parts, docs.map { DocumentSplit.part(of: $0, valFraction: 0.025, testFraction: 0.025, seed: 1234) })
        XCTAssertNotEqual(parts, docs.map { DocumentSplit.part(of: $0, valFraction: 0.025, testFraction: 0.025, seed: 99) })
    }

    func testTextSources() throws {
        XCTAssertEqual(TextSources.blankLineBlocks("a\nb\n\n\n c \r\n\nd"), ["a\nb", " c ", "d"])
        try "{\"text\": \"x\"}\n\n{\"text\": \"y\"}\n".write(toFile: dir + "/ok.jsonl", atomically: true, encoding: .utf8)
        XCTAssertEqual(try TextSources.documents(dir + "/ok.jsonl", cache: dir), ["x", "y"])
        try "{\"text\": \"x\"}\n{\"text\": 5}\n".write(toFile: dir + "/bad.jsonl", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TextSources.documents(dir + "/bad.jsonl", cache: dir)) { XCTAssert("\($0)".contains("line 2"), "\($0)") }
        try "{\"text\": \"x\"\n".write(toFile: dir + "/broken.jsonl", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TextSources.documents(dir + "/broken.jsonl", cache: dir)) { XCTAssert("\($0)".contains("line 1 is not a JSON object"), "\($0)") }
        XCTAssertEqual(TextSources.jsonLine("a\"b\n"), "{\"text\": \"a\\\"b\\n\"}")
    }

    /// Samples are windows of the epoch's shuffled document stream, overlapping by one token,
    /// a pure function of the index (so training resumes exactly), every window once per epoch.
    func testGPTSampleStream() throws {
        var rng = RNG(seed: 2)
        var next: Int32 = 0
        let docs = (0..<30).map { _ in (0..<Int(3 + rng.next() % 20)).map { _ -> Int32 in next += 1; return next } }
        let ds = try IndexedDataset(prefix: try write(docs, "gpt", .int32))
        let T = 8
        let s1 = try GPTSampleStream(dataset: ds, seqLength: T, seed: 42)
        let s2 = try GPTSampleStream(dataset: ds, seqLength: T, seed: 42)
        XCTAssertEqual(s1.samplesPerEpoch, (ds.tokenCount - 1) / T)
        func sample(_ s: GPTSampleStream, _ i: Int) -> [Int32] {
            var w = [Int32](repeating: -1, count: T + 1)
            w.withUnsafeMutableBufferPointer { s.sample(i, into: $0.baseAddress!) }
            return w
        }
        let n = s1.samplesPerEpoch
        let forward = (0..<3 * n).map { sample(s1, $0) }
        let backward = (0..<3 * n).reversed().map { sample(s2, $0) }.reversed()
        XCTAssertEqual(forward, Array(backward), "sample i does not depend on what was read before")
        // Each window is a run of consecutive ids within a document, or spans document ends.
        // Every token of the epoch's first n·T positions appears exactly once as a window start..end-1.
        var seen: [Int32: Int] = [:]
        for w in forward[0..<n] { for t in w.dropLast() { seen[t, default: 0] += 1 } }
        XCTAssertEqual(seen.count, n * T, "an epoch's windows tile the stream without repeats")
        XCTAssertNotEqual(forward[0..<n].map { $0 }, forward[n..<2 * n].map { $0 }, "epochs are shuffled differently")
        XCTAssertThrowsError(try GPTSampleStream(dataset: ds, seqLength: 10_000, seed: 1))
    }

    func testBlendingFollowsWeights() throws {
        let a = try IndexedDataset(prefix: try write([[Int32](repeating: 1, count: 500)], "a", .uint16))
        let b = try IndexedDataset(prefix: try write([[Int32](repeating: 2, count: 500)], "b", .uint16))
        let blend = BlendedSampleStream(streams: [try GPTSampleStream(dataset: a, seqLength: 4, seed: 1),
                                                  try GPTSampleStream(dataset: b, seqLength: 4, seed: 1)], weights: [0.7, 0.3])
        var fromA = 0
        var tokens = [Int32](repeating: 0, count: 4), targets = tokens
        for i in 0..<1000 {
            tokens.withUnsafeMutableBufferPointer { t in targets.withUnsafeMutableBufferPointer { blend.batch(first: i, B: 1, tokens: t.baseAddress!, targets: $0.baseAddress!) } }
            if tokens[0] == 1 { fromA += 1 }
        }
        XCTAssertEqual(fromA, 700)
    }
}
