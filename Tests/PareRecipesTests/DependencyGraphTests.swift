import Foundation
import XCTest

/// The module graph is the one the design states: Core ← Formats ← Model ← Train / Prune ←
/// Distill ← Recipes ← pare. Read from Package.swift and every source file's imports, so a
/// new arrow against the order, an import that Package.swift does not declare, or a declared
/// dependency that nothing imports fails here.
final class DependencyGraphTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// Layer of each library target; an arrow may only point to a lower layer.
    static let layer = ["PareCore": 0, "PareFormats": 1, "PareModel": 2, "PareTrain": 3, "ParePrune": 3, "PareDistill": 4,
                        "PareMPI": 4, "PareRecipes": 5, "pare": 6]

    /// target → declared dependencies (the project's own targets only), from Package.swift.
    func declared() throws -> [String: Set<String>] {
        let text = try String(contentsOf: Self.root.appendingPathComponent("Package.swift"), encoding: .utf8)
        var out: [String: Set<String>] = [:]
        // `.target(name: "X", dependencies: [...]` and `.executableTarget(name: "pare", dependencies: pareDependencies`
        let pattern = try NSRegularExpression(pattern: #"\.(?:target|executableTarget)\(\s*name: "(\w+)",\s*dependencies: (\[[^\]]*\]|\w+)"#)
        for m in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
            let name = String(text[Range(m.range(at: 1), in: text)!])
            var deps = String(text[Range(m.range(at: 2), in: text)!])
            if !deps.hasPrefix("[") {   // a variable: its initial array literal
                let v = try NSRegularExpression(pattern: "var \(deps): \\[Target.Dependency\\] = (\\[[^\\]]*\\])")
                let vm = try XCTUnwrap(v.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)), "Package.swift: \(deps)")
                deps = String(text[Range(vm.range(at: 1), in: text)!])
                if name == "pare" { deps += " \"PareMPI\"" }   // appended under PARE_MPI=1
            }
            let names = try NSRegularExpression(pattern: #""(\w+)""#).matches(in: deps, range: NSRange(deps.startIndex..., in: deps))
                .map { String(deps[Range($0.range(at: 1), in: deps)!]) }.filter { Self.layer[$0] != nil }
            out[name] = Set(names)
        }
        return out
    }

    /// target → modules its sources import (the project's own only).
    func imported(_ target: String) throws -> Set<String> {
        let dir = Self.root.appendingPathComponent("Sources/\(target)")
        var out = Set<String>()
        let files = try XCTUnwrap(FileManager.default.enumerator(atPath: dir.path)).compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }
        for f in files {
            for line in try String(contentsOf: dir.appendingPathComponent(f), encoding: .utf8).split(separator: "\n") {
                let words = line.split(separator: " ")
                if words.count == 2, words[0] == "import", Self.layer[String(words[1])] != nil { out.insert(String(words[1])) }
            }
        }
        return out
    }

    func testArrowsPointDownTheLayersAndMatchTheImports() throws {
        let deps = try declared()
        for (target, level) in Self.layer where target != "PareMPI" || deps["PareMPI"] != nil {
            let d = try XCTUnwrap(deps[target], "Package.swift declares no target \(target)")
            let imports = try imported(target)
            for dep in d { XCTAssertLessThan(Self.layer[dep]!, level, "\(target) → \(dep) points against the order") }
            for i in imports where i != target { XCTAssertTrue(d.contains(i), "\(target) imports \(i) but Package.swift does not declare it") }
            for dep in d where !imports.contains(dep) { XCTFail("\(target) declares \(dep) but never imports it") }
        }
        XCTAssertEqual(try imported("ParePrune").contains("PareTrain"), false, "pruning does not need the training loop")
    }
}
