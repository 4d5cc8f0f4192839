import PareCore
import PareModel

/// Which channels of every axis survive width pruning; indices are kept in ascending order,
/// so pruning to a model's own sizes is the identity.
public struct WidthPlan: Sendable {
    public var hidden: [Int]          // kept hidden channels (C')
    public var ffn: [[Int]]           // per layer, kept MLP neurons (F')
    public var groups: [[Int]]        // per layer, kept KV groups (KV')
    public var heads: [[Int]]         // per layer, kept query heads, group by group (H')

    /// The targets a user asks for, checked against the model before any work.
    public struct Targets: Sendable {
        public var hiddenSize: Int?, ffnHiddenSize: Int?, numAttentionHeads: Int?, numQueryGroups: Int?
        public var sizeMultiple = 8
        /// The GGUF type the student must export as (its block size constrains rows); nil
        /// checks transformers' rules only.
        public var exportType: GGUFExport.TensorType? = .q8_0
        public init(hiddenSize: Int? = nil, ffnHiddenSize: Int? = nil, numAttentionHeads: Int? = nil, numQueryGroups: Int? = nil,
                    sizeMultiple: Int = 8, exportType: GGUFExport.TensorType? = .q8_0) {
            self.hiddenSize = hiddenSize; self.ffnHiddenSize = ffnHiddenSize
            self.numAttentionHeads = numAttentionHeads; self.numQueryGroups = numQueryGroups; self.sizeMultiple = sizeMultiple
            self.exportType = exportType
        }

        /// (C', F', H', KV') with every rule checked; messages say which option is wrong and,
        /// for a shape that would not load elsewhere, the nearest sizes that would.
        public func resolve(_ c: LlamaConfig) throws -> (Int, Int, Int, Int) {
            let C = hiddenSize ?? c.hiddenSize, F = ffnHiddenSize ?? c.intermediateSize
            let G = numQueryGroups ?? c.numKeyValueHeads
            let H = numAttentionHeads ?? (c.numAttentionHeads / c.numKeyValueHeads * G)
            func bad(_ m: String) -> PruneError { .invalid(m) }
            guard C > 0 && C <= c.hiddenSize else { throw bad("\(SettingName.ref("hidden_size")) \(C) must be between 1 and the model's \(c.hiddenSize)") }
            guard F > 0 && F <= c.intermediateSize else { throw bad("\(SettingName.ref("ffn_hidden_size")) \(F) must be between 1 and the model's \(c.intermediateSize)") }
            guard G > 0 && G <= c.numKeyValueHeads else { throw bad("\(SettingName.ref("num_query_groups")) \(G) must be between 1 and the model's \(c.numKeyValueHeads)") }
            guard H > 0 && H <= c.numAttentionHeads else { throw bad("\(SettingName.ref("num_attention_heads")) \(H) must be between 1 and the model's \(c.numAttentionHeads)") }
            guard H % G == 0 else { throw bad("\(SettingName.ref("num_attention_heads")) \(H) must be divisible by \(SettingName.ref("num_query_groups")) \(G) (every group keeps the same number of query heads)") }
            guard H / G <= c.numAttentionHeads / c.numKeyValueHeads else {
                throw bad("\(H) heads in \(G) groups means \(H / G) per group, more than the model's \(c.numAttentionHeads / c.numKeyValueHeads)")
            }
            if C != c.hiddenSize, C % sizeMultiple != 0 { throw bad("\(SettingName.ref("hidden_size")) \(C) is not a multiple of \(sizeMultiple) (change \(SettingName.ref("size_multiple")) to allow it)") }
            if F != c.intermediateSize, F % sizeMultiple != 0 { throw bad("\(SettingName.ref("ffn_hidden_size")) \(F) is not a multiple of \(sizeMultiple) (change \(SettingName.ref("size_multiple")) to allow it)") }
            let shape = LoadableShape(hidden: C, ffn: F, heads: H, groups: G, headDim: c.headDim)
            let problems = shape.problems(for: consumers(c))
            if !problems.isEmpty {
                throw bad("hidden \(C), MLP \(F), \(H) heads in \(G) query groups would not load elsewhere: \(problems.joined(separator: "; ")). \(nearby(shape, c))")
            }
            return (C, F, H, G)
        }

        func consumers(_ c: LlamaConfig) -> LoadableShape.Consumers {
            LoadableShape.Consumers(family: c.family, qkvBias: c.qkvBias, ggufBlock: exportType?.blockElements)
        }

