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
    /// The precision the matmuls run in (`setPrecision`).
    public private(set) var precision: Precision = .fp32
    /// bf16 copy of `params` (same layout) while `precision` is bf16.
    private var lowPrecision: BF16Buffer?

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

    /// Runs the matmuls in `p` from now on. bf16 keeps a bf16 copy of the weights beside the
    /// f32 master weights (half their size again); throws when this machine cannot run bf16.
    public func setPrecision(_ p: Precision) throws {
        try GEMM.check(p)
        precision = p
        if p == .bf16 {
            if lowPrecision == nil { lowPrecision = BF16Buffer(count: layout.count) }
            refreshLowPrecisionWeights()
        } else {
            lowPrecision = nil
        }
    }

    /// Re-rounds the bf16 weight copy from the f32 weights. Whoever changes `params` calls
    /// this: the optimizer once per step (not per micro-batch), and every checkpoint load.
    public func refreshLowPrecisionWeights() {
        if let b = lowPrecision { bf16Round(out: b.pointer, inp: params.pointer, count: layout.count) }
    }

    /// The linear weight at `offset` in the layout, with its bf16 copy in bf16.
    public func linear(_ offset: Int) -> LinearWeight {
        LinearWeight(f32: params.pointer + offset, bf16: lowPrecision.map { UnsafePointer($0.pointer + offset) })
    }

    /// A view of one named parameter.
    public func parameter(_ name: String) -> UnsafeMutableBufferPointer<Float>? {
        layout.entry(name).map { .init(start: params.pointer + $0.offset, count: $0.count) }
    }
}
