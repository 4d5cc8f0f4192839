import Dispatch
import PareCore

/// Encodes batches of documents on several threads. Each worker owns a `TokenEncoder` (its
/// piece cache persists across batches) and encodes one contiguous slice of the batch, so the
/// result is in input order and does not depend on the worker count.
public struct ParallelEncoder {
    public let workers: Int
    private var encoders: [TokenEncoder]

    public init(_ tokenizer: Tokenizer, workers: Int) {
        self.workers = max(1, workers)
        encoders = (0..<self.workers).map { _ in TokenEncoder(tokenizer) }
    }

    /// Token ids of every document of `batch`, in order (no special tokens parsed).
    public mutating func encode(_ batch: [String]) -> [[Int32]] {
        let n = batch.count, w = min(workers, n)
        guard w > 0 else { return [] }
        var results = [[Int32]](repeating: [], count: n)
        results.withUnsafeMutableBufferPointer { out in
            encoders.withUnsafeMutableBufferPointer { enc in
                // Slices are disjoint: worker k writes only results[n·k/w ..< n·(k+1)/w] and enc[k].
                let box = UncheckedBox((out.baseAddress!, enc.baseAddress!))
                DispatchQueue.concurrentPerform(iterations: w) { k in
                    let (out, enc) = box.value
                    for i in (n * k / w)..<(n * (k + 1) / w) { out[i] = enc[k].encode(batch[i]) }
                }
            }
        }
        return results
    }
}
