import PareCore

extension LlamaModel {
    /// One micro-batch: forward, LM-head loss, and backward, adding into `grads`.
    /// `lossScale` multiplies d(Σ loss); pass 1 / (non-ignored targets in the whole global
    /// batch) so accumulated micro-batches give exactly the global mean's gradient. When nil,
    /// this micro-batch's own count is used. Returns Σ loss and the count of its targets.
    @discardableResult
    public func forwardBackward(tokens: UnsafePointer<Int32>, targets: UnsafePointer<Int32>, acts a: Activations, lossScale: Float? = nil) throws -> (sum: Double, count: Int) {
        guard let g = grads else { preconditionFailure("call zeroGradients() before forwardBackward") }
        try forward(tokens: tokens, acts: a)
        var scale = lossScale
        if scale == nil {
            var n = 0
            for i in 0..<a.N where targets[i] != ignoreIndex { n += 1 }
            scale = 1 / Float(max(n, 1))
        }
        let result = lmHeadLoss(targets: targets, acts: a, gradScale: scale)
        backward(tokens: tokens, acts: a, grads: g)
        return result
    }

    /// Backward from d(loss)/d(xf), which `lmHeadLoss` left in `dln`: the forward's kernels
    /// in exactly the reverse order, recomputing the norm outputs and the MLP activation.
    /// `hiddenGrads[l]` (N, C), when given, is an extra d(loss)/d(hidden state after layer l,
    /// after the norm that reads it: layer l+1's input norm, or the final norm for the last
    /// layer) — how intermediate-state distillation enters.
    func backward(tokens: UnsafePointer<Int32>, acts a: Activations, grads: FloatBuffer, hiddenGrads: [Int: UnsafePointer<Float>] = [:]) {
        let g = a.gradients
        let c = config, N = a.N, C = c.hiddenSize
        let P = params.pointer, G = grads.pointer
        let dres = a.p(g.dres)
        if let h = hiddenGrads[c.numHiddenLayers - 1] { axpy(1, h, a.p(g.dln), N * C) }
        // Final norm: dres = ∂L/∂resid_out
        dres.update(repeating: 0, count: N * C)
        rmsnormBackward(dinp: dres, dweight: G + layout.finalNorm, dout: a.p(g.dln), inp: a.p(a.residOut),
                        weight: P + layout.finalNorm, rstd: a.p(a.rstdf), N: N, C: C, weightOffset: normOffset)
        withRoundedInputs(rows: N) { lnh, hh in   // one pair of bf16 buffers for every layer
            for l in stride(from: c.numHiddenLayers - 1, through: 0, by: -1) {
                a.restoreLayer(l)
                mlpBackward(l, acts: a, grads: G, lnh: lnh, hh: hh)
                attentionBackward(l, acts: a, grads: G, lnh: lnh)
                if l > 0, let h = hiddenGrads[l - 1] { axpy(1, h, a.p(g.dln), N * C) }   // this norm's output is layer l−1's hidden state
                let w = layout.layers[l], s = a.layers[l]
                rmsnormBackward(dinp: dres, dweight: G + w.inputNorm, dout: a.p(g.dln), inp: a.p(s.residIn),
                                weight: P + w.inputNorm, rstd: a.p(s.rstd1), N: N, C: C, weightOffset: normOffset)
            }
        }
        if c.embeddingScale != 1 { scale(dres, by: c.embeddingScale, count: N * C) }
        embeddingBackward(dtable: G + layout.embed, dout: dres, tokens: tokens, N: N, C: C)
    }

