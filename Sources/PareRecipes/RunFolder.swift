import Foundation

/// A training run's folder: whether one is there, and moving it aside for a fresh run.
enum RunFolder {
    /// True when `path` holds a run (checkpoints or logged metrics), not just an empty folder.
    static func holdsRun(_ path: String) -> Bool {
        let fm = FileManager.default
        let checkpoints = (try? fm.contentsOfDirectory(atPath: path + "/checkpoints"))?.contains { $0.hasPrefix("step-") } ?? false
        let metrics = ((try? fm.attributesOfItem(atPath: path + "/metrics.jsonl"))?[.size] as? Int ?? 0) > 0
        return checkpoints || metrics
    }

    /// Renames `path` to the first free `path.previous-N` and returns that name.
    static func moveAside(_ path: String) throws -> String {
        var n = 1
        while FileManager.default.fileExists(atPath: "\(path).previous-\(n)") { n += 1 }
        let to = "\(path).previous-\(n)"
        do { try FileManager.default.moveItem(atPath: path, toPath: to) }
        catch { throw RecipeError.failed("cannot move \(path) aside to \(to): \(error.localizedDescription)") }
        return to
    }
}
