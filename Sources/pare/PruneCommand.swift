import ArgumentParser
import Foundation
import PareCore
import PareFormats
import PareModel
import ParePrune
import PareTrain

struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a smaller model: drop layers (depth) or slice neurons, heads, groups and channels (width).",
        subcommands: [PruneDepth.self, PruneWidth.self])
}

/// Calibration options both prune commands share.
struct CalibrationOptions: ParsableArguments {
    @Option(help: "Calibration data: an indexed-dataset prefix (pare data tokenize).") var calibrationData: String?
    @Option(help: "Calibration sequences (the paper uses 1024).") var calibrationSamples = 64
    @Option(help: "Tokens per calibration sequence.") var seqLength = 256
    @Option(help: "Sequences per forward pass.") var calibrationBatch = 4
    @Option(help: "Seed for the calibration sample order.") var seed: UInt64 = 1234

    func calibration() throws -> Calibration {
        guard let prefix = calibrationData else { throw fail("scoring needs --calibration-data PREFIX (or give --drop-layers / --scores)") }
        guard calibrationSamples > 0, seqLength > 1 else { throw fail("--calibration-samples and --seq-length must be positive") }
        let p = FileManager.default.fileExists(atPath: prefix + ".idx") ? prefix : prefix + "_text_document"
        do {
            let stream = try GPTSampleStream(dataset: IndexedDataset(prefix: p), seqLength: seqLength, seed: seed)
            return Calibration(stream: BlendedSampleStream(streams: [stream], weights: [1]), samples: calibrationSamples, batch: calibrationBatch)
        } catch let e as FormatError { throw fail("\(e)") }
    }
}

func progressLine(_ what: String, _ t0: Double) -> (Int, Int) -> Void {
    { done, total in
        var err = StandardError()
        let el = ProcessInfoLite.now() - t0
        print(String(format: "\r  %@: %d/%d sequences, ETA %@   ", what, done, total, formatDuration(el / Double(done) * Double(total - done))),
              terminator: done == total ? "\n" : "", to: &err)
    }
}

func saveStudent(_ model: LlamaModel, tokenizer: Tokenizer, before: Int, to dir: String) throws {
    do { try HFCheckpoint.save(model, tokenizer: tokenizer, to: dir) } catch let e as FormatError { throw fail("\(e)") }
    let after = model.parameterCount
    print(String(format: "parameters: %d → %d (%.1f%%); wrote %@", before, after, 100 * Double(after) / Double(before), dir))
}

struct PruneDepth: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "depth",
        abstract: "Drop whole layers: named ones, or the least important by a calibration metric.")

    @Option(help: "The model: a .gguf file or a Hugging Face directory.") var model: String
    @Option(help: "Output Hugging Face directory.") var output: String
    @Option(help: "Layers to drop, 0-based as in model.layers.N: e.g. 15-29 or 3,5,7-9.") var dropLayers: String?
    @Option(help: "Layers to keep; the others are chosen by --metric.") var numLayers: Int?
    @Option(help: "cosine (1 − cos between a layer's input and output) or loss (LM loss with it removed).") var metric = "cosine"
    @Flag(help: "Drop one contiguous block of layers (the best block) instead of the individually least important.") var contiguous = false
    @OptionGroup var calibration: CalibrationOptions
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        threads.apply()
        guard metric == "cosine" || metric == "loss" else { throw fail("--metric must be cosine or loss") }
        guard (dropLayers == nil) != (numLayers == nil) else { throw fail("give exactly one of --drop-layers and --num-layers") }
        let loaded: PretrainedModel
        do { loaded = try PretrainedModel.load(model) } catch let e as FormatError { throw fail("\(e)") }
        let m = loaded.model, L = m.config.numHiddenLayers
        var drop: Set<Int>
        if let spec = dropLayers {
            do { drop = try DepthPruning.parseLayers(spec) } catch let e as PruneError { throw fail("\(e)") }
            guard drop.allSatisfy({ $0 < L }) else { throw fail("--drop-layers names layers beyond the model's \(L) (0...\(L - 1))") }
            guard drop.count < L else { throw fail("--drop-layers would drop all \(L) layers") }
        } else {
            let keep = numLayers!
            guard keep >= 1 && keep < L else { throw fail("--num-layers must be between 1 and \(L - 1) (the model has \(L))") }
            let n = L - keep
            let cal = try calibration.calibration()
            let t0 = ProcessInfoLite.now()
            let collector = ImportanceCollector(config: m.config, blockSize: n)
            let base = try cal.run(m, observer: collector, progress: progressLine("calibration", t0))
            var scores = collector.scores(.l2)
            scores.baseLoss = base
            if metric == "loss" {
                scores.layerLoss = try (0..<L).map { l in try cal.run(m, skipLayers: [l]) }
                if contiguous { scores.blockLoss = try (0...(L - n)).map { s in try cal.run(m, skipLayers: Set(s..<(s + n))) } }
            }
            // Lower score = less important.
            let layerScore = metric == "loss" ? scores.layerLoss! : scores.layerCosine
            if contiguous {
                let blockScore = metric == "loss" ? scores.blockLoss! : scores.blockCosine!
                let start = blockScore.indices.min { blockScore[$0] < blockScore[$1] }!
                drop = Set(start..<(start + n))
            } else {
                drop = Set(layerScore.indices.sorted { layerScore[$0] < layerScore[$1] }.prefix(n))
            }
            print(String(format: "calibration: %d tokens, base loss %.4f", scores.calibrationTokens, base))
            print("layer | 1 − cos(in, out)" + (metric == "loss" ? " | loss without it" : "") + " | dropped")
            for l in 0..<L {
                print(String(format: "%5d | %.5f", l, scores.layerCosine[l]) + (metric == "loss" ? String(format: " | %.4f", scores.layerLoss![l]) : "") + (drop.contains(l) ? " | yes" : " |"))
            }
            if contiguous {
                let bs = metric == "loss" ? scores.blockLoss! : scores.blockCosine!
                print("block of \(n) starting at | \(metric == "loss" ? "loss without it" : "1 − cos(in, out)")")
                for (s, v) in bs.enumerated() { print(String(format: "%5d | %.5f", s, v)) }
            }
            try? FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            do { try scores.write(to: output + "/importance.json") } catch { throw fail("\(error)") }
        }
        print("dropping layers \(drop.sorted())")
        let student: LlamaModel
        do { student = try DepthPruning.prune(m, drop: drop) } catch let e as PruneError { throw fail("\(e)") }
        try saveStudent(student, tokenizer: loaded.tokenizer, before: m.parameterCount, to: output)
    }
}

