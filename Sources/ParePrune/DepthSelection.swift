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
        let drop = choose(dropCount: n, layerScores: scores.layerScores(metric), blockScores: contiguous ? scores.blockScores(metric) : nil)
        return DepthSelection(metric: metric, contiguous: contiguous, drop: drop, scores: scores)
    }

    /// The `dropCount` layers with the lowest scores (ties: the lower index), or, given block
    /// scores (block s covers layers s..<s + dropCount), the block with the lowest score.
    public static func choose(dropCount n: Int, layerScores: [Double], blockScores: [Double]?) -> Set<Int> {
        if let b = blockScores {
            let start = b.indices.min { b[$0] < b[$1] }!
            return Set(start..<(start + n))
        }
        return Set(layerScores.indices.sorted { (layerScores[$0], $0) < (layerScores[$1], $1) }.prefix(n))
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
