import PareCore

/// Everything one forward pass over B × T tokens keeps for its backward, in one flat buffer,
/// plus the scratch both passes share. N = B·T rows throughout.
///
/// `forTraining: false` gives inference-only activations: every layer reuses one set of
/// buffers (the residual stream is updated in place), so a forward pass holds one layer's
/// activations instead of all of them — what a distillation teacher, evaluation and
/// calibration need. Backward refuses them.
public final class Activations {
    public let B: Int, T: Int, N: Int
    public let forTraining: Bool
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

    public init(config c: LlamaConfig, B: Int, T: Int, lmChunk: Int = 256, forTraining: Bool = true) {
        self.B = B; self.T = T; N = B * T
        self.forTraining = forTraining
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
        if forTraining {
            layers = (0..<c.numHiddenLayers).map { _ in layer() }
            residOut = take(N * C)
        } else {
            // One layer's buffers for all: resid_in is dead once resid_mid = resid_in + attn is
            // formed, so the layer's output can be written over it.
            let shared = layer()
            layers = Array(repeating: shared, count: c.numHiddenLayers)
            residOut = shared.residIn
        }
        xf = take(N * C); rstdf = take(N)
        ln = take(N * C); h = take(N * F)
        if forTraining {
            dh = take(N * F); dgate = take(N * F); dup = take(N * F)
            dres = take(N * C); dln = take(N * C); datt = take(N * HD); dq = take(N * HD)
            dk = take(N * KVD); dv = take(N * KVD)
        } else {
            (dh, dgate, dup, dres, dln, datt, dq, dk, dv) = (-1, -1, -1, -1, -1, -1, -1, -1, -1)
        }
        logits = take(self.lmChunk * c.vocabSize); losses = take(N)
        buffer = FloatBuffer(count: total)
    }

    @inline(__always) func p(_ offset: Int) -> UnsafeMutablePointer<Float> { buffer.pointer + offset }

    /// The final norm's output (N, C) of the last forward pass: the last layer's hidden state.
    public var finalHidden: UnsafePointer<Float> { UnsafePointer(p(xf)) }

    /// Per-token losses of the last pass (N), 0 where the target was ignored.
    public var tokenLosses: [Float] { Array(UnsafeBufferPointer(start: p(losses), count: N)) }
    /// Bytes held.
    public var bytes: Int { buffer.count * 4 }
}
