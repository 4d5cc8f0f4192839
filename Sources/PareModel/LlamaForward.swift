import PareCore

/// Where a forward pass shows its activations to an observer (for importance scores).
public enum ActivationSite: Sendable {
    case inputNorm          // (N, C) output of input_layernorm
    case postNorm           // (N, C) output of post_attention_layernorm
    case attentionOutput    // (N, H·D) input of o_proj (concatenated head outputs)
    case attentionResidual  // (N, C) residual stream after the attention block (input of post_attention_layernorm)
    case mlpGate            // (N, F) gate_proj output, before the activation
    case mlpHidden          // (N, F) silu(gate)·up, input of down_proj
    case layerInput         // (N, C) residual stream entering the layer
    case layerOutput        // (N, C) residual stream leaving the layer
}

public protocol ForwardObserver: AnyObject {
    /// `values` is (B·T, width), row-major, valid only during the call.
    func observe(_ site: ActivationSite, layer: Int, values: UnsafePointer<Float>, B: Int, T: Int, width: Int)
}

extension LlamaModel {
    /// Runs the decoder over tokens (B, T) and keeps what backward needs in `acts`; ends with
    /// the final-norm output (N, C). Logits are left to `lmHead…`, chunk by chunk.
    /// Layers in `skipLayers` pass the residual stream through unchanged (as if removed).
    /// `packed` (forward only) places rows that pack several sequences sharing a prefix.
    public func forward(tokens: UnsafePointer<Int32>, acts a: Activations, skipLayers: Set<Int> = [], observer: ForwardObserver? = nil,
                        packed: PackedRows? = nil) throws {
        let c = config, N = a.N, C = c.hiddenSize, eps = Float(c.rmsNormEps)
        precondition(packed == nil || (packed!.count == N && !a.forTraining), "packed rows are for forward-only scoring")
        forwardPasses += 1
        precondition(a.savedPrecision == .fp32 || precision == .bf16, "bf16-saved activations belong to a model running in bf16")
        let P = params.pointer
        let shape = AttentionShape(B: a.B, Tq: a.T, Tk: a.T, H: c.numAttentionHeads, KV: c.numKeyValueHeads, D: c.headDim)
        try embed(tokens: tokens, N: N, into: a.p(a.layers[0].residIn))
        for l in 0..<c.numHiddenLayers {
            let s = a.layers[l]
            let residOut = l + 1 < c.numHiddenLayers ? a.layers[l + 1].residIn : a.residOut
            observer?.observe(.layerInput, layer: l, values: a.p(s.residIn), B: a.B, T: a.T, width: C)
            if skipLayers.contains(l) {
                if residOut != s.residIn { a.p(residOut).update(from: a.p(s.residIn), count: N * C) }
            } else {
                decoderLayerForward(l, layerBuffers(a, l, residOut: residOut), shape: shape, pos0: 0, packed: packed, observer: observer)
                a.saveLayer(l)
            }
            observer?.observe(.layerOutput, layer: l, values: a.p(residOut), B: a.B, T: a.T, width: C)
        }
        rmsnormForward(out: a.p(a.xf), rstd: a.p(a.rstdf), inp: a.p(a.residOut), weight: P + layout.finalNorm, N: N, C: C, eps: eps,
                       weightOffset: normOffset)
    }

    /// Layer l's buffers in `a`, writing its output at `residOut`.
    func layerBuffers(_ a: Activations, _ l: Int, residOut: Int) -> DecoderLayerBuffers {
        let s = a.layers[l]
        return DecoderLayerBuffers(
            residIn: a.p(s.residIn), residMid: a.p(s.residMid), residOut: a.p(residOut), ln: a.p(a.ln),
            rstd1: a.p(s.rstd1), rstd2: a.p(s.rstd2), q: a.p(s.q), kNew: a.p(s.k), vNew: a.p(s.v), kAll: a.p(s.k), vAll: a.p(s.v),
            att: a.p(s.att), attnOut: a.p(s.residMid), gate: a.p(s.gate), up: a.p(s.up), h: a.p(a.h), mlpOut: a.p(residOut),
            headNorm: s.headNorm.map { HeadNormBuffers(qIn: $0.qIn.map(a.p), kIn: $0.kIn.map(a.p), rstdQ: a.p($0.rstdQ), rstdK: a.p($0.rstdK)) },
            outputNorms: s.outputNorms.map { OutputNormBuffers(attnIn: $0.attnIn.map(a.p), mlpIn: $0.mlpIn.map(a.p),
                                                               rstdAttn: a.p($0.rstdAttn), rstdMlp: a.p($0.rstdMlp)) })
    }

    /// Mean-free evaluation: Σ loss and count of non-ignored targets, no gradients.
    public func loss(tokens: UnsafePointer<Int32>, targets: UnsafePointer<Int32>, acts: Activations,
                     skipLayers: Set<Int> = [], observer: ForwardObserver? = nil) throws -> (sum: Double, count: Int) {
        try forward(tokens: tokens, acts: acts, skipLayers: skipLayers, observer: observer)
        return lmHeadLoss(targets: targets, acts: acts, gradScale: nil)
    }

    /// Full logits (N, V) — for tests and small inputs; training never materialises these.
    public func logits(tokens: [Int32], B: Int, T: Int, skipLayers: Set<Int> = []) throws -> [Float] {
        precondition(tokens.count == B * T)
        let acts = Activations(config: config, B: B, T: T, lmChunk: 1, forTraining: false)
        try tokens.withUnsafeBufferPointer { try forward(tokens: $0.baseAddress!, acts: acts, skipLayers: skipLayers) }
        var out = [Float](repeating: 0, count: B * T * config.vocabSize)
        out.withUnsafeMutableBufferPointer {
            matmulForward(out: $0.baseAddress!, inp: acts.p(acts.xf), weight: linear(layout.lmHead), bias: nil,
                          N: B * T, I: config.hiddenSize, O: config.vocabSize)
        }
        return out
    }
}
