import PareCore
import PareModel
import PareFormats

/// One repair's passes over the calibration tokens (`CutRepair.repair` calls them layer by
/// layer): the batches, the teacher's and the student's residual streams over them, the
/// teacher's activations at the layer being fit, and the refits of a student layer's linears.
final class RepairPasses {
    let s: LlamaModel, t: LlamaModel, map: CutMap, damping: Double
    let T: Int, C: Int, Cs: Int
    let batches: [Batch]
    let teacherStream: [FloatBuffer]     // per batch (rows_b, C): the stream entering teacher layer `next`
    let studentStream: [FloatBuffer]     // per batch (rows_b, C'): the stream entering the student layer being fit
    // The teacher's sites at the layer being fit, per batch (rows_b, C): input norm, stream
    // after attention, post-attention norm.
    let ln1: [FloatBuffer], mid: [FloatBuffer], ln2: [FloatBuffer]
    // Scratch for one batch (rows, C'): a copy of the stream, a target, a norm.
    let scratchStream: FloatBuffer, target: FloatBuffer, studentNorm: FloatBuffer
    private var teacherActs: [Int: Activations] = [:], studentActs: [Int: Activations] = [:]
    private(set) var next = 0            // the teacher layer the teacher stream enters
    private(set) var linears = 0         // linear layers refit so far

    init(student s: LlamaModel, teacher t: LlamaModel, map: CutMap, calibration cal: Calibration, damping: Double) throws {
        self.s = s; self.t = t; self.map = map; self.damping = damping
        T = cal.stream.seqLength; C = t.config.hiddenSize; Cs = s.config.hiddenSize
        var batches: [Batch] = [], done = 0
        while done < cal.samples {
            var b = Batch(B: min(cal.batch, cal.samples - done), T: T)
            b.fill(from: cal.stream, first: done)
            batches.append(b); done += b.B
        }
        self.batches = batches
        let (T, C, Cs) = (T, C, Cs)
        teacherStream = batches.map { FloatBuffer(count: $0.B * T * C) }
        studentStream = batches.map { FloatBuffer(count: $0.B * T * Cs) }
        ln1 = batches.map { FloatBuffer(count: $0.B * T * C) }
        mid = batches.map { FloatBuffer(count: $0.B * T * C) }
        ln2 = batches.map { FloatBuffer(count: $0.B * T * C) }
        let rows = (batches.map(\.B).max() ?? 0) * T
        scratchStream = FloatBuffer(count: rows * Cs); target = FloatBuffer(count: rows * Cs)
        studentNorm = FloatBuffer(count: rows * Cs)
        for (i, b) in batches.enumerated() {
            try b.withPointers { tokens, _ in
                try t.embedStream(tokens: tokens, N: b.B * T, into: teacherStream[i].pointer)
                try s.embedStream(tokens: tokens, N: b.B * T, into: studentStream[i].pointer)
            }
        }
    }

    /// Inference activations for B sequences of `m` (the teacher's or the student's), made once.
    private func acts(_ m: LlamaModel, _ B: Int) -> Activations {
        let isTeacher = m === t
        if let a = (isTeacher ? teacherActs : studentActs)[B] { return a }
        let a = Activations(config: m.config, B: B, T: T, forTraining: false)
        if isTeacher { teacherActs[B] = a } else { studentActs[B] = a }
        return a
    }

    /// Carries the teacher's stream through teacher layers up to `end` (removed ones); true
    /// when it moved.
    func advanceTeacher(to end: Int) -> Bool {
        guard next < end else { return false }
        while next < end { runTeacher(next) }
        return true
    }

    /// Teacher layer l over every batch (the stream must be entering it).
    func runTeacher(_ l: Int, observer: ((Int) -> ForwardObserver)? = nil) {
        precondition(l == next)
        for (i, b) in batches.enumerated() { t.forwardLayer(l, stream: teacherStream[i].pointer, acts: acts(t, b.B), observer: observer?(i)) }
        next = l + 1
    }

    /// Teacher layer l, keeping the sites the targets need (ln1, mid, ln2).
    func captureTeacher(_ l: Int) {
        let (C, ln1, mid, ln2) = (C, ln1, mid, ln2)
        runTeacher(l) { i in
            SiteTap { site, values, n in
                switch site {
                case .inputNorm: ln1[i].pointer.update(from: values, count: n * C)
                case .attentionResidual: mid[i].pointer.update(from: values, count: n * C)
                case .postNorm: ln2[i].pointer.update(from: values, count: n * C)
                default: break
                }
            }
        }
    }

    /// One half of student layer j over every batch, on a copy of its stream, with
    /// `observe(site, batch, values, rows)`.
    func studentPass(_ j: Int, _ half: LayerHalf, _ observe: @escaping (ActivationSite, Int, UnsafePointer<Float>, Int) -> Void) {
        for (i, b) in batches.enumerated() {
            scratchStream.pointer.update(from: studentStream[i].pointer, count: b.B * T * Cs)
            let tap = SiteTap { site, values, n in observe(site, i, values, n) }
            s.forwardLayerHalf(j, half, stream: scratchStream.pointer, acts: acts(s, b.B), observer: tap)
        }
    }

    /// Student layer j (or one half of it) carries its stream on.
    func carryStudent(_ j: Int, _ half: LayerHalf? = nil) {
        for (i, b) in batches.enumerated() {
            if let half { s.forwardLayerHalf(j, half, stream: studentStream[i].pointer, acts: acts(s, b.B)) }
            else { s.forwardLayer(j, stream: studentStream[i].pointer, acts: acts(s, b.B)) }
        }
    }

