import PareCore

/// Keys and values of every layer for positions already seen, batch 1: per layer
/// k, v (maxTokens, KV·D), rows 0..<length filled (keys already rotated).
public final class KVCache {
    public let maxTokens: Int
    public private(set) var length = 0
    let keys: [FloatBuffer]
    let values: [FloatBuffer]

    public init(config c: LlamaConfig, maxTokens: Int) {
        self.maxTokens = maxTokens
        let n = maxTokens * c.numKeyValueHeads * c.headDim
        keys = (0..<c.numHiddenLayers).map { _ in FloatBuffer(count: n) }
        values = (0..<c.numHiddenLayers).map { _ in FloatBuffer(count: n) }
    }

    func advance(_ n: Int) { length += n }
}


extension LlamaModel {
    /// Runs `tokens` (batch 1) after the cached prefix, appends their keys and values to the
    /// cache, and returns logits: (tokens.count, V) when `allLogits`, else the last row (V).
    /// Prefill is one call with the prompt; decoding is one call per new token.
    public func forwardCached(tokens: [Int32], cache: KVCache, allLogits: Bool = false) throws -> [Float] {
        let c = config, Tq = tokens.count, past = cache.length, Tk = past + Tq
        guard Tk <= cache.maxTokens else { throw DecodeError.cacheFull(needed: Tk, capacity: cache.maxTokens) }
        let C = c.hiddenSize, F = c.intermediateSize, H = c.numAttentionHeads, KV = c.numKeyValueHeads, D = c.headDim
        let HD = H * D, KVD = KV * D, eps = Float(c.rmsNormEps)
        let P = params.pointer
        let shape = AttentionShape(B: 1, Tq: Tq, Tk: Tk, H: H, KV: KV, D: D)
        // Scratch: x (Tq, C), ln (Tq, C), q (Tq, HD), att (Tq, HD), gate/up (Tq, F), rstd (Tq),
        // and the q/k norms' statistics (Tq·H, Tq·KV)
        let scratch = FloatBuffer(count: Tq * (2 * C + 2 * HD + 2 * F + 3 + H + KV))
        let x = scratch.pointer, ln = x + Tq * C, q = ln + Tq * C, att = q + Tq * HD
        let gate = att + Tq * HD, up = gate + Tq * F, rstd = up + Tq * F, rstdQ = rstd + Tq, rstdK = rstdQ + Tq * H
        let rstdAttn = rstdK + Tq * KV, rstdMlp = rstdAttn + Tq
        let headNorm = c.headNorms ? HeadNormBuffers(qIn: nil, kIn: nil, rstdQ: rstdQ, rstdK: rstdK) : nil
        let outputNorms = c.family.isGemma ? OutputNormBuffers(attnIn: nil, mlpIn: nil, rstdAttn: rstdAttn, rstdMlp: rstdMlp) : nil
        try tokens.withUnsafeBufferPointer {
            try embed(tokens: $0.baseAddress!, N: Tq, into: x)
        }
        for l in 0..<c.numHiddenLayers {
            let k = cache.keys[l].pointer, v = cache.values[l].pointer
            decoderLayerForward(l, DecoderLayerBuffers(
                residIn: x, residMid: x, residOut: x, ln: ln, rstd1: rstd, rstd2: rstd, q: q,
                kNew: k + past * KVD, vNew: v + past * KVD, kAll: k, vAll: v,
                att: att, attnOut: ln, gate: gate, up: up, h: gate, mlpOut: ln, headNorm: headNorm, outputNorms: outputNorms),
                shape: shape, pos0: past, observer: nil)
        }
        cache.advance(Tq)
        let rows = allLogits ? Tq : 1
        let first = allLogits ? x : x + (Tq - 1) * C
        rmsnormForward(out: ln, rstd: rstd, inp: first, weight: P + layout.finalNorm, N: rows, C: C, eps: eps, weightOffset: normOffset)
        var out = [Float](repeating: 0, count: rows * c.vocabSize)
        out.withUnsafeMutableBufferPointer {
            matmulForward(out: $0.baseAddress!, inp: ln, weight: linear(layout.lmHead), bias: nil, N: rows, I: C, O: c.vocabSize)
        }
        return out
    }
}
