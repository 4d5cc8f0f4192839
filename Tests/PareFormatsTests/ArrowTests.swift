import Foundation
import XCTest
import PareCore
import PareFormats
import PareTestSupport

/// The Arrow IPC stream reader against pyarrow (scripts/arrow_reference.py): real MMLU files
/// and a two-batch file column for column, every installed MMLU file's totals, and damaged
/// files as errors naming the file.
final class ArrowTests: XCTestCase {
    func fixture(_ name: String) throws -> String {
        try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures/arrow")).path
    }

    func json(_ name: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: try fixture(name)))) as? [String: Any])
    }

    func testColumnsEqualPyarrow() throws {
        let files = try XCTUnwrap(try json("expected.json")["files"] as? [String: [String: Any]])
        XCTAssertEqual(files.count, 3)
        for (name, columns) in files {
            let t = try ArrowTable(path: try fixture(name))
            XCTAssertEqual(Set(t.names), Set(columns.keys), name)
            for (column, values) in columns {
                switch try t.column(column) {
                case .strings(let s): XCTAssertEqual(s, values as? [String], "\(name) \(column)")
                case .stringLists(let l): XCTAssertEqual(l, values as? [[String]], "\(name) \(column)")
                case .integers(let i): XCTAssertEqual(i, (values as? [NSNumber])?.map { $0.int64Value }, "\(name) \(column)")
                }
            }
            XCTAssertEqual(t.rowCount, (columns.values.first as? [Any])?.count, name)
        }
    }

    /// Every MMLU file scripts/setup installs reads to pyarrow's totals (15,858 rows).
    func testEveryInstalledMMLUFileMatchesPyarrow() throws {
        let root = try Assets.mmlu
        let files = try XCTUnwrap(try json("mmlu-summary.json")["files"] as? [String: [String: Int]])
        XCTAssertEqual(files.count, 171)
        var rows = 0
        for (path, want) in files {
            let t = try ArrowTable(path: root + "/" + path)
            guard case .strings(let q) = try t.column("question"), case .stringLists(let c) = try t.column("choices"),
                  case .integers(let a) = try t.column("answer") else { XCTFail("\(path): column types"); continue }
            XCTAssertEqual(t.rowCount, want["rows"], path)
            XCTAssertEqual(Int(a.reduce(0, +)), want["answer_sum"], path)
            XCTAssertEqual(c.map(\.count).reduce(0, +), want["choices"], path)
            XCTAssertEqual(q.map(\.utf8.count).reduce(0, +), want["question_bytes"], path)
            XCTAssertEqual(c.joined().map(\.utf8.count).reduce(0, +), want["choice_bytes"], path)
            rows += t.rowCount
        }
        XCTAssertEqual(rows, 15_858)
    }

    /// A file cut anywhere is an error naming it: never a crash, never fewer rows.
    func testEveryTruncationIsAnErrorNamingTheFile() throws {
        let path = try fixture("two-batches.arrow"), whole = try Data(contentsOf: URL(fileURLWithPath: path))
        let cut = NSTemporaryDirectory() + "pare-arrow-cut-\(getpid()).arrow"
        defer { try? FileManager.default.removeItem(atPath: cut) }
        for n in 0..<whole.count {
            try whole.prefix(n).write(to: URL(fileURLWithPath: cut))
            XCTAssertThrowsError(try ArrowTable(path: cut), "a cut at byte \(n) of \(whole.count) was read") { e in
                XCTAssertTrue("\(e)".contains(cut), "\(e)")
            }
        }
    }

    /// Random damage: every read is bounds-checked, so a damaged file throws or reads, never traps.
    func testDamagedBytesNeverCrash() throws {
        let whole = try Data(contentsOf: URL(fileURLWithPath: try fixture("mmlu-abstract_algebra-dev.arrow")))
        let path = NSTemporaryDirectory() + "pare-arrow-damaged-\(getpid()).arrow"
        defer { try? FileManager.default.removeItem(atPath: path) }
        var rng = RNG(seed: 5)
        var refused = 0
        for _ in 0..<400 {
            var d = whole
            for _ in 0..<3 { d[Int(rng.next() % UInt64(d.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            try d.write(to: URL(fileURLWithPath: path))
            if (try? ArrowTable(path: path)) == nil { refused += 1 }
        }
        print("arrow: 400 files with 3 random bytes changed read or were refused, none crashed (\(refused) refused)")
    }

    func testNotArrowOrMissingIsNamed() throws {
        let path = NSTemporaryDirectory() + "pare-arrow-text-\(getpid()).arrow"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "question,answer\nwhat?,A\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ArrowTable(path: path)) { XCTAssertTrue("\($0)".contains(path), "\($0)") }
        XCTAssertThrowsError(try ArrowTable(path: path + ".none")) { XCTAssertTrue("\($0)".contains("no such file"), "\($0)") }
        let t = try ArrowTable(path: try fixture("two-batches.arrow"))
        XCTAssertThrowsError(try t.column("subject")) { XCTAssertTrue("\($0)".contains("no column \"subject\" (it has question, choices, answer, small)"), "\($0)") }
    }
}
