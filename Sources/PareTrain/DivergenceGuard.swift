/// Catches a step that would wreck the run before its update is applied: a non-finite loss or
/// gradient norm, a gradient norm far above every recent one, or a loss spike over
/// `spikeFactor` × the median of the recent losses. The trainer then rewinds to its last
/// checkpoint and skips the global batches since (PaLM's remedy for loss spikes), so the
/// replay sees fresh data; which batches were skipped is part of the run's state.
public struct DivergenceGuard {
    /// What a checkpoint keeps, so a resumed run skips the same batches and judges its next
    /// step against the same recent history as an uninterrupted one.
    public struct State: Codable, Equatable, Sendable {
        /// Global-batch indices never to train on, ascending.
        public var skippedBatches: [Int] = []
        public var rewinds = 0
        public var recentLosses: [Double] = [], recentNorms: [Double] = []
    }
    let spikeFactor: Double
    private(set) var state: State
    var skipped: [Int] { state.skippedBatches }
    var rewinds: Int { state.rewinds }
    static let window = 20, minimumHistory = 10

    init(spikeFactor: Double, state: State = State()) { self.spikeFactor = spikeFactor; self.state = state }

    /// The global batch that `step` trains on: the step-th index not skipped.
    func batchIndex(step: Int) -> Int {
        var b = step
        for s in state.skippedBatches where s <= b { b += 1 }
        return b
    }

    /// A rewind that skips `batches`.
    mutating func rewound(skipping batches: [Int]) {
        state.skippedBatches = Array(Set(state.skippedBatches + batches)).sorted()
        state.rewinds += 1
    }

    /// Why this step must not be applied, or nil. `norm` is nil when the loss was not finite
    /// (its gradients are not worth measuring).
    func fault(loss: Double, norm: Double?) -> String? {
        guard loss.isFinite else { return "the training loss is not finite (NaN or inf)" }
        guard let norm, norm.isFinite else { return "the gradient norm is not finite (NaN or inf)" }
        // Exploding: far beyond every recent step's norm (and not tiny in absolute terms).
        let norms = state.recentNorms, losses = state.recentLosses
        if norms.count >= 5, norm > 10, let top = norms.max(), norm > 100 * top {
            return "gradient norm \(norm) exploded (the largest of the last \(norms.count) steps was \(top))"
        }
        if spikeFactor > 0, losses.count >= Self.minimumHistory {
            let sorted = losses.sorted(), median = sorted[sorted.count / 2]
            if loss > spikeFactor * median {
                return "loss \(format(loss)) is \(format(loss / median))× the median \(format(median)) of the last \(losses.count) steps (spike_factor \(spikeFactor))"
            }
        }
        return nil
    }

    /// A step that was applied.
    mutating func accept(loss: Double, norm: Double) {
        state.recentLosses = (state.recentLosses + [loss]).suffix(Self.window)
        state.recentNorms = (state.recentNorms + [norm]).suffix(Self.window)
    }

    private func format(_ x: Double) -> String { String((x * 1000).rounded() / 1000) }
}
