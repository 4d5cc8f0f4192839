public enum KernelError: Error, CustomStringConvertible {
    case tokenOutOfRange(token: Int32, index: Int, vocab: Int)
    public var description: String {
        switch self {
        case let .tokenOutOfRange(t, i, v):
            return "token id \(t) at position \(i) is outside the vocabulary (0..<\(v)); the data was tokenized for another model"
        }
    }
}
