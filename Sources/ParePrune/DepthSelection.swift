import PareCore
import PareModel

/// How depth pruning measures a layer's importance (lower = less important = dropped first).
public enum DepthMetric: String, Codable, Sendable, CaseIterable {
    case cosine   // mean 1 − cos(input, output) of the residual stream over the layer (or block)
    case loss     // calibration LM loss with the layer (or block) skipped
    case task     // accuracy lost on a zero-shot task with the layer (or block) skipped (the paper's Winogrande)
}

/// The task behind `DepthMetric.task`: its name, documents scored, and accuracy with a set of
/// layers skipped (the task's primary metric, in [0, 1]).
public struct DepthTask {
    public let name: String
    public let documents: Int
    public let accuracy: (_ skipLayers: Set<Int>) throws -> Double
    public init(name: String, documents: Int, accuracy: @escaping (Set<Int>) throws -> Double) {
        self.name = name; self.documents = documents; self.accuracy = accuracy
    }
}

/// The measured choice of layers to drop: Minitron's depth importance over a calibration set.
public struct DepthSelection: Sendable {
    public let metric: DepthMetric
    public let contiguous: Bool
    public let drop: Set<Int>
    /// All scores measured, as written to importance.json (block scores for blocks of `drop.count`).
    public let scores: ImportanceScores
    /// Set when the metric could not separate the candidates at the cut (e.g. a task on which
    /// every candidate loses the same accuracy): says so, and that cosine importance decided.
    public let tieNote: String?

    /// Scores `model` on `calibration` and chooses `model.layers − keep` layers to drop: the
    /// individually least important ones, or with `contiguous` the least important block.
    /// With `.task`, `task` scores each candidate: only blocks when contiguous, else only layers.
    public static func measure(_ model: LlamaModel, keep: Int, metric: DepthMetric, contiguous: Bool,
                               calibration: Calibration, task: DepthTask? = nil,
                               progress: (Int, Int) -> Void = { _, _ in }, taskProgress: (Int, Int) -> Void = { _, _ in }) throws -> DepthSelection {
        let L = model.config.numHiddenLayers
        guard keep >= 1 && keep < L else { throw PruneError.invalid("the number of layers to keep must be between 1 and \(L - 1) (the model has \(L))") }
        let n = L - keep
        let collector = ImportanceCollector(config: model.config, blockSize: n)
        let base = try calibration.run(model, observer: collector, progress: progress)
        var scores = collector.scores(.l2)
        scores.baseLoss = base
        if metric == .loss {
            scores.layerLoss = try (0..<L).map { l in try calibration.run(model, skipLayers: [l]) }
            if contiguous { scores.blockLoss = try (0...(L - n)).map { s in try calibration.run(model, skipLayers: Set(s..<(s + n))) } }
        }
        if metric == .task {
            guard let task else { throw PruneError.invalid("the task metric needs a task to score") }
            let candidates: [Set<Int>] = contiguous ? (0...(L - n)).map { Set($0..<($0 + n)) } : (0..<L).map { [$0] }
            taskProgress(0, candidates.count + 1)
            let base = try task.accuracy([])
            var drops: [Double] = []
            for (i, c) in candidates.enumerated() {
                taskProgress(i + 1, candidates.count + 1)
                drops.append(base - (try task.accuracy(c)))
            }
            taskProgress(candidates.count + 1, candidates.count + 1)
            scores.task = task.name; scores.taskDocuments = task.documents; scores.baseTaskAccuracy = base
            if contiguous { scores.blockTaskDrop = drops } else { scores.layerTaskDrop = drops }
        }
        let primary = contiguous ? scores.blockScores(metric)! : scores.layerScores(metric)
        let cosine = contiguous ? scores.blockCosine! : scores.layerCosine
        let drop = choose(dropCount: n, layerScores: scores.layerScores(metric), blockScores: contiguous ? primary : nil,
                          tieBreak: metric == .cosine ? nil : cosine)
        let tied = tiedAtTheCut(primary, pick: contiguous ? 1 : n)
        var note: String? = nil
        if metric != .cosine, tied > 1 {
            let what = metric == .task ? "task:\(scores.task ?? "") (\(scores.taskDocuments ?? 0) documents)" : "loss"
            let all = tied == primary.count ? "all \(primary.count) candidates score the same" : "\(tied) of the \(primary.count) candidates tie where the choice is made"
            note = "\(what) cannot separate the \(contiguous ? "blocks" : "layers") to drop: \(all); cosine importance broke the tie"
                + (metric == .task ? ". More documents (--task-limit) or --metric loss separate them better" : "")
        }
        return DepthSelection(metric: metric, contiguous: contiguous, drop: drop, scores: scores, tieNote: note)
    }

    /// The `dropCount` layers with the lowest scores, or, given block scores (block s covers
    /// layers s..<s + dropCount), the block with the lowest score. Ties go to the lower
    /// `tieBreak` score, then the lower index.
    public static func choose(dropCount n: Int, layerScores: [Double], blockScores: [Double]?, tieBreak: [Double]? = nil) -> Set<Int> {
        let scores = blockScores ?? layerScores
        let order = scores.indices.sorted { (scores[$0], tieBreak?[$0] ?? 0, $0) < (scores[$1], tieBreak?[$1] ?? 0, $1) }
        if blockScores != nil { return Set(order[0]..<(order[0] + n)) }
        return Set(order.prefix(n))
    }

    /// How many candidates share the score at the cut when the `pick` lowest are taken: 1 when
    /// the scores decide, more when the choice among them is arbitrary.
    public static func tiedAtTheCut(_ scores: [Double], pick: Int) -> Int {
        let sorted = scores.sorted()
        guard pick < sorted.count else { return 1 }
        let cut = sorted[pick - 1]
        return sorted[pick] == cut ? sorted.filter { $0 == cut }.count : 1
    }
}

extension ImportanceScores {
    /// Per-layer scores by a depth metric (nil when that metric was not measured).
    public func layerScores(_ m: DepthMetric) -> [Double] {
        switch m { case .cosine: return layerCosine; case .loss: return layerLoss ?? []; case .task: return layerTaskDrop ?? [] }
    }
    /// Per-block scores by a depth metric (nil when not measured).
    public func blockScores(_ m: DepthMetric) -> [Double]? {
        switch m { case .cosine: return blockCosine; case .loss: return blockLoss; case .task: return blockTaskDrop }
    }
}
