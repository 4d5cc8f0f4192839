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
    /// Per-layer bf16 copies of those tensors when `savedPrecision` is bf16: layer l's at
    /// l · savedStride, the spans of `savedSpans` one after the other.
    let saved: BF16Buffer?
    /// The shared f32 spans saved per layer, (offset, count): q k v att, and gate up (each run
    /// is contiguous in `layer()`'s order).
    let savedSpans: [(offset: Int, count: Int)]
    let savedStride: Int
    /// Rows of logits materialised at once by the LM head (the (N × V) matrix never is).
    public let lmChunk: Int
    let buffer: FloatBuffer
    let layers: [LayerActivations]
    let residOut: Int      // (N, C) residual stream after the last layer
    let xf: Int            // (N, C) final-norm output
    let rstdf: Int         // (N)
    // Scratch, reused by every layer:
    let ln: Int            // (N, C) recomputed norm output
    let h: Int             // (N, F) MLP activation
    /// Backward's scratch; nil in inference activations, so they cannot reach a backward.
    let grad: GradientScratch?
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
        var headNorm: HeadNormOffsets? = nil   // Qwen3's and Gemma 3's q/k norms
        var outputNorms: OutputNormOffsets? = nil   // Gemma 3's attention and MLP output norms
    }

    /// Gemma 3's output norms: their inputs (training only) and statistics.
    struct OutputNormOffsets {
        let attnIn: Int?, mlpIn: Int?   // (N, C) each, before the norms
        let rstdAttn: Int, rstdMlp: Int // (N) each
    }

    /// Qwen3's q/k norms: their inputs (training only; inference normalises in place) and
    /// statistics, per layer in training, shared in inference.
    struct HeadNormOffsets {
        let qIn: Int?, kIn: Int?   // (N, H·D), (N, KV·D) before the norms
        let rstdQ: Int, rstdK: Int // (N·H), (N·KV)
    }

    /// Gradients backward writes, reused by every layer.
    struct GradientScratch {
        let dh: Int, dgate: Int, dup: Int   // (N, F) MLP activation, gate and up gradients
        let dres: Int, dln: Int             // (N, C) residual-stream gradient, norm-output gradient
        let datt: Int, dq: Int              // (N, H·D)
        let dk: Int, dv: Int                // (N, KV·D)
        let dkIn: Int?                      // (N, KV·D) k's gradient before k_norm (Qwen3; q's uses datt)
    }

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
        var layers: [LayerActivations]
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
        if c.headNorms {
            let H = c.numAttentionHeads, KV = c.numKeyValueHeads
            let shared = forTraining ? nil : HeadNormOffsets(qIn: nil, kIn: nil, rstdQ: take(N * H), rstdK: take(N * KV))
            for l in layers.indices {
                layers[l].headNorm = shared ?? HeadNormOffsets(qIn: take(N * HD), kIn: take(N * KVD), rstdQ: take(N * H), rstdK: take(N * KV))
            }
        }
        if c.family.isGemma {
            let shared = forTraining ? nil : OutputNormOffsets(attnIn: nil, mlpIn: nil, rstdAttn: take(N), rstdMlp: take(N))
            for l in layers.indices {
                layers[l].outputNorms = shared ?? OutputNormOffsets(attnIn: take(N * C), mlpIn: take(N * C), rstdAttn: take(N), rstdMlp: take(N))
            }
        }
        self.layers = layers
        if forTraining && savedPrecision == .bf16 {
            let l0 = layers[0]
            precondition(l0.k == l0.q + N * HD && l0.v == l0.k + N * KVD && l0.att == l0.v + N * KVD && l0.up == l0.gate + N * F)
            savedSpans = [(l0.q, N * (2 * HD + 2 * KVD)), (l0.gate, 2 * N * F)]
            savedStride = savedSpans.reduce(0) { $0 + $1.count }
            saved = BF16Buffer(count: savedStride * c.numHiddenLayers)
        } else {
            savedSpans = []; savedStride = 0; saved = nil
        }
        xf = take(N * C); rstdf = take(N)
        ln = take(N * C); h = take(N * F)
        if forTraining {
            let dh = take(N * F)
            // bf16 saves: gate and up are restored per layer and dead after the SwiGLU
            // backward, so their gradients overwrite them in place.
            let (dgate, dup) = savedPrecision == .bf16 ? (layers[0].gate, layers[0].up) : (take(N * F), take(N * F))
            grad = GradientScratch(dh: dh, dgate: dgate, dup: dup, dres: take(N * C), dln: take(N * C), datt: take(N * HD), dq: take(N * HD),
                                   dk: take(N * KVD), dv: take(N * KVD), dkIn: c.headNorms ? take(N * KVD) : nil)
        } else {
            grad = nil
        }
        logits = take(self.lmChunk * c.vocabSize); losses = take(N)
        buffer = FloatBuffer(count: total)
    }

    /// Logit rows per chunk when training on the LM loss alone. At 128 a bf16 step of
    /// SmolLM2-135M at 4 × 256 stays under 2.8 GiB (the chunk's logits and their bf16 copy take
    /// 75 MB at 256), and it measured as fast as 256 (`pare bench train`, interleaved runs).
    public static let lmLossChunk = 128

    @inline(__always) func p(_ offset: Int) -> UnsafeMutablePointer<Float> { buffer.pointer + offset }

    /// Backward's scratch: training activations only.
    var gradients: GradientScratch {
        guard let grad else { preconditionFailure("backward needs training activations (forTraining: true)") }
        return grad
    }

    /// After layer l's forward: its q, k, v, att, gate and up (in the shared f32 buffers) are
    /// stored rounded to bf16. Nothing to do when they are saved in f32.
    func saveLayer(_ l: Int) {
        guard let saved else { return }
        var at = l * savedStride
        for (f32, n) in savedSpans { bf16Round(out: saved.pointer + at, inp: p(f32), count: n); at += n }
    }

    /// Before layer l's backward: the inverse of `saveLayer`, into the shared f32 buffers.
    func restoreLayer(_ l: Int) {
        guard let saved else { return }
        var at = l * savedStride
        for (f32, n) in savedSpans { bf16Widen(out: p(f32), inp: saved.pointer + at, count: n); at += n }
    }

    /// Layer l's saved bf16 attention output (N, H·D), when activations are saved in bf16: the
    /// o_proj backward's input, already rounded (its f32 widening would only be rounded again).
    func savedAttention(_ l: Int) -> UnsafePointer<UInt16>? {
        // The first span is q k v att, laid out as the shared f32 buffers are.
        saved.map { UnsafePointer($0.pointer + l * savedStride + (layers[0].att - layers[0].q)) }
    }

    /// The final norm's output (N, C) of the last forward pass: the last layer's hidden state.
    public var finalHidden: UnsafePointer<Float> { UnsafePointer(p(xf)) }

    /// Per-token losses of the last pass (N), 0 where the target was ignored.
    public var tokenLosses: [Float] { Array(UnsafeBufferPointer(start: p(losses), count: N)) }
    /// Bytes held.
    public var bytes: Int { buffer.count * 4 + (saved?.count ?? 0) * 2 }
}
