import Foundation
import XCTest

/// The bundled assets scripts/setup installs. Tests that need them skip when they are
/// absent, unless PARE_REQUIRE_ASSETS=1 (scripts/test sets it), where absence is a failure.
public enum Assets {
    public static var cache: String {
        ProcessInfo.processInfo.environment["PARE_CACHE"] ?? (NSHomeDirectory() + "/.cache/pare")
    }
    public static func path(_ name: String) throws -> String {
        let p = cache + "/" + name
        if FileManager.default.fileExists(atPath: p) { return p }
        if ProcessInfo.processInfo.environment["PARE_REQUIRE_ASSETS"] == "1" {
            XCTFail("\(p) is missing: run scripts/setup")
            throw XCTSkip("missing asset")
        }
        throw XCTSkip("\(p) is missing: run scripts/setup")
    }
    public static var teacher: String { get throws { try path("SmolLM2-135M-Instruct.Q4_1.gguf") } }
    public static var corpus: String { get throws { try path("summaries_en-us.json") } }
}

/// Asserts |a − b| ≤ atol + rtol·|b| elementwise and reports the largest difference and the
/// worst element.
public func assertClose(_ a: [Float], _ b: [Float], atol: Float, rtol: Float, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, "\(what): sizes differ", file: file, line: line)
    var worst = 0, worstExcess: Float = -.infinity, maxDiff: Float = 0
    for i in 0..<min(a.count, b.count) {
        let d = abs(a[i] - b[i])
        maxDiff = max(maxDiff, d.isNaN ? .infinity : d)
        let excess = d.isNaN ? .infinity : d - (atol + rtol * abs(b[i]))
        if excess > worstExcess { worstExcess = excess; worst = i }
    }
    guard !a.isEmpty else { return }
    XCTAssert(worstExcess <= 0, "\(what): max |diff| \(maxDiff) exceeds atol \(atol) + rtol \(rtol)·|ref|; worst at [\(worst)]: \(a[worst]) vs \(b[worst])", file: file, line: line)
}

public func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// The largest |analytic − numeric| over every entry of `x0`, the numeric gradient by central
/// differences of `value` with step `h`.
public func worstCentralDifference(at x0: [Float], gradient: [Float], h: Float = 1e-2, _ value: ([Float]) -> Double) -> Float {
    var x = x0, worst: Float = 0
    for i in 0..<x.count {
        let old = x[i]
        x[i] = old + h; let up = value(x)
        x[i] = old - h; let down = value(x)
        x[i] = old
        worst = max(worst, abs(gradient[i] - Float((up - down) / Double(2 * h))))
    }
    return worst
}
