import Foundation
import PareCore
import PareFormats
import PareModel

extension PretrainedModel {
    /// Scores the documents of `task` that `limit` selects, with a status line (requests,
    /// tokens/s, ETA) led by `label`; a task the model cannot score is an error naming the model.
    func score(_ task: TaskRequests, limit: Int?, label: String, progress: Progress) throws -> TaskResult {
        let t0 = ProcessInfoLite.now()
        defer { progress.endStatus() }
        do {
            return try model.evaluate(task: task, tokenizer: tokenizer, limit: limit) { p in
                let el = ProcessInfoLite.now() - t0
                progress.status(String(format: "%@: %d/%d requests, %.0f tokens/s, ETA %.0f s", label, p.requests, p.totalRequests,
                                       Double(p.tokens) / el, p.secondsLeft(elapsed: el)))
            }
        } catch let e as TaskError {
            throw RecipeError.failed("\(source): \(e.description)")
        }
    }
}
