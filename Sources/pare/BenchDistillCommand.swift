import ArgumentParser
import PareRecipes
import Foundation
import PareCore
import PareDistill
import PareModel
import PareTrain

struct BenchDistill: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "distill",
        abstract: "Time full distillation steps: teacher forward, student forward + backward with the KD loss, AdamW.",
        discussion: "Random weights and tokens; the student is the teacher's shape with fewer layers (a depth-pruned student). PyTorch twin: benchmarks/distill_step_torch.py.")

    @Option(help: "Teacher: random:PRESET.") var teacher = "random:smollm2-135m"
    @Option(help: "Student layers (the rest of its shape is the teacher's).") var studentLayers = 15
    @Option(help: "Add the intermediate-state loss (cosine or mse) at the student's last layer.") var intermediateLoss: String?
    @OptionGroup var step: StepBenchOptions

    func run() throws {
        let precision = try step.apply()
        let (batch, seq, steps, warmup, breakdown) = (step.batch, step.seq, step.steps, step.warmup, step.breakdown)
        let N = batch * seq
        // The GEMM peak first, so its buffers are freed before the models' peak memory.
        let peak = breakdown ? measureStepGemmPeak(model: teacher, rows: N, precision: precision) : 0
        let t: LlamaModel
        do { t = try ModelSource.load(teacher, seed: 0); try t.setPrecision(precision) } catch { throw fail(SystemErrorText.describe(error)) }
        var sc = t.config
        guard studentLayers >= 1 && studentLayers <= sc.numHiddenLayers else { throw fail("--student-layers must be between 1 and \(sc.numHiddenLayers)") }
        sc.numHiddenLayers = studentLayers
        let s = try LlamaModel(config: sc)
        s.initializeRandom(seed: 1)
        try s.setPrecision(precision)
        var rng = RNG(seed: 2)
        let tokens = (0..<N).map { _ in Int32(rng.next() % UInt64(sc.vocabSize)) }
        let targets = (0..<N).map { _ in Int32(rng.next() % UInt64(sc.vocabSize)) }
        let inter = try intermediateLoss.map { name -> IntermediateLoss in
            guard let k = IntermediateLossKind(rawValue: name) else { throw fail("--intermediate-loss must be cosine or mse") }
            return try IntermediateLoss(kind: k, layerMap: [(studentLayers - 1, t.config.numHiddenLayers - 1)], student: sc, teacher: t.config, rows: N, seed: 3)
        }
        let d = try Distiller(teacher: t, student: s, settings: KDSettings(), kdRatio: 1, microBatch: batch, seqLength: seq, intermediate: inter)
        let acts = Activations(config: sc, B: batch, T: seq, lmChunk: d.logitChunk, saveIn: s.precision)
        let opt = AdamW(parameterCount: s.parameterCount, hyper: AdamWHyper(lr: 1e-4))
        print("distill \(teacher) (\(t.parameterCount) parameters, \(t.config.numHiddenLayers) layers) → \(studentLayers)-layer student (\(s.parameterCount)), forward KL, batch \(batch) × seq \(seq), \(Parallel.threads) threads, precision \(precision.rawValue); \(GEMM.description)")
        var times: [Double] = []
        for k in 0..<(warmup + steps) {
            let t0 = ProcessInfoLite.now()
            s.zeroGradients()
            let r = try tokens.withUnsafeBufferPointer { tk in try targets.withUnsafeBufferPointer { try d.microStep(tokens: tk.baseAddress!, targets: $0.baseAddress!, acts: acts, lossScale: 1 / Float(N), firstSample: 0) } }
            opt.update(s, lr: 1e-4)
            let dt = ProcessInfoLite.now() - t0
            if k >= warmup { times.append(dt) }
            print(String(format: "step %d%@: kd loss %.4f, %.3f s, %.1f tokens/s", k, k < warmup ? " (warm-up)" : "", r.sum / Double(r.count), dt, Double(N) / dt))
        }
        let median = times.sorted()[times.count / 2]
        print(String(format: "median step %.3f s: %.1f tokens/s", median, Double(N) / median))
        print(String(format: "peak memory (max RSS): %.2f GiB", Double(ProcessInfoLite.peakResidentBytes) / 1_073_741_824))
        if breakdown {
            try printKernelBreakdown(precision: precision, peak: peak) {
                s.zeroGradients()
                _ = try tokens.withUnsafeBufferPointer { tk in try targets.withUnsafeBufferPointer { try d.microStep(tokens: tk.baseAddress!, targets: $0.baseAddress!, acts: acts, lossScale: 1 / Float(N), firstSample: 0) } }
                opt.update(s, lr: 1e-4)
            }
        }
    }
}
