public enum ModelError: Error, CustomStringConvertible, Equatable {
    case invalidConfig(String)
    case shapeMismatch(String)
    public var description: String {
        switch self {
        case .invalidConfig(let m): return "invalid model config: \(m)"
        case .shapeMismatch(let m): return "shape mismatch: \(m)"
        }
    }
}