    /// Layer l's MLP block backward: dres (∂L/∂resid_out) flows through the residual unchanged
    /// and through the block, to which the block's gradient is added (∂L/∂resid_mid).
    private func mlpBackward(_ l: Int, acts a: Activations, grads G: UnsafeMutablePointer<Float>,
                             lnh: UnsafeMutablePointer<UInt16>?, hh: UnsafeMutablePointer<UInt16>?) {
        let g = a.gradients, w = layout.layers[l], s = a.layers[l]
        let c = config, N = a.N, C = c.hiddenSize, F = c.intermediateSize, eps = Float(c.rmsNormEps), P = params.pointer
        let dres = a.p(g.dres)
        rmsnormForward(out: a.p(a.ln), rstd: a.p(s.rstd2), inp: a.p(s.residMid), weight: P + w.postNorm, N: N, C: C, eps: eps,
                       weightOffset: normOffset, outBF16: lnh)
        gluForward(out: a.p(a.h), gate: a.p(s.gate), up: a.p(s.up), count: N * F, activation: c.gatedActivation, outBF16: hh)
        let dDown = outputNormBackward(w.mlpOutNorm, input: s.outputNorms?.mlpIn, rstd: s.outputNorms?.rstdMlp, acts: a, grads: G)
        matmulBackward(dinp: a.p(g.dh), dweight: G + w.down, dbias: w.downBias.map { G + $0 }, dout: dDown,
                       inp: a.p(a.h), inpBF16: hh, weight: linear(w.down), N: N, I: F, O: C, overwriteDinp: true)
        gluBackward(dgate: a.p(g.dgate), dup: a.p(g.dup), dout: a.p(g.dh), gate: a.p(s.gate), up: a.p(s.up), count: N * F,
                    activation: c.gatedActivation)
        matmulBackward(dinp: a.p(g.dln), dweight: G + w.gate, dbias: w.gateBias.map { G + $0 }, dout: a.p(g.dgate),
                       inp: a.p(a.ln), inpBF16: lnh, weight: linear(w.gate), N: N, I: C, O: F, overwriteDinp: true)
        matmulBackward(dinp: a.p(g.dln), dweight: G + w.up, dbias: w.upBias.map { G + $0 }, dout: a.p(g.dup),
                       inp: a.p(a.ln), inpBF16: lnh, weight: linear(w.up), N: N, I: C, O: F)
        rmsnormBackward(dinp: dres, dweight: G + w.postNorm, dout: a.p(g.dln), inp: a.p(s.residMid),
                        weight: P + w.postNorm, rstd: a.p(s.rstd2), N: N, C: C, weightOffset: normOffset)
    }

    /// Layer l's attention block backward, from dres (∂L/∂resid_mid) to the input norm's output
    /// gradient in dln (the caller takes it through that norm into dres).
    private func attentionBackward(_ l: Int, acts a: Activations, grads G: UnsafeMutablePointer<Float>, lnh: UnsafeMutablePointer<UInt16>?) {
        let g = a.gradients, w = layout.layers[l], s = a.layers[l]
        let c = config, N = a.N, C = c.hiddenSize, eps = Float(c.rmsNormEps), P = params.pointer
        let H = c.numAttentionHeads, KV = c.numKeyValueHeads, D = c.headDim, HD = H * D, KVD = KV * D
        let shape = attentionShape(B: a.B, Tq: a.T, Tk: a.T, layer: l), rope = ropeTable(layer: l)
        let dO = outputNormBackward(w.attnOutNorm, input: s.outputNorms?.attnIn, rstd: s.outputNorms?.rstdAttn, acts: a, grads: G)
        matmulBackward(dinp: a.p(g.datt), dweight: G + w.o, dbias: w.oBias.map { G + $0 }, dout: dO,
                       inp: a.p(s.att), inpBF16: a.savedAttention(l), weight: linear(w.o), N: N, I: HD, O: C, overwriteDinp: true)
        a.p(g.dq).update(repeating: 0, count: N * HD)
        a.p(g.dk).update(repeating: 0, count: N * KVD)
        a.p(g.dv).update(repeating: 0, count: N * KVD)
        PareCore.attentionBackward(dq: a.p(g.dq), dk: a.p(g.dk), dv: a.p(g.dv), dout: a.p(g.datt), q: a.p(s.q), k: a.p(s.k),
                                   v: a.p(s.v), shape: shape)
        ropeBackward(dx: a.p(g.dq), table: rope, N: N, T: a.T, pos0: 0, nHeads: H, D: D)
        ropeBackward(dx: a.p(g.dk), table: rope, N: N, T: a.T, pos0: 0, nHeads: KV, D: D)
        let (dqIn, dkIn) = headNormsBackward(w, s, acts: a, grads: G)
        rmsnormForward(out: a.p(a.ln), rstd: a.p(s.rstd1), inp: a.p(s.residIn), weight: P + w.inputNorm, N: N, C: C, eps: eps,
                       weightOffset: normOffset, outBF16: lnh)
        matmulBackward(dinp: a.p(g.dln), dweight: G + w.q, dbias: w.qBias.map { G + $0 }, dout: dqIn,
                       inp: a.p(a.ln), inpBF16: lnh, weight: linear(w.q), N: N, I: C, O: HD, overwriteDinp: true)
        matmulBackward(dinp: a.p(g.dln), dweight: G + w.k, dbias: w.kBias.map { G + $0 }, dout: dkIn,
                       inp: a.p(a.ln), inpBF16: lnh, weight: linear(w.k), N: N, I: C, O: KVD)
        matmulBackward(dinp: a.p(g.dln), dweight: G + w.v, dbias: w.vBias.map { G + $0 }, dout: a.p(g.dv),
                       inp: a.p(a.ln), inpBF16: lnh, weight: linear(w.v), N: N, I: C, O: KVD)
    }

