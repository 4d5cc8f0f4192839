import PareCore

/// A Llama decoder-only language model held as one flat fp32 parameter buffer (named views
/// in `layout`), with an optional gradient buffer of the same layout.
///
/// Dimensions used across PareModel: B batch, T time, N = B·T rows, C hidden size,
/// F intermediate size, H query heads, KV key/value heads, D head dim, V vocabulary.
public final class LlamaModel {
    public let config: LlamaConfig
    public let layout: ParameterLayout
    public let params: FloatBuffer
    public private(set) var grads: FloatBuffer?
    public let rope: RopeTable

    public init(config: LlamaConfig) throws {
        try config.validate()
        self.config = config
        layout = ParameterLayout(config: config)
        params = FloatBuffer(count: layout.count)
        rope = RopeTable(invFreq: config.ropeInvFreq())
    }

    public var parameterCount: Int { layout.count }

    /// HF's `_init_weights` for Llama: Linear and Embedding ~ N(0, std), norms 1, biases 0.
    public func initializeRandom(seed: UInt64, std: Float = 0.02) {
        var rng = RNG(seed: seed)
        for e in layout.entries {
            let p = params.pointer + e.offset
            if e.name.hasSuffix("norm.weight") {
                p.update(repeating: 1, count: e.count)
            } else if e.name.hasSuffix(".bias") {
                p.update(repeating: 0, count: e.count)
            } else {
                for i in 0..<e.count { p[i] = rng.normal() * std }
            }
        }
    }

    /// Allocates (once) and zeroes the gradient buffer.
    @discardableResult
    public func zeroGradients() -> FloatBuffer {
        if let g = grads { g.zero(); return g }
        let g = FloatBuffer(count: layout.count)
        grads = g
        return g
    }

    /// A view of one named parameter.
    public func parameter(_ name: String) -> UnsafeMutableBufferPointer<Float>? {
        layout.entry(name).map { .init(start: params.pointer + $0.offset, count: $0.count) }
    }
}