struct PruneWidth: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "width",
        abstract: "Slice MLP neurons, attention heads, query groups and hidden channels by activation importance.")

    @Option(help: "The model: a .gguf file or a Hugging Face directory.") var model: String
    @Option(help: "Output Hugging Face directory.") var output: String
    @Option(help: "Target MLP size (intermediate_size).") var ffnHiddenSize: Int?
    @Option(help: "Target hidden size (embedding channels).") var hiddenSize: Int?
    @Option(help: "Target number of query heads.") var numAttentionHeads: Int?
    @Option(help: "Target number of KV groups (num_key_value_heads).") var numQueryGroups: Int?
    @Option(help: "Hidden and MLP sizes must be multiples of this.") var sizeMultiple = 8
    @Option(help: "Reuse scores from an importance.json instead of calibrating.") var scores: String?
    @Option(help: "Aggregation over the batch: l2 (default), mean, variance.") var aggregation = "l2"
    @Option(help: "MLP importance from down-input (silu(gate)·up; default) or gate (pre-activation, the paper's).") var mlpActivation = "down-input"
    @OptionGroup var calibration: CalibrationOptions
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        threads.apply()
        guard let agg = Aggregation(rawValue: aggregation) else { throw fail("--aggregation must be l2, mean or variance") }
        guard let mlpAct = MLPActivation(rawValue: mlpActivation) else { throw fail("--mlp-activation must be down-input or gate") }
        let loaded: PretrainedModel
        do { loaded = try PretrainedModel.load(model) } catch let e as FormatError { throw fail("\(e)") }
        let m = loaded.model
        let targets = WidthPlan.Targets(hiddenSize: hiddenSize, ffnHiddenSize: ffnHiddenSize, numAttentionHeads: numAttentionHeads,
                                        numQueryGroups: numQueryGroups, sizeMultiple: sizeMultiple)
        // Sizes first: an impossible request fails before any calibration work.
        let (C, F, H, G): (Int, Int, Int, Int)
        do { (C, F, H, G) = try targets.resolve(m.config) } catch let e as PruneError { throw fail("\(e)") }
        let s: ImportanceScores
        if let path = scores {
            do { s = try ImportanceScores.read(path) } catch let e as PruneError { throw fail("\(e)") }
        } else {
            let cal = try calibration.calibration()
            let collector = ImportanceCollector(config: m.config, mlpActivation: mlpAct)
            try cal.run(m, observer: collector, progress: progressLine("calibration", ProcessInfoLite.now()))
            s = collector.scores(agg)
            try? FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            do { try s.write(to: output + "/importance.json") } catch { throw fail("\(error)") }
            print("calibration: \(s.calibrationTokens) tokens; scores saved to \(output)/importance.json")
        }
        print("hidden \(m.config.hiddenSize) → \(C), MLP \(m.config.intermediateSize) → \(F), heads \(m.config.numAttentionHeads) → \(H), query groups \(m.config.numKeyValueHeads) → \(G)")
        let student: LlamaModel
        do { student = try WidthPruning.prune(m, plan: try WidthPlan.select(s, config: m.config, targets: targets)) }
        catch let e as PruneError { throw fail("\(e)") }
        try saveStudent(student, tokenizer: loaded.tokenizer, before: m.parameterCount, to: output)
    }
}
