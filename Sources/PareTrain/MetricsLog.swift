import Foundation
import PareCore
import PareFormats

/// Where a run's numbers go: TensorBoard event files, `metrics.jsonl` (one JSON object per
/// record), and a console line per logged step. Only the process that owns the run writes.
public final class MetricsLog {
    let tensorboard: TensorBoardWriter?
    var jsonl: FileHandle?
    let jsonlPath: String?
    /// The claim on the run folder, held as long as the log is open.
    let lock: RunLock?
    public let quiet: Bool

    public init(directory: String, lock: RunLock? = nil, quiet: Bool = false) throws {
        self.lock = lock
        tensorboard = try TensorBoardWriter(directory: directory + "/tensorboard")
        let path = directory + "/metrics.jsonl"
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let h = FileHandle(forWritingAtPath: path) else { throw FormatError.io(path: path, message: "cannot open for appending") }
        // A row cut short (a full disk, a power cut mid-write) is dropped, so the next row starts
        // on a line of its own instead of being glued to half a row.
        let end = h.seekToEndOfFile()
        if end > 0, let data = FileManager.default.contents(atPath: path), data.last != UInt8(ascii: "\n") {
            let keep = data.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
            h.truncateFile(atOffset: UInt64(keep))
        }
        jsonl = h
        jsonlPath = path
        self.quiet = quiet
    }

    /// A log that records nothing (tests).
    public init() { tensorboard = nil; jsonl = nil; jsonlPath = nil; lock = nil; quiet = true }

    /// Forgets the records after `step`, which a resumed run is about to redo: metrics.jsonl
    /// is rewritten without them (atomically), and TensorBoard is told to purge them.
    public func resume(after step: Int) throws {
        try tensorboard?.restart(at: step + 1)
        guard let path = jsonlPath, let data = FileManager.default.contents(atPath: path) else { return }
        var kept = Data()
        for line in data.split(separator: UInt8(ascii: "\n")) {
            // Rows of later steps are redone; a line that is not a whole row is a torn write.
            guard let row = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else { continue }
            if let s = row["step"] as? Int, s > step, row["event"] == nil { continue }
            kept += line + [UInt8(ascii: "\n")]
        }
        guard kept.count != data.count else { return }
        try? jsonl?.close()
        try AtomicFileWriter.write(kept, to: path)
        guard let h = FileHandle(forWritingAtPath: path) else { throw FormatError.io(path: path, message: "cannot open for appending") }
        h.seekToEndOfFile()
        jsonl = h
    }

    public func record(step: Int, _ values: [(String, Double)]) {
        try? tensorboard?.scalars(values, step: step)
        var obj: [String: Any] = ["step": step, "time": Date().timeIntervalSince1970]
        for (k, v) in values where v.isFinite { obj[k] = v }
        if let d = try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]) {
            jsonl?.write(d + Data("\n".utf8))
        }
    }

    /// A row that is not a step's scalars but something that happened at it (a rewind):
    /// `{"step": …, "event": name, …fields}`. A resumed run keeps it.
    public func event(step: Int, _ name: String, _ fields: [String: Any]) {
        var obj = fields
        obj["step"] = step; obj["event"] = name; obj["time"] = Date().timeIntervalSince1970
        if let d = try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]) { jsonl?.write(d + Data("\n".utf8)) }
        jsonl?.synchronizeFile()
    }

    public func say(_ line: String) { if !quiet { print(line); fflush(stdout) } }

    public func flush() { tensorboard?.flush(); jsonl?.synchronizeFile() }
}
