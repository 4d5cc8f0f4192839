import Foundation
import PareCore

/// Where a job reports: result lines, and a transient status line (a progress bar) that is
/// redrawn in place; and whether its caller wants it to stop (a training job then saves a
/// checkpoint after its current step). The CLI and the pipeline print to the terminal and
/// stop on Ctrl-C; tests stay silent.
public struct Progress {
    public var say: (String) -> Void
    public var status: (String) -> Void
    public var endStatus: () -> Void
    public var shouldStop: () -> Bool

    public init(say: @escaping (String) -> Void, status: @escaping (String) -> Void, endStatus: @escaping () -> Void,
                shouldStop: @escaping () -> Bool = { false }) {
        self.say = say; self.status = status; self.endStatus = endStatus; self.shouldStop = shouldStop
    }

    /// The same, stopping when `stop` says so.
    public func stopping(when stop: @escaping () -> Bool) -> Progress {
        var p = self
        p.shouldStop = stop
        return p
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
