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
    /// The second family's teacher (scripts/setup --qwen; scripts/test fetches it).
    public static var qwen: String { get throws { try path("Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf") } }
    /// A SentencePiece byte-fallback vocabulary in GGUF metadata (Gemma 3 270M's; tokenizer only).
    public static var sentencePieceVocabulary: String { get throws { try path("gemma-3-270m-q4_k_m.gguf") } }
    /// The real Gemma 3 270M (Q4_K_M), the Gemma 3 family's teacher; the same file.
    public static var gemma3: String { get throws { try path("gemma-3-270m-q4_k_m.gguf") } }
    /// MMLU's 57 subjects as Arrow streams, SUBJECT/{dev,validation,test}/data-00000-of-00001.arrow.
    public static var mmlu: String { get throws { try path("mmlu") } }
    /// Meta's Llama 3 tiktoken file (no weights).
    public static var llama3Tokenizer: String { get throws { try path("llama3-tokenizer.model") } }
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

/// Central finite differences of a scalar function over every element of `x` (step `eps`),
/// computed in Double around Float inputs. The one numeric-gradient helper of the tests.
public func numericGradient(_ x: inout [Float], eps: Float = 1e-2, _ f: ([Float]) -> Double) -> [Float] {
    var g = [Float](repeating: 0, count: x.count)
    for i in 0..<x.count {
        let old = x[i]
        x[i] = old + eps; let up = f(x)
        x[i] = old - eps; let down = f(x)
        x[i] = old
        g[i] = Float((up - down) / Double(2 * eps))
    }
    return g
}

/// The largest |analytic − numeric| over every entry of `x0`, the numeric gradient by central
/// differences of `value` with step `h`.
public func worstCentralDifference(at x0: [Float], gradient: [Float], h: Float = 1e-2, _ value: ([Float]) -> Double) -> Float {
    var x = x0
    let numeric = numericGradient(&x, eps: h, value)
    return zip(gradient, numeric).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
}
