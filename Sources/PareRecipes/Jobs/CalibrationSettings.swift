import Foundation
import PareCore
import PareFormats
import PareModel
import ParePrune

/// The calibration set both prune jobs measure importance on, and repair the cut with.
public struct CalibrationSettings: Equatable, JobSettings {
    public var calibrationData: String? = nil   // an indexed-dataset prefix (pare data tokenize)
    public var calibrationSamples = 64          // sequences (the paper uses 1024)
    public var seqLength = 256                  // tokens per sequence
    public var calibrationBatch = 4             // sequences per forward pass
    // The calibration's own sample order, not training's (1234): otherwise a repaired student's
    // first distillation steps are the very sequences the repair was fit on (measured: KD loss
    // 0.24–0.64 on them, then 2.2 on new data, which the divergence guard takes for a spike).
    public var seed: UInt64 = 4321              // sample order
    public var precision = "fp32"               // fp32 | bf16: the calibration forward passes' matmuls
    public var repair = false                   // refit the student's kept weights to the teacher's layers (CutRepair)
    public var repairDamping = CutRepair.defaultDamping   // the refit's ridge, relative to the inputs' mean square

    public init() {}

    public static let settings: [Setting<CalibrationSettings>] = [
        Setting("calibration_data", \.calibrationData, "Calibration data: an indexed-dataset prefix (pare data tokenize)."),
        Setting("calibration_samples", \.calibrationSamples, "Calibration sequences; the paper uses 1024.", check: Check.positive),
        Setting("seq_length", \.seqLength, "Tokens per calibration sequence.", check: Check.atLeast(2)),
        Setting("calibration_batch", \.calibrationBatch, "Sequences per forward pass.", check: Check.positive),
        Setting("seed", \.seed, "Seed for the calibration sample order (default 4321: another order than training's 1234, so a repair is not fit on the sequences distillation starts with)."),
        Setting("precision", \.precision, "Matmul precision of the calibration passes (importance, depth selection, the repair): \(precisionHelp).", check: PrecisionSetting.problem),
        Setting("repair", \.repair, "Repair the cut before any gradient step: refit every changed layer's kept weights by least squares so that, on the calibration tokens, it reproduces the teacher's layer (o_proj and down_proj also take over what removed layers and channels added to the residual stream)."),
        Setting("repair_damping", \.repairDamping, "The repair's ridge toward the pruned weights, relative to the mean square of each refit layer's inputs (GPTQ's damping).",
                check: { $0 > 0 && $0.isFinite ? nil : "must be a positive number, not \($0)" }),
    ]

    public func validate() throws { try checkRanges() }

    /// The calibration runner; `why` says what needs it when no data was given.
    /// The calibration batches for `model`, whose tokenizer the data must have been made with.
    func calibration(_ why: String, for loaded: PretrainedModel, model: String, _ progress: Progress) throws -> Calibration {
        guard let prefix = calibrationData else { throw RecipeError.invalid("calibration_data", "is needed \(why)") }
        let dataset = try openDataset(prefix, key: "calibration_data")
        try checkDataTokenizer(prefix, key: "calibration_data", tokenizer: loaded.tokenizer, model: model, progress)
        let stream = try GPTSampleStream(dataset: dataset, seqLength: seqLength, seed: seed)
        return Calibration(stream: BlendedSampleStream(streams: [stream], weights: [1]), samples: calibrationSamples, batch: calibrationBatch)
    }
}

/// Writes a pruned model as a Hugging Face directory and reports the parameter change.
func saveStudent(_ model: PareModel.LlamaModel, tokenizer: Tokenizer, before: Int, to dir: String, _ progress: Progress) throws {
    try PareModel.HFCheckpoint.save(model, tokenizer: tokenizer, to: dir)
    let after = model.parameterCount
    progress.say(String(format: "parameters: %d → %d (%.1f%%); wrote %@", before, after, 100 * Double(after) / Double(before), dir))
}

/// Repairs the cut when `repair` is on (CutRepair). The student's loss is not measured here:
/// on the calibration tokens it was fit on it flatters (demo: 2.20 there, 5.88 on the test
/// split), and the pipeline's evaluation reports it on held-out data.
func repairCut(_ student: PareModel.LlamaModel, teacher: PareModel.LlamaModel, map: CutMap, calibration cal: Calibration,
               settings: CalibrationSettings, _ progress: Progress) throws {
    guard settings.repair else { return }
    let t0 = ProcessInfoLite.now()
    // The repair's passes are calibration passes: they run in the calibration's precision.
    let r = try CutRepair.repair(student: student, teacher: teacher, map: map, calibration: cal, damping: settings.repairDamping,
                                 precision: try PrecisionSetting.parse(settings.precision), progress: progress.counter("repair", unit: "layers"))
    progress.say(String(format: "repair: %d layers, %d linear layers refit on %d calibration tokens in %.1f s",
                        r.refitLayers.count, r.linears, r.tokens, ProcessInfoLite.now() - t0))
}
