import ArgumentParser
import PareRecipes
import Foundation
import PareCore
import PareModel
import PareTrain

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure Pare's speed on this machine.",
        subcommands: [BenchTrain.self, BenchDistill.self, BenchSgemm.self, BenchKernels.self, BenchTokenizer.self])
}

/// Measures the machine's sgemm throughput on the shapes a training step uses; the best is
/// the "peak" that step efficiency is reported against.
func measureSgemmPeak(shapes: [(Int, Int, Int)], repeats: Int = 5, transA: Bool = false, transB: Bool = true) -> [(shape: (Int, Int, Int), gflops: Double)] {
    shapes.map { (M, N, K) in
        let a = FloatBuffer(count: M * K), b = FloatBuffer(count: N * K), c = FloatBuffer(count: M * N)
        var rng = RNG(seed: 1)
        for i in 0..<a.count { a[i] = rng.uniform() - 0.5 }
        for i in 0..<b.count { b[i] = rng.uniform() - 0.5 }
        var best = Double.infinity
        for _ in 0..<repeats {
            let t0 = ProcessInfoLite.now()
            BLAS.sgemm(transA: transA, transB: transB, M: M, N: N, K: K, A: a.pointer, lda: transA ? M : K,
                       B: b.pointer, ldb: transB ? K : N, C: c.pointer, ldc: N)
            best = min(best, ProcessInfoLite.now() - t0)
        }
        return ((M, N, K), 2.0 * Double(M * N * K) / best / 1e9)
    }
}

struct BenchSgemm: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sgemm", abstract: "BLAS sgemm GFLOP/s on training-step shapes.")
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        try threads.apply()
        // The forms a training step uses: x·Wᵀ (forward), dY·W (input gradient), dYᵀ·X (weight gradient).
        let forms: [(String, Bool, Bool, [(Int, Int, Int)])] = [
            ("x·Wᵀ ", false, true, [(1024, 1536, 576), (1024, 576, 1536), (256, 49152, 576), (1024, 1024, 1024)]),
            ("dY·W ", false, false, [(1024, 576, 1536), (1024, 1536, 576), (256, 576, 49152)]),
            ("dYᵀ·X", true, false, [(1536, 576, 1024), (576, 1536, 1024), (49152, 576, 256)]),
        ]
        for (name, ta, tb, shapes) in forms {
            for r in measureSgemmPeak(shapes: shapes, transA: ta, transB: tb) {
                print("sgemm \(name) M×N×K \(r.shape.0)×\(r.shape.1)×\(r.shape.2): \(String(format: "%.1f", r.gflops)) GFLOP/s")
            }
        }
    }
}

struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Time full training steps (forward + backward + AdamW) on random data.")

    @Option(help: "Model: random:PRESET (smollm2-135m, llama-3.1-8b, tiny).")
    var model = "random:smollm2-135m"
    @Option(help: "Sequences per step.") var batch = 4
    @Option(help: "Tokens per sequence.") var seq = 256
    @Option(help: "Timed steps.") var steps = 3
    @Option(help: "Untimed warm-up steps before them.") var warmup = 1
    @Option(help: "Seed for weights and data.") var seed: UInt64 = 0
    @Flag(help: "Also time the phases of a step separately (forward, forward+backward, AdamW, zeroing).")
    var breakdown = false
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        try threads.apply()
        // Measure the sgemm peak first, so its buffers are freed before the model's peak memory.
        let N = batch * seq
        let peakShapes = LlamaConfig.presets[String(model.dropFirst("random:".count))].map {
            [(N, $0.intermediateSize, $0.hiddenSize), (N, $0.hiddenSize, $0.intermediateSize), (min(N, 256), $0.vocabSize, $0.hiddenSize)]
        } ?? [(1024, 1024, 1024)]
        let peak = measureSgemmPeak(shapes: peakShapes).map(\.gflops).max() ?? 0
        let m: LlamaModel
        do { m = try ModelSource.load(model, seed: seed) } catch { throw fail("\(error)") }
        let c = m.config
        var rng = RNG(seed: seed &+ 1)
        let tokens = (0..<N).map { _ in Int32(rng.next() % UInt64(c.vocabSize)) }
        let targets = (0..<N).map { _ in Int32(rng.next() % UInt64(c.vocabSize)) }
        let acts = Activations(config: c, B: batch, T: seq)
        let opt = AdamW(parameterCount: m.parameterCount, hyper: AdamWHyper(lr: 1e-4))
        m.zeroGradients()

        // Model FLOPs per token (the PaLM / nanoGPT convention): 6 × matmul parameters
        // (LM head included, embedding lookup not) + 12 · L · H · D · T for attention.
        var matmulParams = c.tieWordEmbeddings ? c.vocabSize * c.hiddenSize : 0
        for e in m.layout.entries where e.shape.count == 2 && e.name != "model.embed_tokens.weight" { matmulParams += e.count }
        let attentionFlops = 12 * c.numHiddenLayers * c.numAttentionHeads * c.headDim * seq
        let flopsPerToken = 6 * Double(matmulParams) + Double(attentionFlops)
        print("model \(model): \(m.parameterCount) parameters, batch \(batch) × seq \(seq), \(Parallel.threads) threads, \(BLAS.description)")

        var times: [Double] = []
        for step in 0..<(warmup + steps) {
            let t0 = ProcessInfoLite.now()
            m.zeroGradients()
            let r = try tokens.withUnsafeBufferPointer { t in
                try targets.withUnsafeBufferPointer { try m.forwardBackward(tokens: t.baseAddress!, targets: $0.baseAddress!, acts: acts) }
            }
            opt.update(m, lr: 1e-4)
            let dt = ProcessInfoLite.now() - t0
            if step >= warmup { times.append(dt) }
            print(String(format: "step %d%@: loss %.4f, %.3f s, %.1f tokens/s", step, step < warmup ? " (warm-up)" : "",
                         r.sum / Double(r.count), dt, Double(N) / dt))
        }
        let median = times.sorted()[times.count / 2]
        let tps = Double(N) / median
        let gflops = flopsPerToken * tps / 1e9
        print(String(format: "median step %.3f s: %.1f tokens/s, %.1f GFLOP/s model FLOPs, %.0f%% of measured sgemm peak (%.1f GFLOP/s)",
                     median, tps, gflops, 100 * gflops / peak, peak))
        print(String(format: "peak memory (max RSS): %.2f GiB", Double(ProcessInfoLite.peakResidentBytes) / 1_073_741_824))
        if breakdown {
            func time(_ body: () throws -> Void) rethrows -> Double {
                var best = Double.infinity
                for _ in 0..<2 { let t0 = ProcessInfoLite.now(); try body(); best = min(best, ProcessInfoLite.now() - t0) }
                return best
            }
            let tZero = time { m.zeroGradients() }
            let tForward = try time { _ = try tokens.withUnsafeBufferPointer { t in try targets.withUnsafeBufferPointer { try m.loss(tokens: t.baseAddress!, targets: $0.baseAddress!, acts: acts) } } }
            let tFB = try time { _ = try tokens.withUnsafeBufferPointer { t in try targets.withUnsafeBufferPointer { try m.forwardBackward(tokens: t.baseAddress!, targets: $0.baseAddress!, acts: acts) } } }
            let tAdam = time { opt.update(m, lr: 1e-4) }
            print(String(format: "breakdown (best of 2): zero grads %.3f s, forward + loss %.3f s, backward %.3f s, AdamW %.3f s",
                         tZero, tForward, tFB - tForward, tAdam))
        }
    }
}
