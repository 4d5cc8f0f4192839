import PareCore
import PareModel

/// One student architecture a search considers: depth and every width axis of a teacher.
public struct StudentShape: Codable, Hashable, Sendable {
    public var layers: Int, hidden: Int, ffn: Int, heads: Int, groups: Int

    public init(layers: Int, hidden: Int, ffn: Int, heads: Int, groups: Int) {
        self.layers = layers; self.hidden = hidden; self.ffn = ffn; self.heads = heads; self.groups = groups
    }

    /// The teacher's own shape.
    public init(_ c: LlamaConfig) {
        self.init(layers: c.numHiddenLayers, hidden: c.hiddenSize, ffn: c.intermediateSize, heads: c.numAttentionHeads, groups: c.numKeyValueHeads)
    }

    /// "24L h576 f1280 9/3" (layers, hidden, MLP, query heads / KV groups).
    public var label: String { "\(layers)L h\(hidden) f\(ffn) \(heads)/\(groups)" }

    /// The student's config: the teacher's with this shape (head_dim kept, explicit).
    public func config(from teacher: LlamaConfig) -> LlamaConfig {
        var c = teacher
        c.numHiddenLayers = layers; c.hiddenSize = hidden; c.intermediateSize = ffn
        c.numAttentionHeads = heads; c.numKeyValueHeads = groups; c.headDim = teacher.headDim
        return c
    }

    /// Parameters of the student, exactly as the pruned model holds them.
    public func parameters(teacher: LlamaConfig) -> Int { ParameterLayout(config: config(from: teacher)).count }
}

/// The candidates of a shape search and how one is cut from the teacher.
public enum ShapeSearch {
    /// Every shape on a grid that loads where `rules` say: layers from L down to ⌈L/2⌉ in steps
    /// of max(1, L/10); MLP sizes from F down to F/2 in steps of about F/12; query heads from H
    /// down to H/2 with every valid number of KV groups; and for each head count the hidden
    /// sizes from C down to C/2 that are loadable with it. Sizes stay multiples of
    /// `sizeMultiple` (and of the GGUF block).
    public static func grid(_ c: LlamaConfig, rules: LoadableShape.Consumers, sizeMultiple: Int = 8) -> [StudentShape] {
        let L = c.numHiddenLayers, C = c.hiddenSize, F = c.intermediateSize, H = c.numAttentionHeads, G = c.numKeyValueHeads
        let quantum = lcm(sizeMultiple, rules.ggufBlock ?? 1)
        let layerStep = max(1, L / 10)
        let layers = Array(stride(from: L, through: (L + 1) / 2, by: -layerStep))
        let ffnStep = max(quantum, (F / 12 + quantum - 1) / quantum * quantum)
        var ffns = [F], f = (F - 1) / ffnStep * ffnStep
        while f >= F / 2 { ffns.append(f); f -= ffnStep }
        var out: [StudentShape] = []
        for h in stride(from: H, through: max(1, H / 2), by: -1) {
            for g in (1...G) where h % g == 0 && h / g <= H / G {
                for hidden in stride(from: C, through: C / 2, by: -1) where hidden == C || hidden % quantum == 0 {
                    for f in ffns {
                        let s = LoadableShape(hidden: hidden, ffn: f, heads: h, groups: g, headDim: c.headDim)
                        guard s.problems(for: rules).isEmpty else { continue }
                        for l in layers { out.append(StudentShape(layers: l, hidden: hidden, ffn: f, heads: h, groups: g)) }
                    }
                }
            }
        }
        return out
    }

    /// Cuts `shape` out of `teacher`: drops `drop` (the least important contiguous block for
    /// that depth), then slices the width axes by `importance` (measured on the whole teacher;
    /// the dropped layers' rows are left out).
    public static func prune(_ teacher: LlamaModel, to shape: StudentShape, drop: Set<Int>, importance s: ImportanceScores) throws -> LlamaModel {
        try cut(teacher, to: shape, drop: drop, importance: s).student
    }

    /// `prune`, with what the student kept of the teacher (for `CutRepair`).
    public static func cut(_ teacher: LlamaModel, to shape: StudentShape, drop: Set<Int>, importance s: ImportanceScores) throws -> (student: LlamaModel, map: CutMap) {
        precondition(teacher.config.numHiddenLayers - drop.count == shape.layers)
        let deep = drop.isEmpty ? teacher : try DepthPruning.prune(teacher, drop: drop)
        let c = teacher.config
        let kept = (0..<c.numHiddenLayers).filter { !drop.contains($0) }
        var sub = s
        sub.mlp = kept.map { s.mlp[$0] }; sub.heads = kept.map { s.heads[$0] }
        let targets = WidthPlan.Targets(hiddenSize: shape.hidden, ffnHiddenSize: shape.ffn, numAttentionHeads: shape.heads,
                                        numQueryGroups: shape.groups, sizeMultiple: 1, exportType: nil)
        if StudentShape(deep.config) == shape { return (deep, .depth(drop: drop, config: c)) }
        let plan = try WidthPlan.select(sub, config: deep.config, targets: targets)
        var map = CutMap.width(plan, config: deep.config)
        map.layers = kept
        return (try WidthPruning.prune(deep, plan: plan), map)
    }

    static func lcm(_ a: Int, _ b: Int) -> Int {
        func gcd(_ x: Int, _ y: Int) -> Int { y == 0 ? x : gcd(y, x % y) }
        return a / gcd(a, b) * b
    }
}
