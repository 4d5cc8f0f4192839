import PareCore

/// Where a forward pass shows its activations to an observer (for importance scores).
public enum ActivationSite: Sendable {
    case inputNorm          // (N, C) output of input_layernorm
    case postNorm           // (N, C) output of post_attention_layernorm
    case attentionOutput    // (N, H·D) input of o_proj (concatenated head outputs)
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
    public func forward(tokens: UnsafePointer<Int32>, acts a: Activations, skipLayers: Set<Int> = [], observer: ForwardObserver? = nil) throws {
        let c = config, N = a.N, C = c.hiddenSize, F = c.intermediateSize
        let H = c.numAttentionHeads, KV = c.numKeyValueHeads, D = c.headDim
        let HD = H * D, KVD = KV * D, eps = Float(c.rmsNormEps)
        let P = params.pointer
        let shape = AttentionShape(B: a.B, Tq: a.T, Tk: a.T, H: H, KV: KV, D: D)
        try embeddingForward(out: a.p(a.layers[0].residIn), tokens: tokens, table: P + layout.embed, N: N, C: C, V: c.vocabSize)
        for (l, w) in layout.layers.enumerated() {
            let s = a.layers[l]
            let residOut = l + 1 < c.numHiddenLayers ? a.layers[l + 1].residIn : a.residOut
            observer?.observe(.layerInput, layer: l, values: a.p(s.residIn), B: a.B, T: a.T, width: C)
            if skipLayers.contains(l) {
                if residOut != s.residIn { a.p(residOut).update(from: a.p(s.residIn), count: N * C) }
                observer?.observe(.layerOutput, layer: l, values: a.p(residOut), B: a.B, T: a.T, width: C)
                continue
            }
            // Attention block: resid_mid = resid_in + o_proj(attn(rope(q), rope(k), v))
            rmsnormForward(out: a.p(a.ln), rstd: a.p(s.rstd1), inp: a.p(s.residIn), weight: P + w.inputNorm, N: N, C: C, eps: eps)
            observer?.observe(.inputNorm, layer: l, values: a.p(a.ln), B: a.B, T: a.T, width: C)
            matmulForward(out: a.p(s.q), inp: a.p(a.ln), weight: P + w.q, bias: w.qBias.map { P + $0 }, N: N, I: C, O: HD)
            matmulForward(out: a.p(s.k), inp: a.p(a.ln), weight: P + w.k, bias: w.kBias.map { P + $0 }, N: N, I: C, O: KVD)
            matmulForward(out: a.p(s.v), inp: a.p(a.ln), weight: P + w.v, bias: w.vBias.map { P + $0 }, N: N, I: C, O: KVD)
            ropeForward(x: a.p(s.q), table: rope, N: N, T: a.T, pos0: 0, nHeads: H, D: D)
            ropeForward(x: a.p(s.k), table: rope, N: N, T: a.T, pos0: 0, nHeads: KV, D: D)
            attentionForward(out: a.p(s.att), q: a.p(s.q), k: a.p(s.k), v: a.p(s.v), shape: shape)
            observer?.observe(.attentionOutput, layer: l, values: a.p(s.att), B: a.B, T: a.T, width: HD)
            matmulForward(out: a.p(s.residMid), inp: a.p(s.att), weight: P + w.o, bias: w.oBias.map { P + $0 }, N: N, I: HD, O: C)
            residualForward(out: a.p(s.residMid), a: a.p(s.residMid), b: a.p(s.residIn), count: N * C)
            // MLP block: resid_out = resid_mid + down(silu(gate(x)) · up(x))
            rmsnormForward(out: a.p(a.ln), rstd: a.p(s.rstd2), inp: a.p(s.residMid), weight: P + w.postNorm, N: N, C: C, eps: eps)
            observer?.observe(.postNorm, layer: l, values: a.p(a.ln), B: a.B, T: a.T, width: C)
            matmulForward(out: a.p(s.gate), inp: a.p(a.ln), weight: P + w.gate, bias: w.gateBias.map { P + $0 }, N: N, I: C, O: F)
            matmulForward(out: a.p(s.up), inp: a.p(a.ln), weight: P + w.up, bias: w.upBias.map { P + $0 }, N: N, I: C, O: F)
            swigluForward(out: a.p(a.h), gate: a.p(s.gate), up: a.p(s.up), count: N * F)
            observer?.observe(.mlpGate, layer: l, values: a.p(s.gate), B: a.B, T: a.T, width: F)
            observer?.observe(.mlpHidden, layer: l, values: a.p(a.h), B: a.B, T: a.T, width: F)
            matmulForward(out: a.p(residOut), inp: a.p(a.h), weight: P + w.down, bias: w.downBias.map { P + $0 }, N: N, I: F, O: C)
            residualForward(out: a.p(residOut), a: a.p(residOut), b: a.p(s.residMid), count: N * C)
            observer?.observe(.layerOutput, layer: l, values: a.p(residOut), B: a.B, T: a.T, width: C)
        }
        rmsnormForward(out: a.p(a.xf), rstd: a.p(a.rstdf), inp: a.p(a.residOut), weight: P + layout.finalNorm, N: N, C: C, eps: eps)
    }

    /// The LM head and cross-entropy over the final-norm output, `lmChunk` rows at a time.
    /// With `gradScale`, also writes d(loss)/d(xf) into `dln` and accumulates the head's
    /// weight gradient. Returns Σ loss over non-ignored targets and their count.
    func lmHeadLoss(targets: UnsafePointer<Int32>, acts a: Activations, gradScale: Float?) -> (sum: Double, count: Int) {
        var sum: Double = 0, count = 0
        var r0 = 0
        while r0 < a.N {
            let R = min(a.lmChunk, a.N - r0)
            let logits = a.p(a.logits)
            headLogits(acts: a, row: r0, count: R, into: logits)
            let part = crossEntropyForwardBackward(logits: logits, losses: a.p(a.losses) + r0, targets: targets + r0, N: R, V: config.vocabSize, gradScale: gradScale)
            sum += part.sum; count += part.count
            if gradScale != nil, let g = grads {
                precondition(a.forTraining, "gradients need training activations (forTraining: true)")
                headBackward(acts: a, row: r0, count: R, dlogits: logits, grads: g)
            }
            r0 += R
        }
        return (sum, count)
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
            matmulForward(out: $0.baseAddress!, inp: acts.p(acts.xf), weight: params.pointer + layout.lmHead, bias: nil,
                          N: B * T, I: config.hiddenSize, O: config.vocabSize)
        }
        return out
    }
}
