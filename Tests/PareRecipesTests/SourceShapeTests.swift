import Foundation
import XCTest

/// Functions stay short enough to read in one screen: none in Sources over 80 lines, and the
/// training loop (`Trainer.run`) at most 60.
final class SourceShapeTests: XCTestCase {
    static let sources = DependencyGraphTests.root.appendingPathComponent("Sources")

    /// (file, first line, lines, declaration) of every function and initializer with a body.
    static func functions() throws -> [(file: String, line: Int, count: Int, head: String)] {
        var out: [(String, Int, Int, String)] = []
        let files = try XCTUnwrap(FileManager.default.enumerator(atPath: sources.path)).compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }
        let declaration = try NSRegularExpression(pattern: #"^\s*(?:@\w+(?:\([^)]*\))?\s+)*(?:(?:public|private|fileprivate|internal|static|override|mutating|convenience|final|@inlinable)\s+)*(?:func\s+\w+|init\??)\s*[(<]"#)
        for file in files {
            let lines = try code(String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8))
            for (i, l) in lines.enumerated() where declaration.firstMatch(in: l, range: NSRange(l.startIndex..., in: l)) != nil {
                var depth = 0, opened = false
                scan: for j in i..<lines.count {
                    for ch in lines[j] {
                        if ch == "{" { depth += 1; opened = true } else if ch == "}" { depth -= 1 }
                    }
                    if opened && depth <= 0 { out.append((file, i + 1, j - i + 1, l.trimmingCharacters(in: .whitespaces))); break scan }
                    if !opened && j > i + 8 { break scan }   // a requirement without a body
                }
            }
        }
        return out
    }

    /// The lines with comments and string literals blanked, so braces count as code only.
    static func code(_ text: String) -> [String] {
        var inBlock = false
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            if line.components(separatedBy: "\"\"\"").count % 2 == 0 { inBlock.toggle(); return "" }
            if inBlock { return "" }
            var out = "", inString = false, escaped = false, prev: Character = " "
            for ch in line {
                if inString {
                    if escaped { escaped = false } else if ch == "\\" { escaped = true } else if ch == "\"" { inString = false }
                    continue
                }
                if ch == "\"" { inString = true; continue }
                if ch == "/" && prev == "/" { out.removeLast(); break }
                out.append(ch); prev = ch
            }
            return out
        }
    }

    func testNoFunctionIsLongerThanAScreen() throws {
        let all = try Self.functions()
        XCTAssertGreaterThan(all.count, 500, "the scan found the functions")
        for f in all where f.count > 80 { XCTFail("\(f.file):\(f.line) is \(f.count) lines (at most 80): \(f.head)") }
        let run = try XCTUnwrap(all.first { $0.file.hasSuffix("PareTrain/Trainer.swift") && $0.head.contains("func run(resume") })
        XCTAssertLessThanOrEqual(run.count, 60, "Trainer.run")
    }
}
