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
                       N: N, C: c.hiddenSize, eps: Float(c.rmsNormEps), weightOffset: normOffset, outBF16: nil)
    }

    /// Runs layer l on `stream` (B·T, C) in place, B × T tokens as `a` (inference activations
    /// of that size) is laid out; `observer` sees the layer's sites as in `forward`.
    public func forwardLayer(_ l: Int, stream: UnsafeMutablePointer<Float>, acts a: Activations, observer: ForwardObserver? = nil) {
        let (b, shape, count) = layerCall(l, a)
        b.residIn.update(from: stream, count: count)
        decoderLayerForward(l, b, shape: shape, pos0: 0, observer: observer)
        stream.update(from: b.residOut, count: count)
    }

    /// One of layer l's two residual blocks on `stream` (B·T, C) in place: `.attention` takes
    /// the stream entering the layer to the stream after attention, `.mlp` takes that to the
    /// stream leaving the layer. Running both equals `forwardLayer` bit for bit; a refit of
    /// the MLP needs the stream after attention without paying for the attention twice.
    public func forwardLayerHalf(_ l: Int, _ half: LayerHalf, stream: UnsafeMutablePointer<Float>, acts a: Activations,
                                 observer: ForwardObserver? = nil) {
        let (b, shape, count) = layerCall(l, a)
        withRoundedInputs(rows: a.N) { lnh, hh in
            switch half {
            case .attention:
                b.residIn.update(from: stream, count: count)
                attentionHalfForward(l, b, lnh: lnh, shape: shape, pos0: 0, packed: nil, observer: observer)
                stream.update(from: b.residMid, count: count)
            case .mlp:
                b.residMid.update(from: stream, count: count)
                mlpHalfForward(l, b, lnh: lnh, hh: hh, shape: shape, observer: observer)
                stream.update(from: b.residOut, count: count)
            }
        }
    }

    /// Layer l's buffers in inference activations `a` (which write a layer's output over its
    /// input: `residOut == residIn`), its attention shape and the stream's element count.
    private func layerCall(_ l: Int, _ a: Activations) -> (DecoderLayerBuffers, AttentionShape, Int) {
        precondition(!a.forTraining, "one layer at a time runs on inference activations")
        precondition(l >= 0 && l < config.numHiddenLayers)
        let c = config
        let shape = AttentionShape(B: a.B, Tq: a.T, Tk: a.T, H: c.numAttentionHeads, KV: c.numKeyValueHeads, D: c.headDim)
        return (layerBuffers(a, l, residOut: a.layers[l].residIn), shape, a.N * c.hiddenSize)
    }
}

/// A decoder layer's two residual blocks.
public enum LayerHalf: Sendable { case attention, mlp }
