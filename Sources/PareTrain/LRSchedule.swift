import Foundation

/// Learning rate at a step: linear warm-up from lr/warmup to lr over `warmupSteps`, then
/// cosine decay to `minLR` at `decaySteps` (NeMo's CosineAnnealing), or constant.
public struct LRSchedule: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable, CaseIterable { case cosine, constant }
    public var kind: Kind
    public var lr: Double, minLR: Double
    public var warmupSteps: Int, decaySteps: Int

    public init(kind: Kind = .cosine, lr: Double, minLR: Double, warmupSteps: Int, decaySteps: Int) {
        self.kind = kind; self.lr = lr; self.minLR = minLR; self.warmupSteps = warmupSteps; self.decaySteps = decaySteps
    }

    /// `step` is 0-based: the rate used for the update that produces step + 1.
    public func rate(at step: Int) -> Double {
        if step < warmupSteps { return lr * Double(step + 1) / Double(warmupSteps) }
        if kind == .constant { return lr }
        let span = max(1, decaySteps - warmupSteps)
        let progress = min(1, Double(step - warmupSteps) / Double(span))
        return minLR + 0.5 * (lr - minLR) * (1 + cos(Double.pi * progress))
    }
}
