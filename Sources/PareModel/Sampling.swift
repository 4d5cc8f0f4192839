import PareCore
#if canImport(Glibc)
import Glibc
#endif

/// Next-token choice from a row of logits: greedy at temperature 0, otherwise softmax at
/// `temperature` restricted to the smallest set of tokens whose probability reaches `topP`.
public struct Sampler {
    public var temperature: Float
    public var topP: Float
    var rng: RNG

    public init(temperature: Float = 0, topP: Float = 1, seed: UInt64 = 0) {
        self.temperature = temperature; self.topP = topP; rng = RNG(seed: seed)
    }

    public mutating func next(_ logits: [Float]) -> Int32 {
        guard temperature > 0 else {
            var best = 0
            for i in 1..<logits.count where logits[i] > logits[best] { best = i }
            return Int32(best)
        }
        var probs = [Float](repeating: 0, count: logits.count)
        logits.withUnsafeBufferPointer { z in probs.withUnsafeMutableBufferPointer { p in
            logSoftmaxRow(out: p.baseAddress!, z.baseAddress!, z.count, scale: 1 / temperature)
            for i in 0..<z.count { p[i] = expf(p[i]) }
        } }
        var order = Array(probs.indices)
        if topP < 1 {
            order.sort { probs[$0] > probs[$1] }
            var mass: Float = 0, keep = 0
            while keep < order.count { mass += probs[order[keep]]; keep += 1; if mass >= topP { break } }
            order = Array(order[0..<keep])
        }
        let kept = order.reduce(Float(0)) { $0 + probs[$1] }
        var r = rng.uniform() * kept
        for i in order { r -= probs[i]; if r <= 0 { return Int32(i) } }
        return Int32(order.last!)
    }
}
