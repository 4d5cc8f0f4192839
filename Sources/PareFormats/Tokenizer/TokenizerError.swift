public enum TokenizerError: Error, CustomStringConvertible {
    case invalid(String)
    case unsupported(String)
    public var description: String {
        switch self {
        case .invalid(let m): return "invalid tokenizer: \(m)"
        case .unsupported(let m): return "unsupported tokenizer: \(m)"
        }
    }
}
