import PareCore
import PareFormats
import PareModel
import PareTrain

/// The distillation step: the teacher runs forward only (inference activations, one layer's
/// buffers reused; in bf16 its matrices are kept in bf16 only); the student's loss on each
/// chunk of rows is kdRatio · KD + (1 − kdRatio) · cross-entropy, normalised by the global
/// batch's non-ignored targets; the LM loss is measured even when it is not trained on. With an
/// intermediate-state loss, α · L_is is added (α = L_logits / L_is); the logged `loss` stays the
/// logit objective so runs with and without it compare, and is_loss / is_alpha are logged
/// beside it.
public final class Distiller: TrainingObjective {
    public let teacher: LlamaModel
    public let student: LlamaModel
    public let settings: KDSettings
    public let kdRatio: Float
    public let intermediate: IntermediateLoss?
    let teacherActs: Activations
    let teacherLogits: FloatBuffer       // (lmChunk, V_T)
    let vocab: Int                        // common prefix of the two vocabularies
    var ceScratch = FloatBuffer(count: 0)  // (lmChunk, V) student logits copy for the LM loss
    /// The teacher's top-k rows for the training and validation streams, read instead of
    /// running the teacher; a micro-batch past a cache's end runs the teacher live.
    public let trainCache: TeacherCache?, valCache: TeacherCache?
    /// Micro-batches served from the caches and run live (for the log).
    public private(set) var cachedMicroBatches = 0, liveMicroBatches = 0

    /// The teacher is only read. In bf16 the caller may release its f32 matrices first
    /// (`LlamaModel.keepMatricesInBF16Only`): it needs no f32 copy.
    public init(teacher: LlamaModel, student: LlamaModel, settings: KDSettings, kdRatio: Float, microBatch B: Int, seqLength T: Int,
                intermediate: IntermediateLoss? = nil, trainCache: TeacherCache? = nil, valCache: TeacherCache? = nil) throws {
        self.teacher = teacher; self.student = student; self.settings = settings; self.kdRatio = kdRatio
        self.intermediate = intermediate; self.trainCache = trainCache; self.valCache = valCache
        teacherActs = Activations(config: teacher.config, B: B, T: T, forTraining: false)
        teacherLogits = FloatBuffer(count: teacherActs.lmChunk * teacher.config.vocabSize)
        vocab = min(teacher.config.vocabSize, student.config.vocabSize)
        if let p = Distiller.kdRatioProblem(kdRatio) { throw DistillError.invalid("\(SettingName.ref("kd_ratio")) \(p)") }
        if let p = settings.problem(vocabulary: vocab) { throw DistillError.invalid(p) }
    }

    /// What is wrong with a KD weight (after its name), or nil: it must lie in 0...1.
    public static func kdRatioProblem(_ r: Float) -> String? { (0...1).contains(r) ? nil : "must be between 0 and 1, not \(r)" }

    /// The teacher's head runs chunk by chunk beside the student's: 256 rows measured 3–15%
    /// faster per step than 128 here (`pare bench distill`, interleaved runs, fp32 and bf16).
    public var logitChunk: Int { teacherActs.lmChunk }

    /// Whether the vocabularies differ (then only their common prefix is distilled).
    public var vocabularyNote: String? {
        teacher.config.vocabSize == student.config.vocabSize ? nil
            : "teacher vocabulary \(teacher.config.vocabSize) and student \(student.config.vocabSize) differ: distilling over the first \(vocab) tokens"
    }

    /// The projection of the intermediate-state loss, when there is one: registered with the
    /// trainer by construction, so it is trained and checkpointed.
    public var auxiliaryParameters: [AuxiliaryParameter] { intermediate?.projection.map { [$0] } ?? [] }

    /// The student's LM loss and its KD against the teacher (val/kd_loss), from one student
    /// forward pass per micro-batch.
    public func validation(of model: LlamaModel, on val: BlendedSampleStream, batches: Int, microBatch: Int, communicator: Communicator) throws -> Validation {
        precondition(model === student, "the distiller validates its own student")
        let v = try validation(val, batches: batches, microBatch: microBatch, cache: valCache, communicator: communicator)
        return Validation(loss: v.lm, extras: [("kd_loss", v.kd)])
    }

