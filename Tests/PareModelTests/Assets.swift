import Foundation
import XCTest

/// The bundled assets scripts/setup installs. Tests that need them skip when they are
/// absent, unless PARE_REQUIRE_ASSETS=1 (scripts/test sets it), where absence is a failure.
enum Assets {
    static var cache: String {
        ProcessInfo.processInfo.environment["PARE_CACHE"] ?? (NSHomeDirectory() + "/.cache/pare")
    }
    static func path(_ name: String) throws -> String {
        let p = cache + "/" + name
        if FileManager.default.fileExists(atPath: p) { return p }
        if ProcessInfo.processInfo.environment["PARE_REQUIRE_ASSETS"] == "1" {
            XCTFail("\(p) is missing: run scripts/setup")
            throw XCTSkip("missing asset")
        }
        throw XCTSkip("\(p) is missing: run scripts/setup")
    }
    static var teacher: String { get throws { try path("SmolLM2-135M-Instruct.Q4_1.gguf") } }
    static var corpus: String { get throws { try path("summaries_en-us.json") } }
}
