import Foundation

/// "1h02m", "3m05s", "42s".
public func formatDuration(_ s: Double) -> String {
    guard s.isFinite && s >= 0 else { return "?" }
    let t = Int(s.rounded())
    if t >= 3600 { return String(format: "%dh%02dm", t / 3600, t % 3600 / 60) }
    if t >= 60 { return String(format: "%dm%02ds", t / 60, t % 60) }
    return "\(t)s"
}
