import PareCore

/// Running the decoder one layer at a time over a residual stream the caller keeps: what
/// refits a layer from calibration activations needs (ParePrune's CutRepair), where the
/// stream entering a layer must be held, compared and replayed. The layer body is the
/// forward's own (`decoderLayerForward`).
extension LlamaModel {
    /// out (N, C) ← the embedding rows of tokens (N): the stream entering layer 0.
    public func embedStream(tokens: UnsafePointer<Int32>, N: Int, into out: UnsafeMutablePointer<Float>) throws {
        try embed(tokens: tokens, N: N, into: out)
    }

    /// out (N, C) ← layer l's input_layernorm of `stream` (N, C): what its q, k and v read,
    /// without running the layer (the same norm call as the layer body's first).
    public func inputNorm(_ l: Int, stream: UnsafePointer<Float>, N: Int, into out: UnsafeMutablePointer<Float>) {
        norm(layout.layers[l].inputNorm, stream: stream, N: N, into: out)
    }

    /// out (N, C) ← layer l's post_attention_layernorm of `stream` (N, C), the stream after
    /// attention: what gate and up read.
    public func postNorm(_ l: Int, stream: UnsafePointer<Float>, N: Int, into out: UnsafeMutablePointer<Float>) {
        norm(layout.layers[l].postNorm, stream: stream, N: N, into: out)
    }

    private func norm(_ weight: Int, stream: UnsafePointer<Float>, N: Int, into out: UnsafeMutablePointer<Float>) {
        let c = config, rstd = FloatBuffer(count: N)
        rmsnormForward(out: out, rstd: rstd.pointer, inp: stream, weight: params.pointer + weight,
                       N: N, C: c.hiddenSize, eps: Float(c.rmsNormEps), outBF16: nil)
    }

    /// Runs layer l on `stream` (B·T, C) in place, B × T tokens as `a` (inference activations
    /// of that size) is laid out; `observer` sees the layer's sites as in `forward`.
    public func forwardLayer(_ l: Int, stream: UnsafeMutablePointer<Float>, acts a: Activations, observer: ForwardObserver? = nil) {
        precondition(!a.forTraining, "one layer at a time runs on inference activations")
        precondition(l >= 0 && l < config.numHiddenLayers)
        let c = config, N = a.N, C = c.hiddenSize, io = a.layers[l].residIn
        a.p(io).update(from: stream, count: N * C)
        let shape = AttentionShape(B: a.B, Tq: a.T, Tk: a.T, H: c.numAttentionHeads, KV: c.numKeyValueHeads, D: c.headDim)
        // Inference activations write a layer's output over its input (`residOut == residIn`).
        decoderLayerForward(l, layerBuffers(a, l, residOut: io), shape: shape, pos0: 0, observer: observer)
        stream.update(from: a.p(io), count: N * C)
    }

    /// One of layer l's two residual blocks on `stream` (B·T, C) in place: `.attention` takes
    /// the stream entering the layer to the stream after attention, `.mlp` takes that to the
    /// stream leaving the layer. Running both equals `forwardLayer` bit for bit; a refit of
    /// the MLP needs the stream after attention without paying for the attention twice.
    public func forwardLayerHalf(_ l: Int, _ half: LayerHalf, stream: UnsafeMutablePointer<Float>, acts a: Activations,
                                 observer: ForwardObserver? = nil) {
        precondition(!a.forTraining, "one layer at a time runs on inference activations")
        precondition(l >= 0 && l < config.numHiddenLayers)
        let c = config, N = a.N, C = c.hiddenSize, io = a.layers[l].residIn
        let b = layerBuffers(a, l, residOut: io)
        let shape = AttentionShape(B: a.B, Tq: a.T, Tk: a.T, H: c.numAttentionHeads, KV: c.numKeyValueHeads, D: c.headDim)
        withRoundedInputs(rows: N) { lnh, hh in
            switch half {
            case .attention:
                b.residIn.update(from: stream, count: N * C)
                attentionHalfForward(l, b, lnh: lnh, shape: shape, pos0: 0, packed: nil, observer: observer)
                stream.update(from: b.residMid, count: N * C)
            case .mlp:
                b.residMid.update(from: stream, count: N * C)
                mlpHalfForward(l, b, lnh: lnh, hh: hh, shape: shape, observer: observer)
                stream.update(from: b.residOut, count: N * C)
            }
        }
    }
}

/// A decoder layer's two residual blocks.
public enum LayerHalf: Sendable { case attention, mlp }
