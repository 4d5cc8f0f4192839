import Foundation
import PareCore
import PareTrain

/// Where a job reports: result lines, and a transient status line (a progress bar) that is
/// redrawn in place. The CLI and the pipeline print to the terminal; tests stay silent.
public struct Progress {
    public var say: (String) -> Void
    public var status: (String) -> Void
    public var endStatus: () -> Void

    public init(say: @escaping (String) -> Void, status: @escaping (String) -> Void, endStatus: @escaping () -> Void) {
        self.say = say; self.status = status; self.endStatus = endStatus
    }

    /// Lines to stdout, the status line to stderr.
    public static let console = Progress(
        say: { print($0); fflush(stdout) },
        status: { fputs("\r" + $0 + "   ", stderr) },
        endStatus: { fputs("\n", stderr) })

    /// Nothing at all.
    public static let silent = Progress(say: { _ in }, status: { _ in }, endStatus: {})

    /// A counter for `total` items of `unit`: each call shows done/total and the ETA; the last
    /// ends the status line.
    public func counter(_ what: String, unit: String, started t0: Double = ProcessInfoLite.now()) -> (Int, Int) -> Void {
        { done, total in
            let el = ProcessInfoLite.now() - t0
            status(String(format: "  %@: %d/%d %@, ETA %@", what, done, total, unit, formatDuration(el / Double(max(done, 1)) * Double(total - done))))
            if done == total { endStatus() }
        }
    }
}
