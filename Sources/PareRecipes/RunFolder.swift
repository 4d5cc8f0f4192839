import Foundation
import PareCore

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
        catch { throw RecipeError.failed("cannot move \(path) aside to \(to): \(SystemErrorText.reason(error))") }
        return to
    }
}

/// A folder a command writes whole (`pare convert`'s model folder). Writing into one that
/// holds another model would mix the two: a sharded model's index.json wins over the new
/// weights, and its importance.json stays beside them.
public enum OutputFolder {
    /// Checks that `path` can take a new model folder: true when it holds files that
    /// `overwrite` allows to be moved aside (`moveAside`), false when it is free.
    public static func check(_ path: String, input: String, overwrite: Bool) throws -> Bool {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDir) else { return false }
        guard isDir.boolValue else { throw RecipeError.failed("\(path) is a file; give a folder for the model") }
        let same = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
            == URL(fileURLWithPath: input).standardizedFileURL.resolvingSymlinksInPath().path
        guard !same else { throw RecipeError.failed("\(path) is the input folder; write the model to another folder") }
        let contents = (try? fm.contentsOfDirectory(atPath: path)) ?? []
        guard !contents.isEmpty else { return false }
        guard overwrite else {
            let what = contents.contains("config.json") ? "another model" : "\(contents.count) file\(contents.count == 1 ? "" : "s")"
            throw RecipeError.failed("\(path) already holds \(what) (\(contents.sorted().prefix(3).joined(separator: ", "))\(contents.count > 3 ? ", …" : "")); pass --overwrite to move it aside to \(path).previous-N, or choose another folder")
        }
        return true
    }

    /// Moves the folder's old contents aside; returns the note to print.
    public static func moveAside(_ path: String) throws -> String {
        "moved what \(path) held aside to \(try RunFolder.moveAside(path))"
    }
}
