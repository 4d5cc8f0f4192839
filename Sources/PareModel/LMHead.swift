import PareCore

/// The LM head, forward and backward: logits chunk by chunk (the (N × V) matrix is never
/// materialised), the cross-entropy loss over them, and the head's gradients.
extension LlamaModel {
    /// The LM head's backward for rows [r0, r0 + R): dxf (R, C) = dlogits · W (written into
    /// `dln`, where the decoder's backward starts); dW (V, C) += dlogitsᵀ · xf.
    func headBackward(acts a: Activations, row r0: Int, count R: Int, dlogits: UnsafePointer<Float>, grads g: FloatBuffer) {
        let C = config.hiddenSize, dln = a.p(a.gradients.dln)
        dln.advanced(by: r0 * C).update(repeating: 0, count: R * C)
        matmulBackward(dinp: dln + r0 * C, dweight: g.pointer + layout.lmHead, dbias: nil, dout: dlogits,
                       inp: a.p(a.xf) + r0 * C, weight: linear(layout.lmHead), N: R, I: C, O: config.vocabSize)
    }

    /// Logits (R, V) of rows [r0, r0 + R) of the last forward pass in `acts`.
    public func headLogits(acts a: Activations, row r0: Int, count R: Int, into out: UnsafeMutablePointer<Float>) {
        matmulForward(out: out, inp: a.p(a.xf) + r0 * config.hiddenSize, weight: linear(layout.lmHead), bias: nil,
                      N: R, I: config.hiddenSize, O: config.vocabSize)
    }

    /// The LM head over the last forward pass, `lmChunk` rows at a time: `body(r0, R, logits)`
    /// receives the logits (R, V) of rows [r0, r0 + R), in `into` (lmChunk × V floats) or the
    /// activations' own buffer. The one chunk loop of training, evaluation and distillation.
    public func forEachLogitChunk(acts a: Activations, into buffer: UnsafeMutablePointer<Float>? = nil,
                                  _ body: (_ row: Int, _ count: Int, _ logits: UnsafeMutablePointer<Float>) throws -> Void) rethrows {
        let logits = buffer ?? a.p(a.logits)
        var r0 = 0
        while r0 < a.N {
            let R = min(a.lmChunk, a.N - r0)
            headLogits(acts: a, row: r0, count: R, into: logits)
            try body(r0, R, logits)
            r0 += R
        }
    }

    /// The LM head and cross-entropy over the final-norm output, `lmChunk` rows at a time.
    /// With `gradScale`, also writes d(loss)/d(xf) into `dln` and accumulates the head's
    /// weight gradient. Returns Σ loss over non-ignored targets and their count.
    func lmHeadLoss(targets: UnsafePointer<Int32>, acts a: Activations, gradScale: Float?) -> (sum: Double, count: Int) {
        var sum: Double = 0, count = 0
        forEachLogitChunk(acts: a) { r0, R, logits in
            let part = crossEntropyForwardBackward(logits: logits, losses: a.p(a.losses) + r0, targets: targets + r0, N: R, V: config.vocabSize, gradScale: gradScale)
            sum += part.sum; count += part.count
            if gradScale != nil, let g = grads {
                headBackward(acts: a, row: r0, count: R, dlogits: logits, grads: g)
            }
        }
        return (sum, count)
    }
}
