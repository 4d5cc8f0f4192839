import PareCore

/// Where one decoder layer reads and writes; every buffer is row-major with N = B·Tq rows.
/// The training forward gives each its own place (backward needs them). Decoding reuses
/// scratch: resid in/mid/out are one stream x, attnOut and mlpOut are the norm buffer, h is
/// gate, and keys and values go straight into the cache. Aliasing is safe because every
/// kernel below reads a buffer before the one that overwrites it, and the residual adds are
/// elementwise (a + b = b + a bit for bit).
struct DecoderLayerBuffers {
    var residIn: UnsafeMutablePointer<Float>    // (N, C) residual stream entering the layer
    var residMid: UnsafeMutablePointer<Float>   // (N, C) after the attention residual
    var residOut: UnsafeMutablePointer<Float>   // (N, C) leaving the layer
    var ln: UnsafeMutablePointer<Float>         // (N, C) norm output
    var rstd1: UnsafeMutablePointer<Float>      // (N)
    var rstd2: UnsafeMutablePointer<Float>      // (N)
    var q: UnsafeMutablePointer<Float>          // (N, H·D), rotated in place
    var kNew: UnsafeMutablePointer<Float>       // (N, KV·D) this call's keys (rotated) ...
    var vNew: UnsafeMutablePointer<Float>       // (N, KV·D) ... and values
    var kAll: UnsafeMutablePointer<Float>       // (B·Tk, KV·D) every key attention reads (= kNew without a cache)
    var vAll: UnsafeMutablePointer<Float>       // (B·Tk, KV·D)
    var att: UnsafeMutablePointer<Float>        // (N, H·D) attention output, input of o_proj
    var attnOut: UnsafeMutablePointer<Float>    // (N, C) o_proj output
    var gate: UnsafeMutablePointer<Float>       // (N, F)
    var up: UnsafeMutablePointer<Float>         // (N, F)
    var h: UnsafeMutablePointer<Float>          // (N, F) silu(gate)·up, input of down_proj
    var mlpOut: UnsafeMutablePointer<Float>     // (N, C) down_proj output
    var headNorm: HeadNormBuffers? = nil        // a model with q/k norms (Qwen3, Gemma 3) only
    var outputNorms: OutputNormBuffers? = nil   // Gemma 3 only
}

extension DecoderLayerBuffers {
    var requireHeadNorm: HeadNormBuffers {
        guard let headNorm else { preconditionFailure("a model with q/k norms (Qwen3, Gemma 3) needs their buffers") }
        return headNorm
    }
    var requireOutputNorms: OutputNormBuffers {
        guard let outputNorms else { preconditionFailure("a model with output norms (Gemma 3) needs their buffers") }
        return outputNorms
    }
}

/// Where Gemma's norms of the attention and MLP outputs keep what backward needs. Without
/// `attnIn` / `mlpIn` (inference) the outputs are normalised in place.
struct OutputNormBuffers {
    var attnIn: UnsafeMutablePointer<Float>?    // (N, C) o_proj's output, before post_attention_layernorm
    var mlpIn: UnsafeMutablePointer<Float>?     // (N, C) down_proj's output, before post_feedforward_layernorm
    var rstdAttn: UnsafeMutablePointer<Float>   // (N)
    var rstdMlp: UnsafeMutablePointer<Float>    // (N)
}

/// Where Qwen3's per-head q/k norms keep what backward needs. Without `qIn` / `kIn` (inference)
/// q and k are normalised in place.
struct HeadNormBuffers {
    var qIn: UnsafeMutablePointer<Float>?       // (N, H·D) q_proj's output, before q_norm
    var kIn: UnsafeMutablePointer<Float>?       // (N, KV·D) k_proj's output, before k_norm
    var rstdQ: UnsafeMutablePointer<Float>      // (N·H) one per head and row
    var rstdK: UnsafeMutablePointer<Float>      // (N·KV)
}

