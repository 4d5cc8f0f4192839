import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive claim on a run folder for the life of the process: a second `pare` started
/// on the same `--output` (a forgotten background job, a resume typed too early) would mix
/// its checkpoints and metrics rows with the first one's. The claim is an advisory `flock`
/// on `FOLDER/pare.lock`, which the kernel drops when the holder exits — kill -9 included —
/// so a crashed run never leaves the folder locked.
public final class RunLock {
    public let path: String
    private var fd: Int32

    /// Claims `folder` (which must exist), or throws naming the process that holds it.
    public convenience init(folder: String) throws {
        try self.init(file: folder + "/pare.lock", purpose: "the run's lock file") { holder in
            throw FormatError.io(path: folder, message: "\(holder) is running in this folder; wait for it to finish or stop it, then run again")
        }
    }

    /// Claims the lock file at `path`, waiting while another process holds it; `waiting` is
    /// told first who that is (e.g. two distillations building one teacher cache: the second
    /// waits, then reads what the first built).
    public convenience init(waitingFor path: String, _ waiting: (String) -> Void) throws {
        try self.init(file: path, purpose: "a lock file", busy: waiting)
    }

    /// `busy(holder)` runs when another process holds the lock: it throws, or returns to wait.
    private init(file: String, purpose: String, busy: (String) throws -> Void) throws {
        path = file
        fd = open(path, O_RDWR | O_CREAT, 0o644)
        guard fd >= 0 else {
            throw FormatError.io(path: path, message: "cannot create \(purpose) (\(String(cString: strerror(errno)))); check the folder is writable")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            let who = holder.isEmpty ? "another pare process" : "another pare process (PID \(holder))"
            do { try busy(who) } catch { close(fd); fd = -1; throw error }
            while flock(fd, LOCK_EX) != 0 {
                guard errno == EINTR else {
                    let reason = String(cString: strerror(errno))
                    close(fd); fd = -1
                    throw FormatError.io(path: path, message: "cannot wait for \(who) (\(reason))")
                }
            }
        }
        // The PID is for the message above only; the lock itself is the flock.
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    /// Gives the folder up (also done when the lock is freed or the process exits).
    public func release() {
        guard fd >= 0 else { return }
        close(fd); fd = -1
    }

    deinit { release() }
}
