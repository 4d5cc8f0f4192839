import PareCore

/// Everything one forward pass over B × T tokens keeps for its backward, in one flat buffer,
/// plus the scratch both passes share. N = B·T rows throughout.
///
/// `forTraining: false` gives inference-only activations: every layer reuses one set of
/// buffers (the residual stream is updated in place), so a forward pass holds one layer's
/// activations instead of all of them — what a distillation teacher, evaluation and
/// calibration need. Backward refuses them.
///
/// `saveIn: .bf16` (training a bf16 model) keeps the tensors backward reads only as matmul or
/// attention/SwiGLU inputs — q, k, v, the attention output, gate and up — in bf16 between the
/// passes, as autocast does: the forward computes them in f32 in one shared set of buffers
/// and stores a rounded copy per layer; backward widens a layer's copy back before using it.
/// The residual stream and the norms' inputs stay f32. Half of those tensors' memory
/// (0.26 GiB of SmolLM2-135M's 4 × 256 step).
public final class Activations {
    public let B: Int, T: Int, N: Int
    public let forTraining: Bool
    /// The precision backward's saved q, k, v, att, gate and up are kept in.
    public let savedPrecision: Precision
    /// Per-layer bf16 copies of those tensors when `savedPrecision` is bf16.
    let saved: BF16Buffer?
    let savedLayers: [SavedLayer]
    /// Rows of logits materialised at once by the LM head (the (N × V) matrix never is).
    public let lmChunk: Int
    let buffer: FloatBuffer
    let layers: [LayerActivations]
    let residOut: Int      // (N, C) residual stream after the last layer
    let xf: Int            // (N, C) final-norm output
    let rstdf: Int         // (N)
    // Scratch, reused by every layer:
    let ln: Int            // (N, C) recomputed norm output
    let h: Int, dh: Int    // (N, F) MLP activation and its gradient
    let dgate: Int, dup: Int   // (N, F)
    let dres: Int, dln: Int    // (N, C) residual-stream gradient, norm-output gradient
    let datt: Int, dq: Int     // (N, H·D)
    let dk: Int, dv: Int       // (N, KV·D)
    let logits: Int        // (lmChunk, V)
    let losses: Int        // (N) per-token loss

    struct LayerActivations {
        let residIn: Int   // (N, C) residual stream entering the layer
        let rstd1: Int     // (N)
        let q: Int         // (N, H·D) after RoPE
        let k: Int, v: Int // (N, KV·D), k after RoPE
        let att: Int       // (N, H·D) attention output (input of o_proj)
        let residMid: Int  // (N, C) after the attention residual
        let rstd2: Int     // (N)
        let gate: Int, up: Int  // (N, F)
    }

    /// Offsets into `saved` (bf16) of one layer's tensors, shapes as in `LayerActivations`.
    struct SavedLayer { let q: Int, k: Int, v: Int, att: Int, gate: Int, up: Int }