        /// Loadable shapes that change one axis of `s`: the nearest hidden and MLP sizes below
        /// and above, and the head counts that fit the hidden size.
        func nearby(_ s: LoadableShape, _ c: LlamaConfig) -> String {
            let rules = consumers(c)
            func loads(_ t: LoadableShape) -> Bool { t.problems(for: rules).isEmpty }
            func sizes(_ n: Int, max: Int, _ with: (Int) -> LoadableShape) -> [Int] {
                let ok = (1...max).filter { ($0 == max || $0 % sizeMultiple == 0) && loads(with($0)) }
                return [ok.last { $0 < n }, ok.first { $0 > n }].compactMap { $0 }
            }
            func show(_ xs: [Int]) -> String { xs.map(String.init).joined(separator: " or ") }
            var options: [String] = []
            let hs = sizes(s.hidden, max: c.hiddenSize) { var t = s; t.hidden = $0; return t }
            if !hs.isEmpty { options.append("\(SettingName.ref("hidden_size")) \(show(hs))") }
            let fs = sizes(s.ffn, max: c.intermediateSize) { var t = s; t.ffn = $0; return t }
            if !fs.isEmpty, !LoadableShape(hidden: c.hiddenSize, ffn: s.ffn, heads: c.numAttentionHeads, groups: c.numKeyValueHeads, headDim: s.headDim).problems(for: rules).isEmpty {
                options.append("\(SettingName.ref("ffn_hidden_size")) \(show(fs))")
            }
            let perGroup = c.numAttentionHeads / c.numKeyValueHeads
            var heads: [String] = []
            for h in stride(from: c.numAttentionHeads, through: 1, by: -1) {
                let gs = (1...c.numKeyValueHeads).filter { h % $0 == 0 && h / $0 <= perGroup && loads(LoadableShape(hidden: s.hidden, ffn: s.ffn, heads: h, groups: $0, headDim: s.headDim)) }
                if !gs.isEmpty { heads.append("\(SettingName.ref("num_attention_heads")) \(h) with \(SettingName.ref("num_query_groups")) \(gs.map(String.init).joined(separator: "|"))") }
            }
            if !heads.isEmpty { options.append("at hidden \(s.hidden): " + heads.prefix(3).joined(separator: ", or ")) }
            var unquantized = rules; unquantized.ggufBlock = 1
            if let t = exportType, t.blockElements > 1, s.problems(for: unquantized).isEmpty {
                options.append("set \(SettingName.ref("export_type")) f16 (now \(t.rawValue)) if the GGUF will not be quantized")
            }
            return options.isEmpty ? "No loadable shape differs from it in one axis; choose other targets." : "Loadable instead: " + options.joined(separator: "; or ") + "."
        }
    }

    /// Top-scoring channels of every axis: groups by the sum of their heads' scores, heads
    /// ranked within each kept group.
    public static func select(_ s: ImportanceScores, config c: LlamaConfig, targets: Targets) throws -> WidthPlan {
        let (C, F, H, G) = try targets.resolve(c)
        guard s.fits(c) else {
            throw PruneError.invalid("the importance scores are for \(s.shape); the model has \(c.numHiddenLayers) layers, hidden \(c.hiddenSize), MLP \(c.intermediateSize), \(c.numAttentionHeads) heads")
        }
        let perGroup = c.numAttentionHeads / c.numKeyValueHeads, newPerGroup = H / G
        var groups: [[Int]] = [], heads: [[Int]] = []
        for l in 0..<c.numHiddenLayers {
            let groupScore = (0..<c.numKeyValueHeads).map { g in (0..<perGroup).reduce(0.0) { $0 + s.heads[l][g * perGroup + $1] } }
            let keptGroups = top(groupScore, G)
            groups.append(keptGroups)
            heads.append(keptGroups.flatMap { g in top(Array(s.heads[l][g * perGroup..<(g + 1) * perGroup]), newPerGroup).map { g * perGroup + $0 } })
        }
        return WidthPlan(hidden: top(s.hidden, C), ffn: s.mlp.map { top($0, F) }, groups: groups, heads: heads)
    }

    /// Indices of the k largest scores, ascending (ties: lower index first).
    static func top(_ scores: [Double], _ k: Int) -> [Int] {
        Array(scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }.prefix(k)).sorted()
    }
}

