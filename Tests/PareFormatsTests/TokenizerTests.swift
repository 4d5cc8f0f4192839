import Foundation
import XCTest
import PareTestSupport
import PareCore
import PareFormats

/// Byte-level BPE against Python `tokenizers` (scripts/tokenizer_reference.py).
final class TokenizerTests: XCTestCase {
    static var cached: Tokenizer?
    func teacherTokenizer() throws -> Tokenizer {
        if let t = TokenizerTests.cached { return t }
        let t = try Tokenizer(gguf: GGUFFile(path: try Assets.teacher))
        TokenizerTests.cached = t
        return t
    }

    /// JSONL lines split on "\n" bytes only (U+2028 and friends may appear inside strings).
    static func jsonLines(_ path: String) throws -> [[String: Any]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try data.split(separator: UInt8(ascii: "\n")).map {
            try JSONSerialization.jsonObject(with: Data($0)) as! [String: Any]
        }
    }

    func testKnownIds() throws {
        let t = try teacherTokenizer()
        XCTAssertEqual(t.encode("Hello world! The year 2024 had 366 days."),
                       [19556, 905, 17, 378, 713, 216, 34, 32, 34, 36, 761, 216, 35, 38, 38, 2009, 30])
        XCTAssertEqual(t.bosTokenId, 1); XCTAssertEqual(t.eosTokenId, 2); XCTAssertEqual(t.unkTokenId, 0)
        XCTAssertEqual(t.encode("<|im_start|>", parseSpecial: true), [1])
        XCTAssertNotEqual(t.encode("<|im_start|>", parseSpecial: false), [1])
    }

    func testGoldenCases() throws {
        try TokenizerTests.checkGolden(try teacherTokenizer(), file: "tokenizer-golden", name: "smollm2", rerun: "scripts/tokenizer_reference.py golden")
    }

    /// Every case of the golden file FILE.jsonl (Fixtures) encodes to the reference ids, and
    /// decodes to the reference decoder's text where the golden has it (SentencePiece's drops a
    /// leading space its prefix did not add), else to the text (NFC-normalized when the
    /// tokenizer normalizes).
    static func checkGolden(_ t: Tokenizer, file golden: String, name: String, rerun: String, minimumCases: Int = 200,
                            file: StaticString = #filePath, line: UInt = #line) throws {
        guard let url = Bundle.module.url(forResource: golden, withExtension: "jsonl", subdirectory: "Fixtures") else {
            return XCTFail("golden file \(golden).jsonl missing: run \(rerun)", file: file, line: line)
        }
        let cases = try jsonLines(url.path)
        XCTAssertGreaterThanOrEqual(cases.count, minimumCases, file: file, line: line)
        var failures = 0
        for c in cases {
            let text = c["text"] as! String, special = c["special"] as! Bool
            let want = (c["ids"] as! [Int]).map(Int32.init)
            let got = t.encode(text, parseSpecial: special)
            if got != want {
                failures += 1
                if failures <= 5 {
                    XCTFail("\(name): \(String(reflecting: text).prefix(100)) special=\(special):\n got  \(got.prefix(30))\n want \(want.prefix(30))", file: file, line: line)
                }
            }
            let expected = c["decoded"] as? String ?? (t.normalizer == .nfc ? text.precomposedStringWithCanonicalMapping : text)
            XCTAssertEqual(t.decode(got), expected, "\(name): decode(encode(x)) for \(String(reflecting: text).prefix(60))", file: file, line: line)
        }
        print("tokenizer golden \(name): \(cases.count - failures)/\(cases.count) cases identical to the reference")
    }

    /// Every document of the bundled corpus round-trips, and (when the reference dump from
    /// scripts/tokenizer_reference.py corpus exists) tokenizes exactly as HF tokenizers does.
    func testWholeCorpus() throws {
        let t = try teacherTokenizer()
        let docs = try Corpus.documents(path: try Assets.corpus)
        XCTAssertGreaterThan(docs.count, 10_000)
        var enc = TokenEncoder(t)
        var bytes = 0, tokens = 0, roundTripFailures = 0
        let t0 = ProcessInfoLite.now()
        var all: [[Int32]] = []
        all.reserveCapacity(docs.count)
        for d in docs { let ids = enc.encode(d); all.append(ids); bytes += d.utf8.count; tokens += ids.count }
        let seconds = ProcessInfoLite.now() - t0
        for (d, ids) in zip(docs, all) where t.decode(ids) != d { roundTripFailures += 1 }
        XCTAssertEqual(roundTripFailures, 0, "documents whose decode(encode(x)) != x")
        print(String(format: "tokenizer corpus: %d documents, %d bytes, %d tokens, %.2f MB/s single-threaded (first pass, cold cache)",
                     docs.count, bytes, tokens, Double(bytes) / seconds / 1e6))
        let refPath = ProcessInfo.processInfo.environment["PARE_TOKENIZER_REFERENCE"] ?? "/tmp/pare-tok/corpus-ids.jsonl"
        try TokenizerTests.compare(all, of: docs, withDump: refPath, name: "tokenizer corpus", rerun: "scripts/tokenizer_reference.py corpus")
    }

    /// Each document's ids against a reference dump ({"text", "ids"} per line), when it exists.
    static func compare(_ all: [[Int32]], of docs: [String], withDump path: String, name: String, rerun: String,
                        file: StaticString = #filePath, line: UInt = #line) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            print("\(name): no reference dump at \(path); run \(rerun) to compare ids")
            return
        }
        let ref = try jsonLines(path)
        XCTAssertEqual(ref.count, docs.count, file: file, line: line)
        var mismatches = 0
        for (k, r) in ref.enumerated() where k < all.count {
            XCTAssertEqual(r["text"] as? String, docs[k], "\(name): document \(k) text differs from the reference's", file: file, line: line)
            if (r["ids"] as! [Int]).map(Int32.init) != all[k] {
                mismatches += 1
                if mismatches <= 5 { XCTFail("\(name): document \(k) ids differ from the reference: \(docs[k].prefix(80))", file: file, line: line) }
            }
        }
        print("\(name): \(ref.count - mismatches)/\(ref.count) documents identical to the reference")
    }

    /// The tokenize workers: any worker count gives the single encoder's ids, in order.
    func testParallelEncoderMatchesOneEncoderForAnyWorkerCount() throws {
        let t = try teacherTokenizer()
        let docs = Array(try Corpus.documents(path: try Assets.corpus).prefix(600)) + ["", "x"]
        var one = TokenEncoder(t)
        let want = docs.map { one.encode($0) }
        for workers in [1, 2, 3, 7] {
            var enc = ParallelEncoder(t, workers: workers)
            XCTAssertEqual(enc.encode(Array(docs[0..<250])) + enc.encode(Array(docs[250...])), want, "\(workers) workers")
        }
        var enc = ParallelEncoder(t, workers: 4)
        XCTAssertEqual(enc.encode([]), [])
    }
}
