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
        let sc = s.config, tc = t.config
        precondition(map.layers.count == sc.numHiddenLayers && map.hidden.count == sc.hiddenSize, "the cut map does not describe this student")
        let T = cal.stream.seqLength, samples = cal.samples
        let needed = tokensNeeded(student: sc)
        guard samples * T >= needed else {
            throw PruneError.invalid("repairing the cut needs at least \(needed) calibration tokens (more than the widest refit input), but \(SettingName.ref("calibration_samples")) \(samples) × \(SettingName.ref("seq_length")) \(T) gives \(samples * T); raise \(SettingName.ref("calibration_samples")) or turn \(SettingName.ref("repair")) off")
        }
        let (sp, tp) = (s.precision, t.precision)
        try s.setPrecision(precision); try t.setPrecision(precision)
        defer { try? s.setPrecision(sp); try? t.setPrecision(tp) }

        // The calibration batches and both residual streams over them: (rows_b, C) and (rows_b, C').
        var batches: [Batch] = []
        var done = 0
        while done < samples {
            var b = Batch(B: min(cal.batch, samples - done), T: T)
            b.fill(from: cal.stream, first: done)
            batches.append(b); done += b.B
        }
        let C = tc.hiddenSize, Cs = sc.hiddenSize
        let teacherStream = batches.map { FloatBuffer(count: $0.B * T * C) }
        let studentStream = batches.map { FloatBuffer(count: $0.B * T * Cs) }
        for (i, b) in batches.enumerated() {
            try b.withPointers { tokens, _ in
                try t.embedStream(tokens: tokens, N: b.B * T, into: teacherStream[i].pointer)
                try s.embedStream(tokens: tokens, N: b.B * T, into: studentStream[i].pointer)
            }
        }
        var teacherActs: [Int: Activations] = [:], studentActs: [Int: Activations] = [:]
        func acts(_ m: LlamaModel, _ B: Int, _ cache: inout [Int: Activations]) -> Activations {
            if let a = cache[B] { return a }
            let a = Activations(config: m.config, B: B, T: T, forTraining: false)
            cache[B] = a
            return a
        }
        // The teacher's sites at the layer being fit, per batch: input norm, stream after
        // attention, post-attention norm (rows_b, C) each.
        let ln1 = batches.map { FloatBuffer(count: $0.B * T * C) }
        let mid = batches.map { FloatBuffer(count: $0.B * T * C) }
        let ln2 = batches.map { FloatBuffer(count: $0.B * T * C) }
        let scratchStream = FloatBuffer(count: (batches.map(\.B).max() ?? 0) * T * Cs)
        let rows = (batches.map(\.B).max() ?? 0) * T
        let target = FloatBuffer(count: rows * Cs), studentMid = FloatBuffer(count: rows * Cs), studentNorm = FloatBuffer(count: rows * Cs)

        var report = Report(tokens: samples * T)
        var next = 0                // the teacher layer the teacher stream enters
        var changed = false         // whether the student's stream already differs from the teacher's
        /// The teacher's stream goes on through teacher layers up to `end` (removed ones).
        func advanceTeacher(to end: Int) {
            while next < end {
                for (i, b) in batches.enumerated() { t.forwardLayer(next, stream: teacherStream[i].pointer, acts: acts(t, b.B, &teacherActs)) }
                next += 1; changed = true
            }
        }
        for j in 0..<sc.numHiddenLayers {
            // Student layer j stands for teacher layers l ..< end: its own and the removed ones after it.
            let l = map.layers[j], end = j + 1 < sc.numHiddenLayers ? map.layers[j + 1] : tc.numHiddenLayers
            advanceTeacher(to: l)    // removed layers before the first kept one
            changed = changed || !map.keepsAll(j, of: tc) || end > l + 1
            guard changed else {
                for (i, b) in batches.enumerated() {
                    t.forwardLayer(l, stream: teacherStream[i].pointer, acts: acts(t, b.B, &teacherActs))
                    s.forwardLayer(j, stream: studentStream[i].pointer, acts: acts(s, b.B, &studentActs))
                }
                next = l + 1
                progress(j + 1, sc.numHiddenLayers)
                continue
            }
            // The teacher layer, keeping what the targets need.
            for (i, b) in batches.enumerated() {
                let tap = SiteTap { site, values, n in
                    switch site {
                    case .inputNorm: ln1[i].pointer.update(from: values, count: n * C)
                    case .attentionResidual: mid[i].pointer.update(from: values, count: n * C)
                    case .postNorm: ln2[i].pointer.update(from: values, count: n * C)
                    default: break
                    }
                }
                t.forwardLayer(l, stream: teacherStream[i].pointer, acts: acts(t, b.B, &teacherActs), observer: tap)
            }
            next = l + 1
            advanceTeacher(to: end)  // down_proj's target: the stream after the removed layers too
            /// Runs student layer j over every batch (on a copy of its stream) with `observe`
            /// called at `site` with (batch, values, rows).
            func studentPass(_ observe: @escaping (ActivationSite, Int, UnsafePointer<Float>, Int) -> Void) {
                for (i, b) in batches.enumerated() {
                    scratchStream.pointer.update(from: studentStream[i].pointer, count: b.B * T * Cs)
                    let tap = SiteTap { site, values, n in observe(site, i, values, n) }
                    s.forwardLayer(j, stream: scratchStream.pointer, acts: acts(s, b.B, &studentActs), observer: tap)
                }
            }
            let tw = t.layout.layers[l], sw = s.layout.layers[j], tP = t.params.pointer, sP = s.params.pointer
            let HDs = sc.numAttentionHeads * sc.headDim, Fs = sc.intermediateSize
            func fail(_ what: String) -> PruneError {
                .invalid("repairing the cut: layer \(j)'s \(what) could not be refit (its calibration inputs are degenerate); raise \(SettingName.ref("calibration_samples")) or turn \(SettingName.ref("repair")) off")
            }
            /// Refits the student linear at `w` (rows.count, I) from the teacher's at `tw` (…, U).
            func fitToTeacher(_ m: Moments, teacher: Int, teacherBias: Int?, rows r: [Int], U: Int, student: Int, bias: Int?, _ name: String) throws {
                let wt = FloatBuffer(count: r.count * U), bt = teacherBias.map { _ in FloatBuffer(count: r.count) }
                for (k, row) in r.enumerated() {
                    (wt.pointer + k * U).update(from: tP + teacher + row * U, count: U)
                    if let tb = teacherBias, let bt { bt.pointer[k] = tP[tb + row] }
                }
                guard LinearRefit.fitToTeacher(m, teacher: wt.pointer, teacherBias: bt.map { UnsafePointer($0.pointer) }, O: r.count,
                                               start: sP + student, bias: bias.map { sP + $0 }, damping: damping) else { throw fail(name) }
                report.linears += 1
            }

            // q, k, v: the student's input norm against the teacher's (the norm alone: the
            // rest of the layer would be computed for nothing).
            var m = Moments(inputs: Cs, against: C)
            for (i, b) in batches.enumerated() {
                s.inputNorm(j, stream: studentStream[i].pointer, N: b.B * T, into: studentNorm.pointer)
                m.add(x: studentNorm.pointer, u: ln1[i].pointer, rows: b.B * T)
            }
            try fitToTeacher(m, teacher: tw.q, teacherBias: tw.qBias, rows: map.qRows[j], U: C, student: sw.q, bias: sw.qBias, "q_proj")
            try fitToTeacher(m, teacher: tw.k, teacherBias: tw.kBias, rows: map.kvRows[j], U: C, student: sw.k, bias: sw.kBias, "k_proj")
            try fitToTeacher(m, teacher: tw.v, teacherBias: tw.vBias, rows: map.kvRows[j], U: C, student: sw.v, bias: sw.vBias, "v_proj")
            s.refreshLowPrecisionWeights()   // the bf16 copies the next pass reads

            // o_proj: the attention output → the teacher's stream after attention, less the student's input.
            var mo = Moments(inputs: HDs, against: Cs)
            studentPass { site, i, x, n in
                guard site == .attentionOutput else { return }
                keptDifference(mid[i].pointer, C: C, minus: studentStream[i].pointer, map.hidden, rows: n, into: target.pointer)
                mo.add(x: x, u: target.pointer, rows: n)
            }
            guard LinearRefit.fitToTargets(mo, start: sP + sw.o, bias: sw.oBias.map { sP + $0 }, damping: damping) else { throw fail("o_proj") }
            report.linears += 1
            s.refreshLowPrecisionWeights()

            // gate, up: the student's post-attention norm against the teacher's.
            var m2 = Moments(inputs: Cs, against: C)
            studentPass { site, i, x, n in if site == .postNorm { m2.add(x: x, u: ln2[i].pointer, rows: n) } }
            try fitToTeacher(m2, teacher: tw.gate, teacherBias: tw.gateBias, rows: map.ffn[j], U: C, student: sw.gate, bias: sw.gateBias, "gate_proj")
            try fitToTeacher(m2, teacher: tw.up, teacherBias: tw.upBias, rows: map.ffn[j], U: C, student: sw.up, bias: sw.upBias, "up_proj")
            s.refreshLowPrecisionWeights()

            // down_proj: the MLP activation → the teacher's stream leaving the layer, less the student's after attention.
            var md = Moments(inputs: Fs, against: Cs)
            studentPass { site, i, x, n in
                switch site {
                case .attentionResidual: studentMid.pointer.update(from: x, count: n * Cs)
                case .mlpHidden:
                    keptDifference(teacherStream[i].pointer, C: C, minus: studentMid.pointer, map.hidden, rows: n, into: target.pointer)
                    md.add(x: x, u: target.pointer, rows: n)
                default: break
                }
            }
            guard LinearRefit.fitToTargets(md, start: sP + sw.down, bias: sw.downBias.map { sP + $0 }, damping: damping) else { throw fail("down_proj") }
            report.linears += 1
            s.refreshLowPrecisionWeights()

            // The repaired layer carries the student's stream on.
            for (i, b) in batches.enumerated() { s.forwardLayer(j, stream: studentStream[i].pointer, acts: acts(s, b.B, &studentActs)) }
            report.refitLayers.append(j)
            changed = true
            progress(j + 1, sc.numHiddenLayers)
        }
        return report
    }

    /// out (N, C') = a[:, kept] (a is (N, C)) − b (N, C').
    private static func keptDifference(_ a: UnsafePointer<Float>, C: Int, minus b: UnsafePointer<Float>, _ kept: [Int], rows N: Int,
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
