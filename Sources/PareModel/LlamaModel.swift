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
    /// Forward passes over a batch run so far (what tests count: one per validation batch).
    public internal(set) var forwardPasses = 0
    public let rope: RopeTable
    /// The local layers' table where they have their own base (Gemma 3).
    let ropeLocal: RopeTable?
    /// The precision the matmuls run in (`setPrecision`).
    public private(set) var precision: Precision = .fp32
    /// bf16 copy of `params` (same layout) while `precision` is bf16.
    private var lowPrecision: BF16Buffer?
    /// Whether the f32 copies of the matrices are gone (`keepMatricesInBF16Only`).
    public private(set) var matricesInBF16Only = false
    /// The content hash, taken before the f32 matrices went.
    var hashBeforeRelease: String?

    public init(config: LlamaConfig) throws {
        try config.validate()
        self.config = config
        layout = ParameterLayout(config: config)
        params = FloatBuffer(count: layout.count)
        rope = RopeTable(invFreq: config.ropeInvFreq())
        ropeLocal = config.ropeLocalInvFreq().map { RopeTable(invFreq: $0) }
    }

    /// Layer l's rotary table: the local one on Gemma 3's sliding-window layers.
    func ropeTable(layer l: Int) -> RopeTable { config.isLocalLayer(l) ? ropeLocal ?? rope : rope }

    /// Layer l's attention over B × Tq queries and Tk keys: its window and the model's scale.
    func attentionShape(B: Int, Tq: Int, Tk: Int, layer l: Int) -> AttentionShape {
        let c = config
        return AttentionShape(B: B, Tq: Tq, Tk: Tk, H: c.numAttentionHeads, KV: c.numKeyValueHeads, D: c.headDim,
                              scale: c.attentionScale, window: c.attentionWindow(layer: l))
    }

    /// What every RMSNorm of this model adds to its weight (Gemma: 1).
    var normOffset: Float { config.family.normWeightOffset }

    public var parameterCount: Int { layout.count }

    /// HF's `_init_weights` for Llama: Linear and Embedding ~ N(0, std), norms 1 (Gemma's
    /// stored weights 0, which it reads as 1 + w), biases 0.
    public func initializeRandom(seed: UInt64, std: Float = 0.02) {
        var rng = RNG(seed: seed)
        for e in layout.entries {
            let p = params.pointer + e.offset
            if e.name.hasSuffix("norm.weight") {
                p.update(repeating: 1 - normOffset, count: e.count)
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
        requireF32Matrices("train")
        if let g = grads { g.zero(); return g }
        let g = FloatBuffer(count: layout.count)
        grads = g
        return g
    }

    /// Runs the matmuls in `p` from now on. bf16 keeps a bf16 copy of the weights beside the
    /// f32 master weights (half their size again); throws when this machine cannot run bf16.
    public func setPrecision(_ p: Precision) throws {
        try GEMM.check(p)
        if matricesInBF16Only { precondition(p == .bf16, "this model's f32 matrices are gone; it runs in bf16 only"); return }
        precision = p
        if p == .bf16 {
            if lowPrecision == nil { lowPrecision = BF16Buffer(count: layout.count) }
            refreshLowPrecisionWeights()
        } else {
            lowPrecision = nil
        }
    }

    /// Where parameter `offset`'s bf16 copy lives, when the model runs in bf16: the optimizer
    /// writes it in the same pass as the update (`adamwUpdate(bf16Copy:)`).
    public func lowPrecisionCopy(at offset: Int) -> UnsafeMutablePointer<UInt16>? {
        lowPrecision.map { $0.pointer + offset }
    }

    /// Re-rounds the bf16 weight copy from the f32 weights. Whoever changes `params` calls
    /// this (every checkpoint load); the optimizer instead writes the copy in its own pass, once
    /// per step (not per micro-batch), through `lowPrecisionCopy(at:)`.
    public func refreshLowPrecisionWeights() {
        requireF32Matrices("train")
        if let b = lowPrecision { bf16Round(out: b.pointer, inp: params.pointer, count: layout.count) }
    }

    /// For a model that is only read from here on — a distillation teacher: runs it in bf16 and
    /// keeps every matrix (embedding, projections, LM head) in bf16 alone, giving the f32
    /// copies' memory back, so the model takes half its f32 size instead of one and a half
    /// times it. Norm weights and biases stay f32, as do the results (every product accumulates
    /// in f32). Afterwards the model cannot be trained, saved, pruned or run in fp32; its f32
    /// matrices are unreadable, so a read stops the process rather than seeing zeros.
    /// Returns the bytes given back.
    @discardableResult
    public func keepMatricesInBF16Only() throws -> Int {
        guard !matricesInBF16Only else { return 0 }
        precondition(grads == nil, "a model with gradients is being trained, not only read")
        try setPrecision(.bf16)
        hashBeforeRelease = contentHash
        var bytes = 0
        for e in layout.entries where e.shape.count == 2 { bytes += params.release(e.offset ..< e.offset + e.count) }
        matricesInBF16Only = true
        return bytes
    }

    /// Stops with a clear message when this model's f32 matrices are gone: what `use` needs
    /// cannot be done with it (a programming error, not a user's).
    public func requireF32Matrices(_ use: String) {
        precondition(!matricesInBF16Only, "this model's f32 matrices are gone (kept in bf16 only); load it again to \(use) it")
    }

    /// The linear weight at `offset` in the layout, with its bf16 copy in bf16.
    public func linear(_ offset: Int) -> LinearWeight {
        LinearWeight(f32: matricesInBF16Only ? nil : params.pointer + offset, bf16: lowPrecision.map { UnsafePointer($0.pointer + offset) })
    }

    /// out (N, C) = the embedding rows of `tokens`, read from the copy the model holds, times
    /// the family's embedding scale (Gemma: √C).
    func embed(tokens: UnsafePointer<Int32>, N: Int, into out: UnsafeMutablePointer<Float>) throws {
        let C = config.hiddenSize, V = config.vocabSize
        if matricesInBF16Only, let b = lowPrecision {
            try embeddingForward(out: out, tokens: tokens, table: b.pointer + layout.embed, N: N, C: C, V: V)
        } else {
            try embeddingForward(out: out, tokens: tokens, table: params.pointer + layout.embed, N: N, C: C, V: V)
        }
        let scale = config.embeddingScale
        if scale != 1 { PareCore.scale(out, by: scale, count: N * C) }
    }

    /// A view of one named parameter.
    public func parameter(_ name: String) -> UnsafeMutableBufferPointer<Float>? {
        requireF32Matrices("read the weights of")
        return layout.entry(name).map { .init(start: params.pointer + $0.offset, count: $0.count) }
    }
}
