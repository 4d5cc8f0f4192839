/// Where each token of a (B, T) batch sits when one row packs several sequences that share a
/// prefix: the prefix once (branch 0), then each sequence's remainder as branch 1, 2, …
/// A token attends to the prefix and to the tokens before it in its own branch, at its
/// position within its own sequence, so every sequence gets the hidden states it would get
/// alone while the prefix is computed once.
///   row:       p0 p1 p2 | a3 a4 | b3 b4 b5 | pad
///   branches:   0  0  0 |  1  1 |  2  2  2 |  3
///   positions:  0  1  2 |  3  4 |  3  4  5 |  0
public final class PackedRows: @unchecked Sendable {
    public let count: Int
    public let positions: UnsafeMutablePointer<Int32>   // (B·T)
    public let branches: UnsafeMutablePointer<Int32>    // (B·T)

    public init(count: Int) {
        self.count = count
        positions = .allocate(capacity: max(count, 1))
        positions.initialize(repeating: 0, count: max(count, 1))
        branches = .allocate(capacity: max(count, 1))
        branches.initialize(repeating: 0, count: max(count, 1))
    }

    deinit {
        positions.deallocate()
        branches.deallocate()
    }
}
