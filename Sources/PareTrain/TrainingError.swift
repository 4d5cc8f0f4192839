import PareCore

/// Why a training run could not start or stopped.
public enum TrainingError: SettingError {
    /// A setting out of range; `key` is its snake_case name (the YAML key).
    case invalidSetting(key: String, String)
    case invalidSettings(String)
    case nonFinite(step: Int, what: String, lastCheckpoint: String?)
    case diverged(step: Int, reason: String, rewinds: Int, lastCheckpoint: String?)
    case resumeMismatch(String)
    case interrupted(step: Int, checkpoint: String)

    static func ref(_ key: String) -> String { SettingName.ref(key) }

    public var rawMessage: String {
        switch self {
        case let .invalidSetting(key, m): return "\(TrainingError.ref(key)) \(m)"
        case .invalidSettings(let m): return m
        case let .nonFinite(s, w, c):
            return "step \(s): \(w) is not finite (NaN or inf); training stopped. " + (c.map { "The last good checkpoint is \($0); resume with ‹resume› and a lower ‹lr›." } ?? "No checkpoint was written yet; lower ‹lr› and start again.")
        case let .diverged(s, r, n, c):
            return "step \(s): \(r), after \(n) rewind\(n == 1 ? "" : "s") (‹max_rewinds›); training stopped. " + (c.map { "The last good checkpoint is \($0); resume with ‹resume› and a lower ‹lr›." } ?? "Lower ‹lr› and start again.")
        case .resumeMismatch(let m): return "cannot resume: \(m)"
        case let .interrupted(s, c): return "interrupted after step \(s); state saved in \(c). Run the same command with ‹resume› to continue."
        }
    }
}