extension LlamaModel {
    /// The decoder layer body, the one implementation for training, evaluation and decoding:
    ///   resid_mid = resid_in + o_proj(attn(rope(q), rope(k), v))      over input_layernorm(resid_in)
    ///   (Qwen3, Gemma 3: rope(q_norm(q)), rope(k_norm(k)))
    ///   resid_out = resid_mid + down(silu(gate(x)) · up(x))            over post_attention_layernorm(resid_mid)
    /// Gemma 3: GELU for SiLU, each block's output normalised before its residual add, the MLP's
    /// input norm named pre_feedforward_layernorm, and a window and RoPE base per layer type.
    /// `shape` gives B, Tq (this call's positions, starting at `pos0`) and Tk (all positions);
    /// `packed` places the tokens of rows that share a prefix (positions and branches instead).
    func decoderLayerForward(_ l: Int, _ b: DecoderLayerBuffers, shape: AttentionShape, pos0: Int, packed: PackedRows? = nil, observer: ForwardObserver?) {
        withRoundedInputs(rows: shape.B * shape.Tq) { lnh, hh in
            decoderLayerForward(l, b, lnh: lnh, hh: hh, shape: shape, pos0: pos0, packed: packed, observer: observer)
        }
    }

    /// In bf16, `lnh` (N, C) and `hh` (N, F) receive the norms' outputs and the MLP activation
    /// rounded to bf16 by the kernels that write them, once for every matmul that reads them.
    private func decoderLayerForward(_ l: Int, _ b: DecoderLayerBuffers, lnh: UnsafeMutablePointer<UInt16>?, hh: UnsafeMutablePointer<UInt16>?,
                                     shape: AttentionShape, pos0: Int, packed: PackedRows?, observer: ForwardObserver?) {
        attentionHalfForward(l, b, lnh: lnh, shape: shape, pos0: pos0, packed: packed, observer: observer)
        mlpHalfForward(l, b, lnh: lnh, hh: hh, shape: shape, observer: observer)
    }

    /// The layer's first residual block: resid_mid = resid_in + o_proj(attn(...)).
    func attentionHalfForward(_ l: Int, _ b: DecoderLayerBuffers, lnh: UnsafeMutablePointer<UInt16>?,
                              shape: AttentionShape, pos0: Int, packed: PackedRows?, observer: ForwardObserver?) {
        let c = config, w = layout.layers[l], P = params.pointer
        let N = shape.B * shape.Tq, C = c.hiddenSize
        let H = c.numAttentionHeads, KV = c.numKeyValueHeads, D = c.headDim
        let HD = H * D, KVD = KV * D, eps = Float(c.rmsNormEps)
        let (B, T) = (shape.B, shape.Tq), rope = ropeTable(layer: l)
        let shape = attentionShape(B: shape.B, Tq: shape.Tq, Tk: shape.Tk, layer: l)
        rmsnormForward(out: b.ln, rstd: b.rstd1, inp: b.residIn, weight: P + w.inputNorm, N: N, C: C, eps: eps, weightOffset: normOffset, outBF16: lnh)
        observer?.observe(.inputNorm, layer: l, values: b.ln, B: B, T: T, width: C)
        let qOut = b.headNorm?.qIn ?? b.q, kOut = b.headNorm?.kIn ?? b.kNew
        matmulForward(out: qOut, inp: b.ln, inpBF16: lnh, weight: linear(w.q), bias: w.qBias.map { P + $0 }, N: N, I: C, O: HD)
        matmulForward(out: kOut, inp: b.ln, inpBF16: lnh, weight: linear(w.k), bias: w.kBias.map { P + $0 }, N: N, I: C, O: KVD)
        matmulForward(out: b.vNew, inp: b.ln, inpBF16: lnh, weight: linear(w.v), bias: w.vBias.map { P + $0 }, N: N, I: C, O: KVD)
        headNormsForward(w, b, N: N)
        ropeForward(x: b.q, table: rope, N: N, T: T, pos0: pos0, nHeads: H, D: D, positions: packed?.positions)
        ropeForward(x: b.kNew, table: rope, N: N, T: T, pos0: pos0, nHeads: KV, D: D, positions: packed?.positions)
        attentionForward(out: b.att, q: b.q, k: b.kAll, v: b.vAll, shape: shape, branches: packed?.branches)
        observer?.observe(.attentionOutput, layer: l, values: b.att, B: B, T: T, width: HD)
        let oOut = b.outputNorms?.attnIn ?? b.attnOut
        matmulForward(out: oOut, inp: b.att, weight: linear(w.o), bias: w.oBias.map { P + $0 }, N: N, I: HD, O: C)
        if let n = w.attnOutNorm {
            rmsnormForward(out: b.attnOut, rstd: b.requireOutputNorms.rstdAttn, inp: oOut, weight: P + n, N: N, C: C, eps: eps, weightOffset: normOffset)
        }
        residualForward(out: b.residMid, a: b.attnOut, b: b.residIn, count: N * C)
        observer?.observe(.attentionResidual, layer: l, values: b.residMid, B: B, T: T, width: C)
    }

