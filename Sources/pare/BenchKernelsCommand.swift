import ArgumentParser
import PareRecipes
import Foundation
import PareCore
import PareModel

struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "Time each kernel once per layer at a model's training shapes, scaled to a whole step.")

    @Option(help: "Model shape: random:PRESET.") var model = "random:smollm2-135m"
    @Option(help: "Sequences per step.") var batch = 4
    @Option(help: "Tokens per sequence.") var seq = 256
    @OptionGroup var threads: ThreadOptions
    @OptionGroup var attentionEngine: AttentionEngineOption

    func run() throws {
        try threads.apply()
        try attentionEngine.apply()
        guard let c = LlamaConfig.presets[String(model.dropFirst("random:".count))] else { throw fail("unknown model \(model)") }
        let N = batch * seq, C = c.hiddenSize, F = c.intermediateSize, H = c.numAttentionHeads, KV = c.numKeyValueHeads, D = c.headDim
        let L = Double(c.numHiddenLayers)
        func buf(_ n: Int) -> UnsafeMutablePointer<Float> {
            let b = FloatBuffer(count: n); var r = RNG(seed: UInt64(n)); for i in 0..<n { b[i] = r.normal() * 0.5 }
            keep.append(b); return b.pointer
        }
        var keep: [FloatBuffer] = []
        func time(_ name: String, perStep: Double, _ body: () -> Void) {
            body()
            var best = Double.infinity
            for _ in 0..<3 { let t0 = ProcessInfoLite.now(); body(); best = min(best, ProcessInfoLite.now() - t0) }
            print(name.padding(toLength: 28, withPad: " ", startingAt: 0) + String(format: "%8.3f ms  × %3.0f per step = %7.1f ms", best * 1e3, perStep, best * 1e3 * perStep))
        }
        let x = buf(N * C), y = buf(N * C), w = buf(C), rstd = buf(N), g = buf(N * F), u = buf(N * F), h = buf(N * F)
        let q = buf(N * H * D), k = buf(N * KV * D), v = buf(N * KV * D), o = buf(N * H * D)
        let dq = buf(N * H * D), dk = buf(N * KV * D), dv = buf(N * KV * D)
        let shape = AttentionShape(B: batch, Tq: seq, Tk: seq, H: H, KV: KV, D: D)
        let rope = RopeTable(invFreq: c.ropeInvFreq())
        time("rmsnorm forward", perStep: 2 * L * 3) { rmsnormForward(out: y, rstd: rstd, inp: x, weight: w, N: N, C: C, eps: 1e-5) }
        time("rmsnorm backward", perStep: 2 * L) { rmsnormBackward(dinp: y, dweight: w, dout: x, inp: x, weight: w, rstd: rstd, N: N, C: C) }
        time("rope forward (q and k)", perStep: 2 * L) {
            ropeForward(x: q, table: rope, N: N, T: seq, pos0: 0, nHeads: H, D: D)
            ropeForward(x: k, table: rope, N: N, T: seq, pos0: 0, nHeads: KV, D: D)
        }
        time("attention forward", perStep: L) { attentionForward(out: o, q: q, k: k, v: v, shape: shape) }
        time("attention backward", perStep: L) { attentionBackward(dq: dq, dk: dk, dv: dv, dout: o, q: q, k: k, v: v, shape: shape) }
        time("swiglu forward", perStep: 2 * L) { gluForward(out: h, gate: g, up: u, count: N * F) }
        time("swiglu backward", perStep: L) { gluBackward(dgate: h, dup: dq, dout: g, gate: g, up: u, count: min(N * F, N * H * D)) }
        time("residual add", perStep: 2 * L) { residualForward(out: y, a: y, b: x, count: N * C) }
        let logits = buf(256 * c.vocabSize)
        let targets = [Int32](repeating: 5, count: 256)
        time("cross-entropy (256 rows)", perStep: Double(N) / 256) {
            _ = crossEntropyForwardBackward(logits: logits, losses: nil, targets: targets, N: 256, V: c.vocabSize, gradScale: nil)
        }
        time("matmul q_proj forward", perStep: L) { matmulForward(out: q, inp: x, weight: g, bias: nil, N: N, I: C, O: H * D) }
        _ = (dq, dk, dv, u)
    }
}
