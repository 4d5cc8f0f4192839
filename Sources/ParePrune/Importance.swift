import Foundation
import PareCore
import PareFormats
import PareModel

/// How per-sample activation magnitudes become one score per channel. For activations
/// a (B, S, W), each sample b gives m_b = mean_s |a_{b,s,:}|; over all calibration samples:
///   l2:       sqrt(Σ_b m_b²)       (the default: L2 over batch, mean over sequence)
///   mean:     Σ_b m_b / count
///   variance: Σ_b m_b² / count − (Σ_b m_b / count)²
public enum Aggregation: String, Codable, Sendable, CaseIterable { case l2, mean, variance }

/// Which activation scores an MLP neuron.
public enum MLPActivation: String, Codable, Sendable, CaseIterable {
    case downInput = "down-input"   // silu(gate)·up, the input of down_proj (the shipped code's choice)
    case gate                        // x·W_gate, the pre-activation (the paper's variant)
}

/// Running per-channel sums of m_b and m_b².
struct ChannelStats: Codable {
    var sum: [Double], sumSq: [Double], samples = 0
    init(width: Int) { sum = Array(repeating: 0, count: width); sumSq = sum }

    mutating func add(meanAbs m: [Double]) {
        for i in 0..<m.count { sum[i] += m[i]; sumSq[i] += m[i] * m[i] }
        samples += 1
    }

    func scores(_ agg: Aggregation) -> [Double] {
        let n = Double(max(samples, 1))
        switch agg {
        case .l2: return sumSq.map { $0.squareRoot() }
        case .mean: return sum.map { $0 / n }
        case .variance: return zip(sum, sumSq).map { s, q in q / n - (s / n) * (s / n) }
        }
    }
}

/// Watches calibration forward passes and accumulates what every importance score needs:
/// MLP neurons and attention heads per layer, hidden channels per norm site, and per-layer
/// (and per-block) 1 − cosine between the residual stream entering and leaving.
public final class ImportanceCollector: ForwardObserver {
    public let config: LlamaConfig
    public let mlpActivation: MLPActivation
    public let blockSize: Int?
    var mlp: [ChannelStats]
    var heads: [ChannelStats]
    var hidden: [ChannelStats]        // 2 per layer: input_layernorm, post_attention_layernorm
    var layerCosine: [Double]
    var blockCosine: [Double]
    var tokens = 0
    private var layerInputs: [[Float]] = []   // this batch's residual stream entering each layer

    public init(config: LlamaConfig, mlpActivation: MLPActivation = .downInput, blockSize: Int? = nil) {
        self.config = config
        self.mlpActivation = mlpActivation
        self.blockSize = blockSize
        let L = config.numHiddenLayers
        mlp = (0..<L).map { _ in ChannelStats(width: config.intermediateSize) }
        heads = (0..<L).map { _ in ChannelStats(width: config.numAttentionHeads) }
        hidden = (0..<2 * L).map { _ in ChannelStats(width: config.hiddenSize) }
        layerCosine = Array(repeating: 0, count: L)
        blockCosine = Array(repeating: 0, count: blockSize.map { L - $0 + 1 } ?? 0)
    }

    public func observe(_ site: ActivationSite, layer l: Int, values: UnsafePointer<Float>, B: Int, T: Int, width W: Int) {
        switch site {
        case .mlpHidden where mlpActivation == .downInput, .mlpGate where mlpActivation == .gate:
            addMeanAbs(&mlp[l], values, B: B, T: T, W: W, group: 1)
        case .attentionOutput:
            addMeanAbs(&heads[l], values, B: B, T: T, W: W, group: config.headDim)
        case .inputNorm:
            addMeanAbs(&hidden[2 * l], values, B: B, T: T, W: W, group: 1)
        case .postNorm:
            addMeanAbs(&hidden[2 * l + 1], values, B: B, T: T, W: W, group: 1)
        case .layerInput:
            if l == 0 { layerInputs.removeAll(keepingCapacity: true) }
            layerInputs.append(Array(UnsafeBufferPointer(start: values, count: B * T * W)))
        case .layerOutput:
            let N = B * T
            layerCosine[l] += cosineDistanceSum(layerInputs[l], values, N: N, C: W)
            if let n = blockSize, l - n + 1 >= 0 { blockCosine[l - n + 1] += cosineDistanceSum(layerInputs[l - n + 1], values, N: N, C: W) }
            if l == config.numHiddenLayers - 1 { tokens += N }
        default: break
        }
    }

