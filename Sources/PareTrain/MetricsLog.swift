import Foundation
import PareCore
import PareFormats

/// Where a run's numbers go: TensorBoard event files, `metrics.jsonl` (one JSON object per
/// record), and a console line per logged step. Only the process that owns the run writes.
public final class MetricsLog {
    let tensorboard: TensorBoardWriter?
    let jsonl: FileHandle?
    public let quiet: Bool

    public init(directory: String, quiet: Bool = false) throws {
        tensorboard = try TensorBoardWriter(directory: directory + "/tensorboard")
        let path = directory + "/metrics.jsonl"
        if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
        guard let h = FileHandle(forWritingAtPath: path) else { throw FormatError.io(path: path, message: "cannot open for appending") }
        h.seekToEndOfFile()
        jsonl = h
        self.quiet = quiet
    }

    /// A log that records nothing (tests).
    public init() { tensorboard = nil; jsonl = nil; quiet = true }

    public func record(step: Int, _ values: [(String, Double)]) {
        try? tensorboard?.scalars(values, step: step)
        var obj: [String: Any] = ["step": step, "time": Date().timeIntervalSince1970]
        for (k, v) in values where v.isFinite { obj[k] = v }
        if let d = try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]) {
            jsonl?.write(d + Data("\n".utf8))
        }
    }

    public func say(_ line: String) { if !quiet { print(line); fflush(stdout) } }

    public func flush() { tensorboard?.flush(); jsonl?.synchronizeFile() }
}

/// "1h02m", "3m05s", "42s".
public func formatDuration(_ s: Double) -> String {
    guard s.isFinite && s >= 0 else { return "?" }
    let t = Int(s.rounded())
    if t >= 3600 { return String(format: "%dh%02dm", t / 3600, t % 3600 / 60) }
    if t >= 60 { return String(format: "%dm%02ds", t / 60, t % 60) }
    return "\(t)s"
}
