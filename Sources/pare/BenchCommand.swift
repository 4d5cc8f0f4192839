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

/// The GEMM engines `pare bench sgemm` compares.
enum GemmEngine: String, CaseIterable {
    case openblas = "CBLAS f32", onednnF32 = "oneDNN f32", onednnBF16 = "oneDNN bf16"
    var available: Bool {
        switch self {
        case .openblas: return true
        case .onednnF32: return GEMM.oneDNNAvailable
        case .onednnBF16: return GEMM.bf16Unavailability == nil
        }
    }
}

/// Measures GEMM throughput on the shapes a training step uses; the best is the "peak" that
/// step efficiency is reported against. `engine` nil: what `GEMM.gemm` uses now.
func measureGemmPeak(shapes: [(Int, Int, Int)], engine: GemmEngine? = nil, repeats: Int = 5, transA: Bool = false, transB: Bool = true) -> [(shape: (Int, Int, Int), gflops: Double)] {
    shapes.map { (M, N, K) in
        let a = FloatBuffer(count: M * K), b = FloatBuffer(count: N * K), c = FloatBuffer(count: M * N)
        var rng = RNG(seed: 1)
        for i in 0..<a.count { a[i] = rng.uniform() - 0.5 }
        for i in 0..<b.count { b[i] = rng.uniform() - 0.5 }
        let ah = BF16Buffer(count: a.count), bh = BF16Buffer(count: b.count)
        bf16Round(out: ah.pointer, inp: a.pointer, count: a.count)
        bf16Round(out: bh.pointer, inp: b.pointer, count: b.count)
        let (lda, ldb) = (transA ? M : K, transB ? K : N)
        var best = Double.infinity
        for _ in 0..<(repeats + 1) {   // the first call also creates oneDNN's primitive
            let t0 = ProcessInfoLite.now()
            switch engine {
            case nil: GEMM.gemm(transA: transA, transB: transB, M: M, N: N, K: K, A: a.pointer, lda: lda, B: b.pointer, ldb: ldb, C: c.pointer, ldc: N)
            case .openblas: BLAS.sgemm(transA: transA, transB: transB, M: M, N: N, K: K, A: a.pointer, lda: lda, B: b.pointer, ldb: ldb, C: c.pointer, ldc: N)
            case .onednnF32:
                let was = GEMM.f32Backend
                GEMM.f32Backend = .onednn
                GEMM.gemm(transA: transA, transB: transB, M: M, N: N, K: K, A: a.pointer, lda: lda, B: b.pointer, ldb: ldb, C: c.pointer, ldc: N)
                GEMM.f32Backend = was
            case .onednnBF16:
                GEMM.gemm(transA: transA, transB: transB, M: M, N: N, K: K, A: ah.pointer, lda: lda, B: bh.pointer, ldb: ldb, C: c.pointer, ldc: N)
            }
            best = min(best, ProcessInfoLite.now() - t0)
        }
        return ((M, N, K), 2.0 * Double(M * N * K) / best / 1e9)
    }
}

/// The best GEMM rate on a step's own shapes (MLP up and down, the LM head) for `random:PRESET`
/// at N rows, in the step's precision: the peak a step's efficiency is reported against.
func measureStepGemmPeak(model: String, rows N: Int, precision: Precision) -> Double {
    let shapes = LlamaConfig.presets[String(model.dropFirst("random:".count))].map {
        [(N, $0.intermediateSize, $0.hiddenSize), (N, $0.hiddenSize, $0.intermediateSize), (min(N, 256), $0.vocabSize, $0.hiddenSize)]
    } ?? [(1024, 1024, 1024)]
    return measureGemmPeak(shapes: shapes, engine: precision == .bf16 ? .onednnBF16 : nil).map(\.gflops).max() ?? 0
}

struct BenchSgemm: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sgemm", abstract: "GEMM GFLOP/s on training-step shapes: CBLAS f32, oneDNN f32 and oneDNN bf16 side by side.")
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        try threads.apply()
        print(GEMM.description)
        // The forms a training step uses: x·Wᵀ (forward), dY·W (input gradient), dYᵀ·X (weight gradient).
        let forms: [(String, Bool, Bool, [(Int, Int, Int)])] = [
            ("x·Wᵀ ", false, true, [(1024, 1536, 576), (1024, 576, 1536), (256, 49152, 576), (1024, 1024, 1024)]),
            ("dY·W ", false, false, [(1024, 576, 1536), (1024, 1536, 576), (256, 576, 49152)]),
            ("dYᵀ·X", true, false, [(1536, 576, 1024), (576, 1536, 1024), (49152, 576, 256)]),
        ]
        let engines = GemmEngine.allCases.filter(\.available)
        print("form   M×N×K            " + engines.map { $0.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0) }.joined() + "  (GFLOP/s)")
        for (name, ta, tb, shapes) in forms {
            let rows = engines.map { measureGemmPeak(shapes: shapes, engine: $0, transA: ta, transB: tb) }
            for (i, (M, N, K)) in shapes.enumerated() {
                let dims = "\(M)×\(N)×\(K)".padding(toLength: 17, withPad: " ", startingAt: 0)
                print("\(name)  \(dims)" + rows.map { String(format: "%-13.1f", $0[i].gflops) }.joined())
            }
        }
        for p in [Precision.fp32, .bf16] where !GEMM.lastImplementation(p).isEmpty {
            print("oneDNN \(p.rawValue) implementation: \(GEMM.lastImplementation(p))")
        }
    }
}

