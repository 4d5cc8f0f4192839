import XCTest
import PareCore

/// Random fixtures and comparisons shared by the kernel tests.
func randomArray(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var rng = RNG(seed: seed)
    return (0..<n).map { _ in rng.normal() * scale }
}

/// Σ r·y in Double: a scalar loss whose gradient with respect to y is r.
func project(_ y: [Float], _ r: [Float]) -> Double {
    var s: Double = 0
    for i in 0..<y.count { s += Double(y[i]) * Double(r[i]) }
    return s
}

extension Array where Element == Float {
    /// Calls body with a mutable pointer to a copy-on-write-safe buffer.
    mutating func ptr<R>(_ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        try withUnsafeMutableBufferPointer { try body($0.baseAddress!) }
    }
}

/// Runs `body` once per attention engine this machine has (OpenBLAS, batched oneDNN), with
/// the engine's name for messages; restores the default after.
func forEachAttentionEngine(_ body: (String) throws -> Void) rethrows {
    defer { AttentionEngine.current = .blas }
    for e in AttentionEngine.available {
        AttentionEngine.current = e
        try body(e.rawValue)
    }
}
