import PareCore
import PareModel
import PareFormats

/// Which part of the teacher each part of a pruned student came from.
public struct CutMap: Sendable {
    public var layers: [Int]     // student layer j is teacher layer layers[j]
    public var hidden: [Int]     // kept hidden channels (C'), ascending
    public var qRows: [[Int]]    // per student layer: the teacher's q_proj rows kept (H'·D)
    public var kvRows: [[Int]]   // per student layer: k_proj and v_proj rows kept (KV'·D)
    public var ffn: [[Int]]      // per student layer: MLP neurons kept (F')

    /// What `WidthPruning.prune(_, plan:)` keeps.
    public static func width(_ p: WidthPlan, config c: LlamaConfig) -> CutMap {
        func rows(_ units: [Int]) -> [Int] { units.flatMap { u in (u * c.headDim..<(u + 1) * c.headDim) } }
        return CutMap(layers: Array(0..<c.numHiddenLayers), hidden: p.hidden, qRows: p.heads.map(rows), kvRows: p.groups.map(rows), ffn: p.ffn)
    }

    /// What `DepthPruning.prune(_, drop:)` keeps.
    public static func depth(drop: Set<Int>, config c: LlamaConfig) -> CutMap {
        let kept = (0..<c.numHiddenLayers).filter { !drop.contains($0) }
        return CutMap(layers: kept, hidden: Array(0..<c.hiddenSize),
                      qRows: kept.map { _ in Array(0..<(c.numAttentionHeads * c.headDim)) },
                      kvRows: kept.map { _ in Array(0..<(c.numKeyValueHeads * c.headDim)) },
                      ffn: kept.map { _ in Array(0..<c.intermediateSize) })
    }

    /// Whether student layer j keeps every row and channel of its teacher layer.
    func keepsAll(_ j: Int, of c: LlamaConfig) -> Bool {
        hidden.count == c.hiddenSize && qRows[j].count == c.numAttentionHeads * c.headDim
            && kvRows[j].count == c.numKeyValueHeads * c.headDim && ffn[j].count == c.intermediateSize
    }
}

/// Repairs a pruned student before any gradient step: every student layer whose input or
/// weights differ from its teacher layer's is refit, in order from the first layer, so that on
/// the calibration tokens it reproduces the teacher layer — structured-OBS / ZipLM-style least
/// squares on the kept weights (LinearRefit), sequential as in SparseGPT: each layer is fit on
/// the inputs the already-repaired layers below it give it.
///
/// For student layer j (teacher layer t), with x_s the student's and x_t the teacher's
/// residual stream entering it, and [·]_kept the kept hidden channels:
/// - q, k, v from the student's input norm → the teacher's q, k, v rows on its own input norm;
/// - o_proj from the student's attention output → [x_t + attn_t]_kept − x_s, so the stream after
///   attention matches the teacher's;
/// - gate, up from the student's post-attention norm → the teacher's on its own;
/// - down_proj from the student's MLP activation → [teacher's stream after t and after the
///   removed layers that follow t]_kept − the student's stream after attention.
/// o_proj and down_proj thus also absorb what removed layers and lost channels took out of
/// the stream: after depth pruning, the last kept layer before a removed block takes over the
/// block's output (and the first kept layer a block that starts the model), and every layer
/// after it is refit on its changed input. Layers below the first change are left alone (their
/// fit would return them unchanged).
public enum CutRepair {
    public struct Report: Sendable {
        public var refitLayers: [Int] = []   // student layers refit
        public var linears = 0               // linear layers refit
        public var tokens = 0                // calibration tokens fit on
    }

    /// GPTQ's relative damping: λ = damping · mean diag(Σ x xᵀ).
    public static let defaultDamping = 0.01

    /// Calibration tokens a repair needs: more than the widest refit input, so that every
    /// least-squares problem is determined by data rather than by its damping alone.
    public static func tokensNeeded(student c: LlamaConfig) -> Int {
        max(c.hiddenSize, c.numAttentionHeads * c.headDim, c.intermediateSize) + 2
    }