public enum WidthPruning {
    /// A smaller plain Llama holding the kept slices of every tensor.
    public static func prune(_ model: LlamaModel, plan p: WidthPlan) throws -> LlamaModel {
        model.requireF32Matrices("prune")
        let c = model.config, D = c.headDim
        var config = c
        config.hiddenSize = p.hidden.count
        config.intermediateSize = p.ffn.first?.count ?? c.intermediateSize
        config.numAttentionHeads = p.heads.first?.count ?? c.numAttentionHeads
        config.numKeyValueHeads = p.groups.first?.count ?? c.numKeyValueHeads
        config.headDim = D   // explicit: heads × head_dim no longer equals hidden_size
        let out = try LlamaModel(config: config)
        let src = model.params.pointer, dst = out.params.pointer
        let C = c.hiddenSize
        func rowsOf(_ units: [Int], size: Int) -> [Int] { units.flatMap { u in (u * size..<(u + 1) * size) } }
        /// dst (rows.count, cols.count) ← src[rows][cols] with src row length `ld`.
        func copy(_ to: Int, _ from: Int, rows: [Int], cols: [Int], ld: Int) {
            var k = 0
            for r in rows { for col in cols { dst[to + k] = src[from + r * ld + col]; k += 1 } }
        }
        func vector(_ to: Int, _ from: Int, _ idx: [Int]) { for (k, i) in idx.enumerated() { dst[to + k] = src[from + i] } }

        copy(out.layout.embed, model.layout.embed, rows: Array(0..<c.vocabSize), cols: p.hidden, ld: C)
        for l in 0..<c.numHiddenLayers {
            let a = model.layout.layers[l], b = out.layout.layers[l]
            let qRows = rowsOf(p.heads[l], size: D), kvRows = rowsOf(p.groups[l], size: D), ffn = p.ffn[l]
            vector(b.inputNorm, a.inputNorm, p.hidden)
            copy(b.q, a.q, rows: qRows, cols: p.hidden, ld: C)
            copy(b.k, a.k, rows: kvRows, cols: p.hidden, ld: C)
            copy(b.v, a.v, rows: kvRows, cols: p.hidden, ld: C)
            copy(b.o, a.o, rows: p.hidden, cols: qRows, ld: c.numAttentionHeads * D)
            if let x = b.qBias, let y = a.qBias { vector(x, y, qRows) }
            if let x = b.kBias, let y = a.kBias { vector(x, y, kvRows) }
            if let x = b.vBias, let y = a.vBias { vector(x, y, kvRows) }
            if let x = b.oBias, let y = a.oBias { vector(x, y, p.hidden) }
            // Qwen3's and Gemma's q/k norms act on head_dim, which width pruning keeps: every head shares them.
            if let x = b.qNorm, let y = a.qNorm { vector(x, y, Array(0..<D)) }
            if let x = b.kNorm, let y = a.kNorm { vector(x, y, Array(0..<D)) }
            vector(b.postNorm, a.postNorm, p.hidden)
            if let x = b.attnOutNorm, let y = a.attnOutNorm { vector(x, y, p.hidden) }   // Gemma's output norms
            if let x = b.mlpOutNorm, let y = a.mlpOutNorm { vector(x, y, p.hidden) }
            copy(b.gate, a.gate, rows: ffn, cols: p.hidden, ld: C)
            copy(b.up, a.up, rows: ffn, cols: p.hidden, ld: C)
            copy(b.down, a.down, rows: p.hidden, cols: ffn, ld: c.intermediateSize)
            if let x = b.gateBias, let y = a.gateBias { vector(x, y, ffn) }
            if let x = b.upBias, let y = a.upBias { vector(x, y, ffn) }
            if let x = b.downBias, let y = a.downBias { vector(x, y, p.hidden) }
        }
        vector(out.layout.finalNorm, model.layout.finalNorm, p.hidden)
        if !c.tieWordEmbeddings { copy(out.layout.lmHead, model.layout.lmHead, rows: Array(0..<c.vocabSize), cols: p.hidden, ld: C) }
        return out
    }

    /// The identity plan (every channel kept).
    public static func identityPlan(_ c: LlamaConfig) -> WidthPlan {
        WidthPlan(hidden: Array(0..<c.hiddenSize), ffn: Array(repeating: Array(0..<c.intermediateSize), count: c.numHiddenLayers),
                  groups: Array(repeating: Array(0..<c.numKeyValueHeads), count: c.numHiddenLayers),
                  heads: Array(repeating: Array(0..<c.numAttentionHeads), count: c.numHiddenLayers))
    }
}
