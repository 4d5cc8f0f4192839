import Foundation
import PareCore
import PareFormats
import PareModel

/// One model's evaluation: a row of eval JSON (`pare eval --json`, the pipeline's
/// eval-val.json and eval-test.json), which the report reads.
public struct EvalRow: Codable, Equatable {
    public var model: String
    public var parameters: Int
    public var layers: Int
    public var hiddenSize: Int
    public var precision: String?
    /// Perplexity: tokens scored, their mean loss, and exp of it.
    public var tokens: Int?, loss: Double?, perplexity: Double?
    /// With `speed`: batch-1 prefill (128 tokens) and decode (32 tokens) rates.
    public var prefillTokensPerSecond: Double?, decodeTokensPerSecond: Double?
    /// With `tasks`: one entry per task, and the mean of their primary metrics.
    public var tasks: [TaskScore]?
    public var taskAverage: Double?

    public init(model: String, parameters: Int, layers: Int, hiddenSize: Int, precision: String? = nil) {
        self.model = model; self.parameters = parameters; self.layers = layers; self.hiddenSize = hiddenSize; self.precision = precision
    }

    enum CodingKeys: String, CodingKey {
        case model, parameters, layers, hiddenSize = "hidden_size", precision, tokens, loss, perplexity
        case prefillTokensPerSecond = "prefill_tokens_per_second", decodeTokensPerSecond = "decode_tokens_per_second"
        case tasks, taskAverage = "task_average"
    }

    /// Writes rows as eval JSON (atomically).
    public static func write(_ rows: [EvalRow], to path: String) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        do { try AtomicFileWriter.write(try enc.encode(rows), to: path) }
        catch let e as FormatError { throw e }
        catch { throw RecipeError.failed("cannot write \(path): \(SystemErrorText.reason(error))") }
    }

    /// The rows of an eval JSON file; nil when there is no such file.
    public static func read(_ path: String) throws -> [EvalRow]? {
        guard let d = FileManager.default.contents(atPath: path) else { return nil }
        do { return try JSONDecoder().decode([EvalRow].self, from: d) }
        catch { throw RecipeError.failed("\(path) is not eval JSON; run the eval step again to rewrite it") }
    }
}
