import PareCore

/// Training samples from an indexed dataset, the way Megatron's GPTDataset builds them:
/// documents (each already ending in EOD when tokenized with --append-eod) are concatenated
/// in a shuffled order per epoch and cut into windows of seq + 1 tokens that overlap by one
/// (window k covers stream positions [k·seq, k·seq + seq + 1)); the windows of an epoch are
/// visited in a shuffled order. Sample i is a pure function of (dataset, seq, seed, i), so
/// training resumes exactly from a sample index.
public final class GPTSampleStream {
    public let dataset: IndexedDataset
    public let seqLength: Int
    public let seed: UInt64
    public let samplesPerEpoch: Int
    private var cachedEpoch = -1
    private var docOrder: [Int] = []      // epoch's document order
    private var docStart: [Int] = []      // stream position where each ordered document starts (+ total)
    private var sampleOrder: [Int] = []   // epoch's window order

    public init(dataset: IndexedDataset, seqLength: Int, seed: UInt64) throws {
        self.dataset = dataset
        self.seqLength = seqLength
        self.seed = seed
        samplesPerEpoch = max(0, (dataset.tokenCount - 1) / seqLength)
        guard samplesPerEpoch > 0 else {
            throw FormatError.corrupt(path: dataset.prefix, message: "\(dataset.tokenCount) tokens cannot fill one sample of \(seqLength + 1) tokens; use a shorter \(SettingName.ref("seq_length")) or more data")
        }
    }

    static func shuffled(_ n: Int, seed: UInt64) -> [Int] {
        var a = Array(0..<n)
        var rng = RNG(seed: seed)
        if n > 1 { for i in stride(from: n - 1, to: 0, by: -1) { a.swapAt(i, Int(rng.next() % UInt64(i + 1))) } }
        return a
    }

    private func prepare(epoch: Int) {
        guard epoch != cachedEpoch else { return }
        let s = seed &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15
        docOrder = GPTSampleStream.shuffled(dataset.sequenceCount, seed: s)
        docStart = [0]
        docStart.reserveCapacity(docOrder.count + 1)
        for d in docOrder { docStart.append(docStart.last! + Int(dataset.lengths[d])) }
        sampleOrder = GPTSampleStream.shuffled(samplesPerEpoch, seed: s ^ 0x5851_F42D_4C95_7F2D)
        cachedEpoch = epoch
    }

    /// Writes sample `index`'s seq + 1 tokens into `out`.
    public func sample(_ index: Int, into out: UnsafeMutablePointer<Int32>) {
        prepare(epoch: index / samplesPerEpoch)
        var pos = sampleOrder[index % samplesPerEpoch] * seqLength
        var remaining = seqLength + 1
        var written = 0
        // The ordered document holding stream position `pos` (binary search over starts).
        var lo = 0, hi = docOrder.count - 1
        while lo < hi { let mid = (lo + hi + 1) / 2; if docStart[mid] <= pos { lo = mid } else { hi = mid - 1 } }
        var k = lo
        while remaining > 0 {
            let d = docOrder[k]
            let offset = pos - docStart[k]
            let n = min(remaining, Int(dataset.lengths[d]) - offset)
            if n > 0 { dataset.read(sequence: d, start: offset, count: n, into: out + written) }
            written += max(n, 0); remaining -= max(n, 0); pos += max(n, 0); k += 1
        }
    }
}

/// Several sample streams mixed by weight, as NeMo's `data_prefix: [w1, A, w2, B]`: global
/// sample i goes to the stream whose share is furthest behind its weight (Megatron's
/// BlendedDataset rule), which is deterministic and needs no random state.
public final class BlendedSampleStream {
    public let streams: [GPTSampleStream]
    public let weights: [Double]
    private var assignment: [(stream: Int32, index: Int32)] = []
    private var counts: [Int]

    public init(streams: [GPTSampleStream], weights: [Double]) {
        precondition(streams.count == weights.count && !streams.isEmpty)
        let total = weights.reduce(0, +)
        self.streams = streams
        self.weights = weights.map { $0 / total }
        counts = Array(repeating: 0, count: streams.count)
    }

    public var seqLength: Int { streams[0].seqLength }

    public func sample(_ index: Int, into out: UnsafeMutablePointer<Int32>) {
        while assignment.count <= index {
            let i = Double(assignment.count + 1)
            var best = 0, bestError = -Double.infinity
            for d in 0..<streams.count {
                let error = weights[d] * i - Double(counts[d])
                if error > bestError { bestError = error; best = d }
            }
            assignment.append((Int32(best), Int32(counts[best])))
            counts[best] += 1
        }
        let a = assignment[index]
        streams[Int(a.stream)].sample(Int(a.index), into: out)
    }

    /// A micro-batch: tokens (B, T) and their next-token targets (B, T) from samples
    /// first..<first + B.
    public func batch(first: Int, B: Int, tokens: UnsafeMutablePointer<Int32>, targets: UnsafeMutablePointer<Int32>) {
        let T = seqLength
        var window = [Int32](repeating: 0, count: T + 1)
        for b in 0..<B {
            window.withUnsafeMutableBufferPointer { sample(first + b, into: $0.baseAddress!) }
            for t in 0..<T { tokens[b * T + t] = window[t]; targets[b * T + t] = window[t + 1] }
        }
    }
}
