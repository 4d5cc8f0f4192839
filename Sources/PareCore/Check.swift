/// Range checks: each returns what is wrong with a value (after its key's name, e.g. "must be
/// positive, not -1"), or nil. Settings tables name them (`Setting(check:)`) and the library's
/// own validation calls the same functions.
public enum Check {
    public static func positive<T: Numeric & Comparable>(_ v: T) -> String? { v > 0 ? nil : "must be positive, not \(v)" }
    /// Positive and finite (a learning rate).
    public static func positiveFinite(_ v: Double) -> String? { v > 0 && v.isFinite ? nil : "must be positive, not \(v)" }
    public static func nonNegative<T: Numeric & Comparable>(_ v: T) -> String? { v >= 0 ? nil : "must be ≥ 0, not \(v)" }
    public static func atLeast<T: Numeric & Comparable>(_ low: T) -> (T) -> String? { { $0 >= low ? nil : "must be at least \(low), not \($0)" } }
    /// One of `names`: "must be a, b or c, not "x"".
    public static func oneOf(_ names: [String]) -> (String) -> String? {
        { names.contains($0) ? nil : "must be \(names.dropLast().joined(separator: ", ")) or \(names.last!), not \"\($0)\"" }
    }
}