    /// m_b for each sample; `group` > 1 first takes the L2 norm of each group of channels
    /// (a head's D outputs) per token.
    private func addMeanAbs(_ stats: inout ChannelStats, _ a: UnsafePointer<Float>, B: Int, T: Int, W: Int, group: Int) {
        let G = W / group
        for b in 0..<B {
            var m = [Double](repeating: 0, count: G)
            for t in 0..<T {
                let row = a + (b * T + t) * W
                if group == 1 {
                    for i in 0..<W { m[i] += Double(abs(row[i])) }
                } else {
                    for g in 0..<G { m[g] += Double(dot(row + g * group, row + g * group, group)).squareRoot() }
                }
            }
            stats.add(meanAbs: m.map { $0 / Double(T) })
        }
    }

    /// Σ over tokens of 1 − cos(x, y).
    private func cosineDistanceSum(_ x: [Float], _ y: UnsafePointer<Float>, N: Int, C: Int) -> Double {
        var total = 0.0
        x.withUnsafeBufferPointer { xb in
            for n in 0..<N {
                let a = xb.baseAddress! + n * C, b = y + n * C
                let ab = Double(dot(a, b, C)), aa = Double(dot(a, a, C)), bb = Double(dot(b, b, C))
                total += 1 - ab / max((aa * bb).squareRoot(), 1e-30)
            }
        }
        return total
    }

    public func scores(_ agg: Aggregation) -> ImportanceScores {
        var hiddenTotal = [Double](repeating: 0, count: config.hiddenSize)
        for s in hidden { for (i, v) in s.scores(agg).enumerated() { hiddenTotal[i] += v } }
        let t = Double(max(tokens, 1))
        return ImportanceScores(aggregation: agg, mlpActivation: mlpActivation, calibrationTokens: tokens,
                                mlp: mlp.map { $0.scores(agg) }, heads: heads.map { $0.scores(agg) }, hidden: hiddenTotal,
                                layerCosine: layerCosine.map { $0 / t },
                                blockSize: blockSize, blockCosine: blockSize == nil ? nil : blockCosine.map { $0 / t },
                                layerLoss: nil, blockLoss: nil, baseLoss: nil)
    }
}

/// Importance scores, saved as `importance.json` so a model can be re-pruned to other
/// sizes without recalibrating (`--scores`).
public struct ImportanceScores: Codable, Sendable {
    public var aggregation: Aggregation
    public var mlpActivation: MLPActivation
    public var calibrationTokens: Int
    public var mlp: [[Double]]          // (L, F)
    public var heads: [[Double]]        // (L, H)
    public var hidden: [Double]         // (C), summed over all norm outputs
    public var layerCosine: [Double]    // (L) mean 1 − cos(in, out): higher = more important
    public var blockSize: Int?
    public var blockCosine: [Double]?   // (L − n + 1) for blocks of n layers starting at each index
    public var layerLoss: [Double]?     // (L) LM loss with the layer removed
    public var blockLoss: [Double]?     // LM loss with each block removed
    public var baseLoss: Double?
    public var task: String?            // the task of the task metric (e.g. winogrande), its documents
    public var taskDocuments: Int?
    public var baseTaskAccuracy: Double?
    public var layerTaskDrop: [Double]? // (L) accuracy lost when the layer is skipped
    public var blockTaskDrop: [Double]? // accuracy lost when each block is skipped
    /// The content hash of the model measured (`LlamaModel.contentHash`): scores are only
    /// meaningful for the weights they came from. Nil in files of older versions.
    public var model: String?

    enum CodingKeys: String, CodingKey {
        case aggregation, mlpActivation = "mlp_activation", calibrationTokens = "calibration_tokens", mlp, heads, hidden
        case layerCosine = "layer_cosine", blockSize = "block_size", blockCosine = "block_cosine"
        case layerLoss = "layer_loss", blockLoss = "block_loss", baseLoss = "base_loss"
        case task, taskDocuments = "task_documents", baseTaskAccuracy = "base_task_accuracy"
        case layerTaskDrop = "layer_task_drop", blockTaskDrop = "block_task_drop", model
    }

    /// The shape the width scores describe, as a user reads it.
    public var shape: String {
        "\(heads.count) layers, hidden \(hidden.count), MLP \(mlp.first?.count ?? 0), \(heads.first?.count ?? 0) heads"
    }

    /// Whether the width scores fit a model of `c`'s shape.
    public func fits(_ c: LlamaConfig) -> Bool {
        mlp.count == c.numHiddenLayers && heads.count == c.numHiddenLayers && hidden.count == c.hiddenSize
            && mlp.allSatisfy { $0.count == c.intermediateSize } && heads.allSatisfy { $0.count == c.numAttentionHeads }
    }

    public func write(to path: String) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        try AtomicFileWriter.write(try enc.encode(self), to: path)
    }

    public static func read(_ path: String) throws -> ImportanceScores {
        guard let d = FileManager.default.contents(atPath: path) else { throw PruneError.invalid("cannot read \(path)") }
        do { return try JSONDecoder().decode(ImportanceScores.self, from: d) }
        catch { throw PruneError.invalid("\(path) is not an importance.json written by pare prune (\(error))") }
    }
}