/// What the step benchmarks share: the step's shape, how many steps, threads, precision and
/// the attention engine.
struct StepBenchOptions: ParsableArguments {
    @Option(help: "Sequences per step.") var batch = 4
    @Option(help: "Tokens per sequence.") var seq = 256
    @Option(help: "Timed steps.") var steps = 3
    @Option(help: "Untimed warm-up steps before them.") var warmup = 1
    @Flag(help: "Also time one step per kernel family (matmul, attention, norms, elementwise, bf16 rounding, loss, optimizer); bench train also times a step's phases (zeroing, forward, backward, AdamW).")
    var breakdown = false
    @OptionGroup var threads: ThreadOptions
    @OptionGroup var precisionOption: PrecisionOption
    @OptionGroup var attentionEngine: AttentionEngineOption

    /// Sets threads and the attention engine; the precision to time.
    func apply() throws -> Precision {
        try threads.apply()
        try attentionEngine.apply()
        return try precisionOption.resolved() ?? .fp32
    }
}

struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Time full training steps (forward + backward + AdamW) on random data.")

    @Option(help: "Model: random:PRESET (smollm2-135m, llama-3.1-8b, tiny).")
    var model = "random:smollm2-135m"
    @Option(help: "Seed for weights and data.") var seed: UInt64 = 0
    @OptionGroup var step: StepBenchOptions

    func run() throws {
        let precision = try step.apply()
        let (batch, seq, steps, warmup, breakdown) = (step.batch, step.seq, step.steps, step.warmup, step.breakdown)
        // Measure the sgemm peak first, so its buffers are freed before the model's peak memory.
        let N = batch * seq
        let peak = measureStepGemmPeak(model: model, rows: N, precision: precision)
        let m: LlamaModel
        do { m = try ModelSource.load(model, seed: seed); try m.setPrecision(precision) } catch { throw fail(SystemErrorText.describe(error)) }
        let c = m.config
        var rng = RNG(seed: seed &+ 1)
        let tokens = (0..<N).map { _ in Int32(rng.next() % UInt64(c.vocabSize)) }
        let targets = (0..<N).map { _ in Int32(rng.next() % UInt64(c.vocabSize)) }
        let acts = Activations(config: c, B: batch, T: seq, lmChunk: Activations.lmLossChunk, saveIn: m.precision)
        let opt = AdamW(parameterCount: m.parameterCount, hyper: AdamWHyper(lr: 1e-4))
        m.zeroGradients()

        // Model FLOPs per token (the PaLM / nanoGPT convention): 6 × matmul parameters
        // (LM head included, embedding lookup not) + 12 · L · H · D · T for attention.
        var matmulParams = c.tieWordEmbeddings ? c.vocabSize * c.hiddenSize : 0
        for e in m.layout.entries where e.shape.count == 2 && e.name != "model.embed_tokens.weight" { matmulParams += e.count }
        let attentionFlops = 12 * c.numHiddenLayers * c.numAttentionHeads * c.headDim * seq
        let flopsPerToken = 6 * Double(matmulParams) + Double(attentionFlops)
        print("model \(model): \(m.parameterCount) parameters, batch \(batch) × seq \(seq), \(Parallel.threads) threads, precision \(precision.rawValue)")
        print(GEMM.description + "; attention: " + (AttentionEngine.current == .blas ? BLAS.description : "batched oneDNN f32"))

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
        print(String(format: "median step %.3f s: %.1f tokens/s, %.1f GFLOP/s model FLOPs, %.0f%% of measured %@ GEMM peak (%.1f GFLOP/s)",
                     median, tps, gflops, 100 * gflops / peak, precision.rawValue, peak))
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
            print(String(format: "phases (best of 2): zero grads %.3f s, forward + loss %.3f s, backward %.3f s, AdamW %.3f s",
                         tZero, tForward, tFB - tForward, tAdam))
            try printKernelBreakdown(precision: precision, peak: peak) {
                m.zeroGradients()
                _ = try tokens.withUnsafeBufferPointer { t in try targets.withUnsafeBufferPointer { try m.forwardBackward(tokens: t.baseAddress!, targets: $0.baseAddress!, acts: acts) } }
                opt.update(m, lr: 1e-4)
            }
        }
    }
}

/// Runs `step` twice with the kernel profile on and prints, for the faster run, each kernel
/// family's seconds and share of the step, and the GEMMs' rate against the measured peak:
/// what bounds a step on this CPU.
func printKernelBreakdown(precision: Precision, peak: Double, step: () throws -> Void) rethrows {
    var best: (total: Double, seconds: [KernelFamily: Double], flops: Double)? = nil
    for _ in 0..<2 {
        KernelProfile.start()
        let t0 = ProcessInfoLite.now()
        try step()
        let total = ProcessInfoLite.now() - t0
        let (seconds, flops) = KernelProfile.stop()
        if best == nil || total < best!.total { best = (total, seconds, flops) }
    }
    guard let b = best else { return }
    print(String(format: "kernel breakdown of one step (%.3f s, profiled, best of 2):", b.total))
    var counted = 0.0
    for f in KernelFamily.allCases {
        let sec = b.seconds[f] ?? 0
        counted += sec
        var line = "  " + f.label.padding(toLength: 52, withPad: " ", startingAt: 0) + String(format: " %7.3f s %5.1f%%", sec, 100 * sec / b.total)
        if f == .matmul, sec > 0 {
            let rate = b.flops / sec / 1e9
            line += String(format: "   %.1f GFLOP/s = %.0f%% of the measured %@ GEMM peak (%.1f)", rate, 100 * rate / peak, precision.rawValue, peak)
        }
        print(line)
    }
    let rest = b.total - counted
    print("  " + "outside kernels (zeroing, copies, bookkeeping)".padding(toLength: 52, withPad: " ", startingAt: 0) + String(format: " %7.3f s %5.1f%%", rest, 100 * rest / b.total))
}
