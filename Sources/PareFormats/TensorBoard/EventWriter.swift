import Foundation
import PareCore

/// Writes TensorBoard event files (scalars) without a protobuf dependency: each record is
/// u64 length, masked CRC-32C of the length, an `Event` protobuf, masked CRC-32C of it.
/// Event: wall_time (1, double), step (2, varint), file_version (3, string),
/// summary (5) → value (1) → tag (1, string), simple_value (2, float).
public final class TensorBoardWriter {
    public let path: String
    let handle: FileHandle

    /// Creates `events.out.tfevents.<unix seconds>.<host>` in `directory`.
    public init(directory: String) throws {
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
        path = directory + "/events.out.tfevents.\(Int(Date().timeIntervalSince1970)).\(host).\(getpid())"
        guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
            throw FormatError.io(path: path, message: "cannot create the TensorBoard event file")
        }
        handle = h
        try writeRecord(TensorBoardWriter.event(wallTime: Date().timeIntervalSince1970, step: 0) { e in
            TensorBoardWriter.field(3, string: "brain.Event:2", into: &e)
        })
    }

    deinit { try? handle.close() }

    /// Scalars for one step (e.g. ["train/loss": 2.3, "train/lr": 1e-4]).
    public func scalars(_ values: [(String, Double)], step: Int, wallTime: Double = Date().timeIntervalSince1970) throws {
        var summary: [UInt8] = []
        for (tag, v) in values {
            var value: [UInt8] = []
            TensorBoardWriter.field(1, string: tag, into: &value)
            value.append(0x15)   // field 2, wire type 5 (32-bit)
            withUnsafeBytes(of: Float(v).bitPattern.littleEndian) { value += $0 }
            TensorBoardWriter.field(1, bytes: value, into: &summary)
        }
        try writeRecord(TensorBoardWriter.event(wallTime: wallTime, step: step) { e in
            TensorBoardWriter.field(5, bytes: summary, into: &e)
        })
    }

    /// A SessionLog START (Event field 7, status 1) at `step`: TensorBoard purges this run's
    /// events at and after `step` when it reads one, so steps redone after a resume appear once.
    public func restart(at step: Int) throws {
        try writeRecord(TensorBoardWriter.event(wallTime: Date().timeIntervalSince1970, step: step) { e in
            TensorBoardWriter.field(7, bytes: [0x08, 0x01], into: &e)
        })
    }

    public func flush() { try? handle.synchronize() }

    func writeRecord(_ payload: [UInt8]) throws {
        var rec: [UInt8] = []
        let len = withUnsafeBytes(of: UInt64(payload.count).littleEndian) { Array($0) }
        rec += len
        withUnsafeBytes(of: CRC32C.masked(len).littleEndian) { rec += $0 }
        rec += payload
        withUnsafeBytes(of: CRC32C.masked(payload).littleEndian) { rec += $0 }
        do { try handle.write(contentsOf: Data(rec)) } catch {
            throw FormatError.io(path: path, message: "cannot write TensorBoard events (\(SystemErrorText.reason(error)))")
        }
    }

    static func event(wallTime: Double, step: Int, _ body: (inout [UInt8]) -> Void) -> [UInt8] {
        var e: [UInt8] = [0x09]   // field 1, wire type 1 (64-bit)
        withUnsafeBytes(of: wallTime.bitPattern.littleEndian) { e += $0 }
        e.append(0x10)            // field 2, varint
        varint(UInt64(step), into: &e)
        body(&e)
        return e
    }

    static func varint(_ v: UInt64, into out: inout [UInt8]) {
        var v = v
        while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        out.append(UInt8(v))
    }

    static func field(_ number: UInt64, bytes: [UInt8], into out: inout [UInt8]) {
        varint(number << 3 | 2, into: &out)
        varint(UInt64(bytes.count), into: &out)
        out += bytes
    }

    static func field(_ number: UInt64, string: String, into out: inout [UInt8]) {
        field(number, bytes: Array(string.utf8), into: &out)
    }
}
