import PareCore

/// Why a file could not be read or written: the path, and what to do about it.
public enum FormatError: SettingError {
    case io(path: String, message: String)
    case corrupt(path: String, message: String)
    case unsupported(path: String, message: String)
    case missingTensor(path: String, name: String)
    /// Readable, but at odds with itself or its companion files; the message says what to fix.
    case inconsistent(path: String, message: String)

    public var rawMessage: String {
        switch self {
        case let .io(p, m): return "\(p): \(m)"
        case let .corrupt(p, m): return "\(p): corrupt or truncated file: \(m). Re-download or re-export it."
        case let .unsupported(p, m): return "\(p): \(m)"
        case let .missingTensor(p, n): return "\(p): no tensor named \"\(n)\""
        case let .inconsistent(p, m): return "\(p): \(m)"
        }
    }
}