    /// One micro-batch of distillation. Extra logged values: kd_loss and lm_loss (means over the batch).
    public func microStep(tokens: UnsafePointer<Int32>, targets: UnsafePointer<Int32>, acts: Activations, lossScale: Float, firstSample: Int) throws
        -> (sum: Double, count: Int, extra: [(String, Double)]) {
        let cached = trainCache?.rows(sample: firstSample) != nil
        if cached { cachedMicroBatches += 1 } else {
            liveMicroBatches += 1
            try teacher.forward(tokens: tokens, acts: teacherActs, observer: intermediate?.teacherCapture)
            intermediate?.teacherCapture.finish(teacherActs)
        }
        /// The teacher's rows [r0, r0 + R): from the cache, or the live head.
        func teacherRows(_ r0: Int, _ R: Int) -> TeacherLogits {
            if cached, let rows = trainCache?.rows(sample: firstSample, row: r0) { return rows }
            teacher.headLogits(acts: teacherActs, row: r0, count: R, into: teacherLogits.pointer)
            return .dense(teacherLogits.pointer, ld: VT)
        }
        let V = student.config.vocabSize, VT = teacher.config.vocabSize
        var kdSum = 0.0, lmSum = 0.0, count = 0
        var mask = [Bool](repeating: true, count: acts.N)
        for i in 0..<acts.N { mask[i] = targets[i] != ignoreIndex }
        precondition(acts.lmChunk <= teacherActs.lmChunk, "the teacher's logit buffer holds \(teacherActs.lmChunk) rows")
        if ceScratch.count < acts.lmChunk * V { ceScratch = FloatBuffer(count: acts.lmChunk * V) }
        let ce = ceScratch.pointer
        var isSum = 0.0, alpha = 0.0
        let ratio = Double(kdRatio)
        try student.forwardBackward(tokens: tokens, acts: acts, observer: intermediate?.studentCapture, chunkLoss: { r0, R, logits in
            let t = teacherRows(r0, R)
            // LM loss (and its gradient when mixed in) on a copy of the student logits.
            ce.update(from: logits, count: R * V)
            let r = crossEntropyForwardBackward(logits: ce, losses: nil, targets: targets + r0, N: R, V: V,
                                                gradScale: kdRatio < 1 ? (1 - kdRatio) * lossScale : nil)
            lmSum += r.sum; count += r.count
            let kd: (sum: Double, count: Int)
            if V == vocab {
                kd = mask.withUnsafeBufferPointer { kdLossForwardBackward(student: logits, teacher: t, mask: $0.baseAddress! + r0, N: R, V: V, settings: settings, gradScale: kdRatio * lossScale) }
            } else {
                kd = distillPrefix(logits, teacher: t, R: R, V: V, mask: Array(mask[r0..<(r0 + R)]), lossScale: lossScale)
            }
            kdSum += kd.sum
            if kdRatio < 1 { accumulate(logits, ce, count: R * V) }
        }, hiddenGradients: intermediate.map { inter in {
            inter.studentCapture.finish(acts)
            (isSum, alpha) = inter.lossAndGradients(mask: mask, logitLoss: ratio * kdSum + (1 - ratio) * lmSum, scale: lossScale)
            return inter.hiddenGradients()
        } })
        let loss = Double(kdRatio) * kdSum + Double(1 - kdRatio) * lmSum
        let n = Double(max(count, 1))
        var extra = [("kd_loss", kdSum / n), ("lm_loss", lmSum / n)]
        if intermediate != nil { extra += [("is_loss", isSum / n), ("is_alpha", alpha)] }
        return (loss, count, extra)
    }

    /// Different vocabulary sizes: KD over the first `vocab` entries; the student's extra
    /// (padding) logits get no KD gradient.
    func distillPrefix(_ logits: UnsafeMutablePointer<Float>, teacher: TeacherLogits, R: Int, V: Int, mask: [Bool], lossScale: Float) -> (sum: Double, count: Int) {
        var tmp = [Float](repeating: 0, count: R * vocab)
        for r in 0..<R { for j in 0..<vocab { tmp[r * vocab + j] = logits[r * V + j] } }
        let kd = tmp.withUnsafeMutableBufferPointer { t in mask.withUnsafeBufferPointer {
            kdLossForwardBackward(student: t.baseAddress!, teacher: teacher, mask: $0.baseAddress!, N: R, V: vocab,
                                  settings: settings, gradScale: kdRatio * lossScale) } }
        for r in 0..<R {
            for j in 0..<V { logits[r * V + j] = j < vocab ? tmp[r * vocab + j] : 0 }
        }
        return kd
    }

    /// Validation over a stream's first batches: the student's mean LM loss and its mean KD
    /// against the teacher (NaN when the vocabularies differ: KD over a vocabulary prefix is
    /// reported in training only). The student runs once per batch. Under data parallelism
    /// each rank takes every size-th batch and the sums are all-reduced. `cache`, when given,
    /// holds the teacher's top-k rows of this stream.
    public func validation(_ stream: BlendedSampleStream, batches: Int, microBatch B: Int, cache: TeacherCache? = nil,
                           communicator: Communicator = SingleProcess()) throws -> (lm: Double, kd: Double) {
        let V = student.config.vocabSize
        let sActs = Activations(config: student.config, B: B, T: stream.seqLength, forTraining: false)
        let studentLogits = FloatBuffer(count: sActs.lmChunk * V)
        let sums = try validationSums(stream, batches: batches, microBatch: B, communicator: communicator, count: 4) { batch, k in
            let cached = cache?.rows(sample: k * B) != nil && B == cache?.key.microBatch
            var lm = 0.0, lmCount = 0, kd = 0.0, kdCount = 0
            try batch.withPointers { tokens, targets in
                if !cached && V == vocab { try teacher.forward(tokens: tokens, acts: teacherActs) }
                try student.forward(tokens: tokens, acts: sActs)
                student.forEachLogitChunk(acts: sActs, into: studentLogits.pointer) { r0, R, logits in
                    let ce = crossEntropyForwardBackward(logits: logits, losses: nil, targets: targets + r0, N: R, V: V, gradScale: nil)
                    lm += ce.sum; lmCount += ce.count
                    guard V == vocab else { return }
                    let rows: TeacherLogits
                    if cached, let c = cache?.rows(sample: k * B, row: r0) { rows = c } else {
                        teacher.headLogits(acts: teacherActs, row: r0, count: R, into: teacherLogits.pointer)
                        rows = .dense(teacherLogits.pointer, ld: teacher.config.vocabSize)
                    }
                    let mask = (r0..<(r0 + R)).map { targets[$0] != ignoreIndex }
                    let r = mask.withUnsafeBufferPointer {
                        kdLossForwardBackward(student: logits, teacher: rows, mask: $0.baseAddress!, N: R, V: vocab, settings: settings, gradScale: nil) }
                    kd += r.sum; kdCount += r.count
                }
            }
            return [lm, Double(lmCount), kd, Double(kdCount)]
        }
        return (sums[0] / max(sums[1], 1), V == vocab ? sums[2] / max(sums[3], 1) : .nan)
    }
}
