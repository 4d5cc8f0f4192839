import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a file under a temporary name in the same folder and renames it into place, so
/// an interrupted or failed write (disk full) never leaves a half-written file behind.
public final class AtomicFileWriter {
    public let path: String
    let tempPath: String
    var fd: Int32
    var finished = false

    public init(path: String) throws {
        self.path = path
        tempPath = path + ".tmp-\(getpid())"
        fd = open(tempPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else {
            throw FormatError.io(path: path, message: "cannot create \(tempPath) (\(String(cString: strerror(errno)))); check the folder exists and is writable")
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = systemWrite(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                abort()
                throw FormatError.io(path: path, message: "write failed (\(reason))\(errno == ENOSPC ? "; the disk is full: free space and retry" : "")")
            }
            done += n
        }
    }

    public func write(_ data: Data) throws { try data.withUnsafeBytes { try write($0) } }

    /// Flushes, closes and renames the file into place.
    public func commit() throws {
        guard !finished else { return }
        finished = true
        if fsync(fd) != 0 || close(fd) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(tempPath)
            throw FormatError.io(path: path, message: "cannot finish writing (\(reason))")
        }
        fd = -1
        guard rename(tempPath, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(tempPath)
            throw FormatError.io(path: path, message: "cannot move the finished file into place (\(reason))")
        }
    }

    /// Drops the partial file.
    public func abort() {
        guard !finished else { return }
        finished = true
        if fd >= 0 { close(fd); fd = -1 }
        unlink(tempPath)
    }

    deinit { abort() }

    /// Writes `data` to `path` atomically.
    public static func write(_ data: Data, to path: String) throws {
        let w = try AtomicFileWriter(path: path)
        try w.write(data)
        try w.commit()
    }
}

@inline(__always) private func systemWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, p, n)
    #else
    return Darwin.write(fd, p, n)
    #endif
}

/// Leftovers of interrupted writes: `NAME.tmp-PID` files and `.tmp-…-PID` folders whose
/// process is gone (kill -9, a second Ctrl-C, a power cut). Removed when the next run starts,
/// so they don't pile up (a checkpoint leftover is hundreds of MB). A writer that is still
/// running keeps its own.
public enum StaleTemporaries {
    /// Removes stale temporaries in `folder` whose names start with `prefix`; returns their paths.
    @discardableResult
    public static func remove(in folder: String, prefix: String = "") -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return [] }
        var removed: [String] = []
        for name in names where name.hasPrefix(prefix) {
            guard let r = name.range(of: ".tmp-", options: .backwards) ?? (name.hasPrefix(".tmp-") ? name.range(of: ".tmp-") : nil) else { continue }
            let tail = name[r.upperBound...]
            guard let pid = tail.split(separator: "-").last.flatMap({ Int32($0) }), pid > 0 else { continue }
            if pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH {
                let path = folder + "/" + name
                if (try? FileManager.default.removeItem(atPath: path)) != nil { removed.append(path) }
            }
        }
        return removed
    }
}
