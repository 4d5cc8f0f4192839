public enum DecodeError: Error, CustomStringConvertible {
    case cacheFull(needed: Int, capacity: Int)
    public var description: String {
        switch self {
        case let .cacheFull(n, cap): return "the KV cache holds \(cap) tokens but \(n) are needed; raise the context size"
        }
    }
}
