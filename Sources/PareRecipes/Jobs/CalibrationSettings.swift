import Foundation
import PareFormats
import PareModel
import ParePrune

/// The calibration set both prune jobs measure importance on.
public struct CalibrationSettings: Codable, Equatable {
    public var calibrationData: String? = nil   // an indexed-dataset prefix (pare data tokenize)
    public var calibrationSamples = 64          // sequences (the paper uses 1024)
    public var seqLength = 256                  // tokens per sequence
    public var calibrationBatch = 4             // sequences per forward pass
    public var seed: UInt64 = 1234              // sample order
    public var precision = "fp32"               // fp32 | bf16: the calibration forward passes' matmuls

    public init() {}
    enum CodingKeys: String, CodingKey, CaseIterable {
        case calibrationData = "calibration_data", calibrationSamples = "calibration_samples", seqLength = "seq_length"
        case calibrationBatch = "calibration_batch", seed, precision
    }
    public static var keys: [String] { CodingKeys.allCases.map(\.rawValue) }
    public init(from decoder: Decoder) throws { try self.init(StrictFields(decoder, known: CalibrationSettings.keys)) }
    init(_ f: StrictFields) throws {
        try f.read("calibration_data", &calibrationData); try f.read("calibration_samples", &calibrationSamples)
        try f.read("seq_length", &seqLength); try f.read("calibration_batch", &calibrationBatch); try f.read("seed", &seed)
        try f.read("precision", &precision)
    }

    public func validate() throws {
        guard calibrationSamples > 0 else { throw RecipeError.invalid("calibration_samples", "must be positive, not \(calibrationSamples)") }
        guard seqLength > 1 else { throw RecipeError.invalid("seq_length", "must be at least 2, not \(seqLength)") }
        guard calibrationBatch > 0 else { throw RecipeError.invalid("calibration_batch", "must be positive, not \(calibrationBatch)") }
        _ = try PrecisionSetting.parse(precision)
    }

    /// The calibration runner; `why` says what needs it when no data was given.
    func calibration(_ why: String) throws -> Calibration {
        guard let prefix = calibrationData else { throw RecipeError.invalid("calibration_data", "is needed \(why)") }
        let stream = try GPTSampleStream(dataset: IndexedDataset(prefix: DataPrefix.resolve(prefix)), seqLength: seqLength, seed: seed)
        return Calibration(stream: BlendedSampleStream(streams: [stream], weights: [1]), samples: calibrationSamples, batch: calibrationBatch)
    }
}

/// Writes a pruned model as a Hugging Face directory and reports the parameter change.
func saveStudent(_ model: PareModel.LlamaModel, tokenizer: Tokenizer, before: Int, to dir: String, _ progress: Progress) throws {
    try PareModel.HFCheckpoint.save(model, tokenizer: tokenizer, to: dir)
    let after = model.parameterCount
    progress.say(String(format: "parameters: %d → %d (%.1f%%); wrote %@", before, after, 100 * Double(after) / Double(before), dir))
}