    /// q, k, v from the student's input norm to the teacher's rows on its own; then o_proj from
    /// the attention output to the teacher's stream after attention, less the student's input.
    /// Leaves the student's stream after the refit attention.
    func refitAttention(_ j: Int, teacherLayer l: Int) throws {
        let tw = t.layout.layers[l], sw = s.layout.layers[j], C = C
        // The norm alone: the rest of the layer would be computed for nothing.
        var m = Moments(inputs: Cs, against: C)
        for (i, b) in batches.enumerated() {
            s.inputNorm(j, stream: studentStream[i].pointer, N: b.B * T, into: studentNorm.pointer)
            m.add(x: studentNorm.pointer, u: ln1[i].pointer, rows: b.B * T)
        }
        try fitToTeacher(m, j, teacher: tw.q, teacherBias: tw.qBias, rows: map.qRows[j], student: sw.q, bias: sw.qBias, "q_proj")
        try fitToTeacher(m, j, teacher: tw.k, teacherBias: tw.kBias, rows: map.kvRows[j], student: sw.k, bias: sw.kBias, "k_proj")
        try fitToTeacher(m, j, teacher: tw.v, teacherBias: tw.vBias, rows: map.kvRows[j], student: sw.v, bias: sw.vBias, "v_proj")
        s.refreshLowPrecisionWeights()   // the bf16 copies the next pass reads

        var mo = Moments(inputs: s.config.numAttentionHeads * s.config.headDim, against: Cs)
        studentPass(j, .attention) { [self] site, i, x, n in
            guard site == .attentionOutput else { return }
            CutRepair.keptDifference(mid[i].pointer, C: C, minus: studentStream[i].pointer, map.hidden, rows: n, into: target.pointer)
            mo.add(x: x, u: target.pointer, rows: n)
        }
        try fitToTargets(mo, j, student: sw.o, bias: sw.oBias, "o_proj")
        carryStudent(j, .attention)
    }

    /// gate, up from the student's post-attention norm to the teacher's rows on its own; then
    /// down_proj from the MLP activation to the teacher's stream leaving the layer (and the
    /// removed ones after it), less the student's stream after attention (where
    /// `refitAttention` left it). Leaves the student's stream after the layer.
    func refitMLP(_ j: Int, teacherLayer l: Int) throws {
        let tw = t.layout.layers[l], sw = s.layout.layers[j], C = C
        var m = Moments(inputs: Cs, against: C)
        for (i, b) in batches.enumerated() {
            s.postNorm(j, stream: studentStream[i].pointer, N: b.B * T, into: studentNorm.pointer)
            m.add(x: studentNorm.pointer, u: ln2[i].pointer, rows: b.B * T)
        }
        try fitToTeacher(m, j, teacher: tw.gate, teacherBias: tw.gateBias, rows: map.ffn[j], student: sw.gate, bias: sw.gateBias, "gate_proj")
        try fitToTeacher(m, j, teacher: tw.up, teacherBias: tw.upBias, rows: map.ffn[j], student: sw.up, bias: sw.upBias, "up_proj")
        s.refreshLowPrecisionWeights()

        var md = Moments(inputs: s.config.intermediateSize, against: Cs)
        studentPass(j, .mlp) { [self] site, i, x, n in
            guard site == .mlpHidden else { return }
            CutRepair.keptDifference(teacherStream[i].pointer, C: C, minus: studentStream[i].pointer, map.hidden, rows: n, into: target.pointer)
            md.add(x: x, u: target.pointer, rows: n)
        }
        try fitToTargets(md, j, student: sw.down, bias: sw.downBias, "down_proj")
        carryStudent(j, .mlp)
    }

    /// Refits the student linear at `student` (rows.count, I) toward the teacher's kept rows
    /// at `teacher` (…, C) applied to the teacher's own input.
    private func fitToTeacher(_ m: Moments, _ j: Int, teacher: Int, teacherBias: Int?, rows r: [Int], student: Int, bias: Int?, _ name: String) throws {
        let tP = t.params.pointer, sP = s.params.pointer, U = C
        let wt = FloatBuffer(count: r.count * U), bt = teacherBias.map { _ in FloatBuffer(count: r.count) }
        for (k, row) in r.enumerated() {
            (wt.pointer + k * U).update(from: tP + teacher + row * U, count: U)
            if let tb = teacherBias, let bt { bt.pointer[k] = tP[tb + row] }
        }
        guard LinearRefit.fitToTeacher(m, teacher: wt.pointer, teacherBias: bt.map { UnsafePointer($0.pointer) }, O: r.count,
                                       start: sP + student, bias: bias.map { sP + $0 }, damping: damping) else { throw fail(j, name) }
        linears += 1
    }

    /// Refits the student linear at `student` so its outputs become the moments' targets.
    private func fitToTargets(_ m: Moments, _ j: Int, student: Int, bias: Int?, _ name: String) throws {
        let sP = s.params.pointer
        guard LinearRefit.fitToTargets(m, start: sP + student, bias: bias.map { sP + $0 }, damping: damping) else { throw fail(j, name) }
        linears += 1
        s.refreshLowPrecisionWeights()
    }

    private func fail(_ j: Int, _ what: String) -> PruneError {
        .invalid("repairing the cut: layer \(j)'s \(what) could not be refit (its calibration inputs are degenerate); raise \(SettingName.ref("calibration_samples")) or turn \(SettingName.ref("repair")) off")
    }
}
