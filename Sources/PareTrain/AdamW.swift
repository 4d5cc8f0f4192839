import PareCore
import PareModel

/// AdamW over a model's flat parameter buffer: first and second moments share the
/// parameter layout, and weight decay applies to matrices only (norms and biases exempt).
public final class AdamW {
    public var hyper: AdamWHyper
    public private(set) var step = 0
    public let m: FloatBuffer   // same layout as the parameters
    public let v: FloatBuffer

    public init(parameterCount: Int, hyper: AdamWHyper) {
        self.hyper = hyper
        m = FloatBuffer(count: parameterCount)
        v = FloatBuffer(count: parameterCount)
    }

    /// Applies one update with the model's accumulated gradients at learning rate `lr`, and
    /// the same update to any auxiliary parameters of the objective.
    public func update(_ model: LlamaModel, auxiliary: [AuxiliaryParameter] = [], lr: Float) {
        guard let g = model.grads else { preconditionFailure("no gradients to apply") }
        step += 1
        var h = hyper
        h.lr = lr
        // bf16 weights follow the masters once per step, rounded in the same pass as the update.
        for e in model.layout.entries {
            adamwUpdate(params: model.params.pointer + e.offset, grads: g.pointer + e.offset,
                        m: m.pointer + e.offset, v: v.pointer + e.offset, count: e.count,
                        hyper: h, step: step, decay: e.decays, bf16Copy: model.lowPrecisionCopy(at: e.offset))
        }
        for a in auxiliary { a.update(hyper: h, step: step) }
    }

    /// Restores the step counter when resuming from a checkpoint.
    public func restore(step: Int) { self.step = step }
}

/// Global L2 norm of gradient buffers taken together.
public func gradientNorm(_ gs: [FloatBuffer]) -> Double {
    gs.reduce(0.0) { $0 + sumOfSquares($1.pointer, count: $1.count) }.squareRoot()
}