    /// Refits `student` in place; `teacher` is only read. Both run their layers' matmuls in
    /// `precision` here (the sums are f32 products totalled in f64 either way); their own
    /// precision is restored afterwards.
    public static func repair(student s: LlamaModel, teacher t: LlamaModel, map: CutMap, calibration cal: Calibration,
                              damping: Double = defaultDamping, precision: Precision = .fp32, progress: (Int, Int) -> Void = { _, _ in }) throws -> Report {
        s.requireF32Matrices("repair"); t.requireF32Matrices("repair from")
        let sc = s.config, tc = t.config, L = sc.numHiddenLayers
        precondition(map.layers.count == L && map.hidden.count == sc.hiddenSize, "the cut map does not describe this student")
        // The refit makes o_proj and down_proj reproduce the teacher's block outputs by least
        // squares; Gemma normalises those outputs before the residual add, which no linear fit
        // of the projection matches.
        guard !sc.family.isGemma else {
            throw PruneError.invalid("\(SettingName.ref("repair")) refits o_proj and down_proj by least squares to the teacher's block outputs, and Gemma 3 normalises those outputs (post_attention_layernorm, post_feedforward_layernorm) before adding them, so the fit does not apply; turn \(SettingName.ref("repair")) off for Gemma 3")
        }
        let T = cal.stream.seqLength, samples = cal.samples
        let needed = tokensNeeded(student: sc)
        guard samples * T >= needed else {
            throw PruneError.invalid("repairing the cut needs at least \(needed) calibration tokens (more than the widest refit input), but \(SettingName.ref("calibration_samples")) \(samples) × \(SettingName.ref("seq_length")) \(T) gives \(samples * T); raise \(SettingName.ref("calibration_samples")) or turn \(SettingName.ref("repair")) off")
        }
        let (sp, tp) = (s.precision, t.precision)
        try s.setPrecision(precision); try t.setPrecision(precision)
        defer { try? s.setPrecision(sp); try? t.setPrecision(tp) }

        let passes = try RepairPasses(student: s, teacher: t, map: map, calibration: cal, damping: damping)
        var report = Report(tokens: samples * T)
        var changed = false         // whether the student's stream already differs from the teacher's
        for j in 0..<L {
            // Student layer j stands for teacher layers l ..< end: its own and the removed ones after it.
            let l = map.layers[j], end = j + 1 < L ? map.layers[j + 1] : tc.numHiddenLayers
            if passes.advanceTeacher(to: l) { changed = true }   // removed layers before the first kept one
            changed = changed || !map.keepsAll(j, of: tc) || end > l + 1
            if changed {
                passes.captureTeacher(l)
                _ = passes.advanceTeacher(to: end)   // down_proj's target: the stream after the removed layers too
                try passes.refitAttention(j, teacherLayer: l)   // each carries the student's stream through its half
                try passes.refitMLP(j, teacherLayer: l)
                report.refitLayers.append(j)
            } else {
                passes.runTeacher(l)
                passes.carryStudent(j)
            }
            progress(j + 1, L)
        }
        report.linears = passes.linears
        return report
    }

    /// out (N, C') = a[:, kept] (a is (N, C)) − b (N, C').
    static func keptDifference(_ a: UnsafePointer<Float>, C: Int, minus b: UnsafePointer<Float>, _ kept: [Int], rows N: Int,
                                       into out: UnsafeMutablePointer<Float>) {
        let Cs = kept.count
        for n in 0..<N { for (k, c) in kept.enumerated() { out[n * Cs + k] = a[n * C + c] - b[n * Cs + k] } }
    }
}

/// A ForwardObserver that hands every site to a closure: (site, values (rows, width), rows).
final class SiteTap: ForwardObserver {
    let body: (ActivationSite, UnsafePointer<Float>, Int) -> Void
    init(_ body: @escaping (ActivationSite, UnsafePointer<Float>, Int) -> Void) { self.body = body }
    func observe(_ site: ActivationSite, layer: Int, values: UnsafePointer<Float>, B: Int, T: Int, width: Int) { body(site, values, B * T) }
}
