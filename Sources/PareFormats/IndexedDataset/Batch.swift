import PareCore

/// B sequences of T tokens and their next-token targets, (B, T) each, as training, evaluation,
/// calibration and the teacher cache read them from a sample stream.
public struct Batch {
    public let B: Int, T: Int
    public private(set) var tokens: [Int32]    // (B, T)
    public private(set) var targets: [Int32]   // (B, T): tokens shifted by one
    public init(B: Int, T: Int) {
        self.B = B; self.T = T
        tokens = [Int32](repeating: 0, count: B * T); targets = tokens
    }

    /// Samples first..<first + B of `stream` (whose sequence length is T).
    public mutating func fill(from stream: BlendedSampleStream, first: Int) {
        precondition(stream.seqLength == T, "the stream's sequences are \(stream.seqLength) tokens, the batch's \(T)")
        let B = B
        tokens.withUnsafeMutableBufferPointer { t in targets.withUnsafeMutableBufferPointer {
            stream.batch(first: first, B: B, tokens: t.baseAddress!, targets: $0.baseAddress!) } }
    }

    /// Tokens and targets of sequences b·rows ..< (b+1)·rows: micro-batch `b` of `rows` sequences.
    public func withMicroBatch<R>(_ b: Int, rows: Int, _ body: (_ tokens: UnsafePointer<Int32>, _ targets: UnsafePointer<Int32>) throws -> R) rethrows -> R {
        try tokens.withUnsafeBufferPointer { t in try targets.withUnsafeBufferPointer {
            try body(t.baseAddress! + b * rows * T, $0.baseAddress! + b * rows * T) } }
    }

    /// The whole batch.
    public func withPointers<R>(_ body: (_ tokens: UnsafePointer<Int32>, _ targets: UnsafePointer<Int32>) throws -> R) rethrows -> R {
        try withMicroBatch(0, rows: B, body)
    }

    /// Targets that count (not the ignore index).
    public var targetCount: Int { targets.reduce(0) { $0 + ($1 == ignoreIndex ? 0 : 1) } }
}