    public init(config c: LlamaConfig, B: Int, T: Int, lmChunk: Int = 256, forTraining: Bool = true, saveIn: Precision = .fp32) {
        self.B = B; self.T = T; N = B * T
        self.forTraining = forTraining
        savedPrecision = forTraining ? saveIn : .fp32
        self.lmChunk = min(lmChunk, B * T)
        let C = c.hiddenSize, F = c.intermediateSize, HD = c.numAttentionHeads * c.headDim
        let KVD = c.numKeyValueHeads * c.headDim
        var total = 0
        func take(_ n: Int) -> Int { defer { total += n }; return total }
        let N = B * T
        func layer() -> LayerActivations {
            LayerActivations(residIn: take(N * C), rstd1: take(N), q: take(N * HD), k: take(N * KVD), v: take(N * KVD),
                             att: take(N * HD), residMid: take(N * C), rstd2: take(N), gate: take(N * F), up: take(N * F))
        }
        if forTraining && savedPrecision == .bf16 {
            // f32 residual stream and norm statistics per layer; one shared f32 set of the rest.
            let shared = layer()
            layers = [shared] + (1..<c.numHiddenLayers).map { _ in
                LayerActivations(residIn: take(N * C), rstd1: take(N), q: shared.q, k: shared.k, v: shared.v,
                                 att: shared.att, residMid: take(N * C), rstd2: take(N), gate: shared.gate, up: shared.up)
            }
            residOut = take(N * C)
        } else if forTraining {
            layers = (0..<c.numHiddenLayers).map { _ in layer() }
            residOut = take(N * C)
        } else {
            // One layer's buffers for all: resid_in is dead once resid_mid = resid_in + attn is
            // formed, so the layer's output can be written over it.
            let shared = layer()
            layers = Array(repeating: shared, count: c.numHiddenLayers)
            residOut = shared.residIn
        }
        if forTraining && savedPrecision == .bf16 {
            var count = 0
            func half(_ n: Int) -> Int { defer { count += n }; return count }
            savedLayers = (0..<c.numHiddenLayers).map { _ in
                SavedLayer(q: half(N * HD), k: half(N * KVD), v: half(N * KVD), att: half(N * HD), gate: half(N * F), up: half(N * F))
            }
            saved = BF16Buffer(count: count)
        } else {
            savedLayers = []; saved = nil
        }
        xf = take(N * C); rstdf = take(N)
        ln = take(N * C); h = take(N * F)
        if forTraining && savedPrecision == .bf16 {
            // gate and up are restored per layer and dead after the SwiGLU backward: their
            // gradients overwrite them in place.
            dh = take(N * F); dgate = layers[0].gate; dup = layers[0].up
            dres = take(N * C); dln = take(N * C); datt = take(N * HD); dq = take(N * HD)
            dk = take(N * KVD); dv = take(N * KVD)
        } else if forTraining {
            dh = take(N * F); dgate = take(N * F); dup = take(N * F)
            dres = take(N * C); dln = take(N * C); datt = take(N * HD); dq = take(N * HD)
            dk = take(N * KVD); dv = take(N * KVD)
        } else {
            (dh, dgate, dup, dres, dln, datt, dq, dk, dv) = (-1, -1, -1, -1, -1, -1, -1, -1, -1)
        }
        logits = take(self.lmChunk * c.vocabSize); losses = take(N)
        buffer = FloatBuffer(count: total)
    }

    /// Logit rows per chunk when training on the LM loss alone. At 128 a bf16 step of
    /// SmolLM2-135M at 4 × 256 stays under 2.8 GiB (the chunk's logits and their bf16 copy take
    /// 75 MB at 256), and it measured as fast as 256 (`pare bench train`, interleaved runs).
    public static let lmLossChunk = 128

    @inline(__always) func p(_ offset: Int) -> UnsafeMutablePointer<Float> { buffer.pointer + offset }

    /// After layer l's forward: its q, k, v, att, gate and up (in the shared f32 buffers) are
    /// stored rounded to bf16. Nothing to do when they are saved in f32.
    func saveLayer(_ l: Int, config c: LlamaConfig) {
        guard let saved else { return }
        let s = layers[l], h = savedLayers[l], sizes = savedSizes(c)
        for (from, to, n) in [(s.q, h.q, sizes.hd), (s.k, h.k, sizes.kvd), (s.v, h.v, sizes.kvd), (s.att, h.att, sizes.hd),
                              (s.gate, h.gate, sizes.f), (s.up, h.up, sizes.f)] {
            bf16Round(out: saved.pointer + to, inp: p(from), count: n)
        }
    }

    /// Before layer l's backward: the inverse of `saveLayer`, into the shared f32 buffers.
    func restoreLayer(_ l: Int, config c: LlamaConfig) {
        guard let saved else { return }
        let s = layers[l], h = savedLayers[l], sizes = savedSizes(c)
        for (from, to, n) in [(h.q, s.q, sizes.hd), (h.k, s.k, sizes.kvd), (h.v, s.v, sizes.kvd), (h.att, s.att, sizes.hd),
                              (h.gate, s.gate, sizes.f), (h.up, s.up, sizes.f)] {
            bf16Widen(out: p(to), inp: saved.pointer + from, count: n)
        }
    }

    private func savedSizes(_ c: LlamaConfig) -> (hd: Int, kvd: Int, f: Int) {
        (N * c.numAttentionHeads * c.headDim, N * c.numKeyValueHeads * c.headDim, N * c.intermediateSize)
    }

    /// The final norm's output (N, C) of the last forward pass: the last layer's hidden state.
    public var finalHidden: UnsafePointer<Float> { UnsafePointer(p(xf)) }

    /// Per-token losses of the last pass (N), 0 where the target was ignored.
    public var tokenLosses: [Float] { Array(UnsafeBufferPointer(start: p(losses), count: N)) }
    /// Bytes held.
    public var bytes: Int { buffer.count * 4 + (saved?.count ?? 0) * 2 }
}
