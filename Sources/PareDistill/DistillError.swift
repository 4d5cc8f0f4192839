import PareCore

/// Why a distillation set-up is invalid; settings are named through `SettingName.ref`.
public enum DistillError: SettingError {
    case invalid(String)
    public var rawMessage: String { switch self { case .invalid(let m): return m } }
}