    /// Gemma's norm of a block's output, backward: from dres (the gradient of the normalised
    /// output, which the residual add passes unchanged) to that of the projection's output, in
    /// dln (free at this point of both blocks), adding the norm weight's gradient. Without the
    /// norm, dres itself.
    private func outputNormBackward(_ norm: Int?, input: Int?, rstd: Int?, acts a: Activations,
                                    grads G: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
        let g = a.gradients
        guard let norm else { return a.p(g.dres) }
        guard let input, let rstd else { preconditionFailure("training activations of a model with output norms keep their inputs") }
        let N = a.N, C = config.hiddenSize, d = a.p(g.dln)
        d.update(repeating: 0, count: N * C)
        rmsnormBackward(dinp: d, dweight: G + norm, dout: a.p(g.dres), inp: a.p(input), weight: params.pointer + norm,
                        rstd: a.p(rstd), N: N, C: C, weightOffset: normOffset)
        return d
    }
}

extension LlamaModel {
    /// Qwen3's q/k norms backward: from the gradients of the normalised q and k (dq, dk, after
    /// RoPE's backward) to those of q_proj's and k_proj's outputs, adding the norm weights'
    /// gradients. Returns where those are: q's in datt (dead once attention's backward has
    /// run), k's in dkIn. Without the norms, dq and dk themselves.
    func headNormsBackward(_ w: LayerOffsets, _ s: Activations.LayerActivations, acts a: Activations,
                           grads G: UnsafeMutablePointer<Float>) -> (dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>) {
        let g = a.gradients
        guard let qn = w.qNorm, let kn = w.kNorm else { return (a.p(g.dq), a.p(g.dk)) }
        guard let hn = s.headNorm, let qIn = hn.qIn, let kIn = hn.kIn, let dkInOffset = g.dkIn else {
            preconditionFailure("training activations of a model with q/k norms keep their inputs")
        }
        let c = config, N = a.N, H = c.numAttentionHeads, KV = c.numKeyValueHeads, D = c.headDim, P = params.pointer
        let dqIn = a.p(g.datt), dkIn = a.p(dkInOffset)
        dqIn.update(repeating: 0, count: N * H * D)
        dkIn.update(repeating: 0, count: N * KV * D)
        rmsnormBackward(dinp: dqIn, dweight: G + qn, dout: a.p(g.dq), inp: a.p(qIn), weight: P + qn, rstd: a.p(hn.rstdQ), N: N * H, C: D,
                        weightOffset: normOffset)
        rmsnormBackward(dinp: dkIn, dweight: G + kn, dout: a.p(g.dk), inp: a.p(kIn), weight: P + kn, rstd: a.p(hn.rstdK), N: N * KV, C: D,
                        weightOffset: normOffset)
        return (dqIn, dkIn)
    }
}

extension LlamaModel {
    /// Forward, a caller-defined loss on the logits `lmChunk` rows at a time, then backward,
    /// adding into `grads`. `chunkLoss(r0, R, logits)` receives the student's logits (R, V)
    /// and must overwrite them with d(loss)/d(logits); gradients flow from there.
    /// `observer` sees the forward pass; `hiddenGradients`, called after the last chunk,
    /// returns extra gradients for hidden states (see `backward`).
    public func forwardBackward(tokens: UnsafePointer<Int32>, acts a: Activations, observer: ForwardObserver? = nil,
                                chunkLoss: (_ row: Int, _ count: Int, _ logits: UnsafeMutablePointer<Float>) throws -> Void,
                                hiddenGradients: (() throws -> [Int: UnsafePointer<Float>])? = nil) throws {
        guard let g = grads else { preconditionFailure("call zeroGradients() before forwardBackward") }
        try forward(tokens: tokens, acts: a, observer: observer)
        try forEachLogitChunk(acts: a) { r0, R, logits in
            try chunkLoss(r0, R, logits)
            headBackward(acts: a, row: r0, count: R, dlogits: logits, grads: g)
        }
        backward(tokens: tokens, acts: a, grads: g, hiddenGrads: try hiddenGradients?() ?? [:])
    }
}
