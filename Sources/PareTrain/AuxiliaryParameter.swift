import PareCore

/// A trainable tensor that belongs to the training objective rather than to the model — the
/// distiller's learned projection from student to teacher hidden size. The trainer zeroes,
/// clips, updates and checkpoints it with the model's parameters; it is not part of the
/// final model.
public final class AuxiliaryParameter {
    public let name: String
    public let shape: [Int]
    public let values: FloatBuffer
    public let grads: FloatBuffer
    let m: FloatBuffer, v: FloatBuffer   // AdamW moments
    /// Weight decay applies (matrices decay, as the model's do).
    public let decays: Bool

    public init(name: String, shape: [Int], decays: Bool = true) {
        self.name = name; self.shape = shape; self.decays = decays
        let n = shape.reduce(1, *)
        values = FloatBuffer(count: n); grads = FloatBuffer(count: n)
        m = FloatBuffer(count: n); v = FloatBuffer(count: n)
    }

    public var count: Int { values.count }

    func zeroGradients() { grads.pointer.update(repeating: 0, count: count) }

    func update(hyper: AdamWHyper, step: Int) {
        adamwUpdate(params: values.pointer, grads: grads.pointer, m: m.pointer, v: v.pointer, count: count,
                    hyper: hyper, step: step, decay: decays)
    }
}
