import PareCore
import PareModel
import PareFormats

/// Runs calibration forward passes: `samples` sequences of `seqLength` tokens from a sample
/// stream (samples 0..<samples, so the set is the same every run), `batch` at a time.
public struct Calibration {
    public let stream: BlendedSampleStream
    public let samples: Int
    public let batch: Int

    public init(stream: BlendedSampleStream, samples: Int, batch: Int = 4) {
        self.stream = stream; self.samples = samples; self.batch = batch
    }

    /// Σ loss / count over the calibration set, optionally with layers skipped and an observer.
    @discardableResult
    public func run(_ model: LlamaModel, skipLayers: Set<Int> = [], observer: ForwardObserver? = nil,
                    progress: (Int, Int) -> Void = { _, _ in }) throws -> Double {
        let T = stream.seqLength
        var sum = 0.0, count = 0, done = 0
        let full = Activations(config: model.config, B: min(batch, samples), T: T, forTraining: false)
        while done < samples {
            let B = min(batch, samples - done)
            let acts = B == full.B ? full : Activations(config: model.config, B: B, T: T, forTraining: false)
            var batch = Batch(B: B, T: T)
            batch.fill(from: stream, first: done)
            let r = try batch.withPointers { try model.loss(tokens: $0, targets: $1, acts: acts, skipLayers: skipLayers, observer: observer) }
            sum += r.sum; count += r.count; done += B
            progress(done, samples)
        }
        return sum / Double(max(count, 1))
    }
}