    /// Qwen3 and Gemma 3: q ← q_norm(q), k ← k_norm(k), each head's D values normalised on their own (rows
    /// N·H and N·KV of D), before RoPE as transformers does. Nothing for the other families.
    private func headNormsForward(_ w: LayerOffsets, _ b: DecoderLayerBuffers, N: Int) {
        guard let qn = w.qNorm, let kn = w.kNorm else { return }
        let hn = b.requireHeadNorm, c = config, D = c.headDim, eps = Float(c.rmsNormEps), P = params.pointer
        rmsnormForward(out: b.q, rstd: hn.rstdQ, inp: hn.qIn ?? b.q, weight: P + qn, N: N * c.numAttentionHeads, C: D, eps: eps, weightOffset: normOffset)
        rmsnormForward(out: b.kNew, rstd: hn.rstdK, inp: hn.kIn ?? b.kNew, weight: P + kn, N: N * c.numKeyValueHeads, C: D, eps: eps, weightOffset: normOffset)
    }

    /// The layer's second residual block: resid_out = resid_mid + down(silu(gate(x)) · up(x)).
    func mlpHalfForward(_ l: Int, _ b: DecoderLayerBuffers, lnh: UnsafeMutablePointer<UInt16>?, hh: UnsafeMutablePointer<UInt16>?,
                        shape: AttentionShape, observer: ForwardObserver?) {
        let c = config, w = layout.layers[l], P = params.pointer
        let N = shape.B * shape.Tq, C = c.hiddenSize, F = c.intermediateSize, eps = Float(c.rmsNormEps)
        let (B, T) = (shape.B, shape.Tq)
        rmsnormForward(out: b.ln, rstd: b.rstd2, inp: b.residMid, weight: P + w.postNorm, N: N, C: C, eps: eps, weightOffset: normOffset, outBF16: lnh)
        observer?.observe(.postNorm, layer: l, values: b.ln, B: B, T: T, width: C)
        matmulForward(out: b.gate, inp: b.ln, inpBF16: lnh, weight: linear(w.gate), bias: w.gateBias.map { P + $0 }, N: N, I: C, O: F)
        matmulForward(out: b.up, inp: b.ln, inpBF16: lnh, weight: linear(w.up), bias: w.upBias.map { P + $0 }, N: N, I: C, O: F)
        gluForward(out: b.h, gate: b.gate, up: b.up, count: N * F, activation: c.gatedActivation, outBF16: hh)
        observer?.observe(.mlpGate, layer: l, values: b.gate, B: B, T: T, width: F)
        observer?.observe(.mlpHidden, layer: l, values: b.h, B: B, T: T, width: F)
        let downOut = b.outputNorms?.mlpIn ?? b.mlpOut
        matmulForward(out: downOut, inp: b.h, inpBF16: hh, weight: linear(w.down), bias: w.downBias.map { P + $0 }, N: N, I: F, O: C)
        if let n = w.mlpOutNorm {
            rmsnormForward(out: b.mlpOut, rstd: b.requireOutputNorms.rstdMlp, inp: downOut, weight: P + n, N: N, C: C, eps: eps, weightOffset: normOffset)
        }
        residualForward(out: b.residOut, a: b.mlpOut, b: b.residMid, count: N * C)
    }
}

extension LlamaModel {
    /// Runs `body` with bf16 scratch for a layer's norm output (rows, C) and MLP activation
    /// (rows, F) when this model's matmuls run in bf16 over several rows; nil otherwise (fp32,
    /// or decoding one row, whose products stay f32).
    func withRoundedInputs(rows N: Int, _ body: (_ lnh: UnsafeMutablePointer<UInt16>?, _ hh: UnsafeMutablePointer<UInt16>?) -> Void) {
        guard precision == .bf16, N > 1 else { return body(nil, nil) }
        BF16Scratch.with(count: N * config.hiddenSize) { lnh in
            BF16Scratch.with(count: N * config.intermediateSize) { hh in body(lnh, hh) }
        }
    }
}
