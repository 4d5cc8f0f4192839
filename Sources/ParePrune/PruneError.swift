import PareCore

/// Why a pruning request cannot be carried out; settings are named through `SettingName.ref`.
public enum PruneError: SettingError {
    case invalid(String)
    public var rawMessage: String { switch self { case .invalid(let m): return m } }
}
