import Foundation

/// What a chat template could not do: a construct outside the supported subset, a type
/// error, or the template's own `raise_exception` (e.g. roles that do not alternate).
public struct JinjaError: Error, CustomStringConvertible, Sendable {
    public let message: String
    /// True when the template itself refused the conversation (raise_exception).
    public let raisedByTemplate: Bool
    init(_ message: String, raisedByTemplate: Bool = false) { self.message = message; self.raisedByTemplate = raisedByTemplate }
    public var description: String { message }
}

/// A mapping that keeps its insertion order, as Python's dict does (tojson and items() show it).
public struct JinjaDict: Equatable, Sendable {
    public private(set) var keys: [String] = []
    var storage: [String: JinjaValue] = [:]
    public init(_ pairs: [(String, JinjaValue)] = []) { for (k, v) in pairs { self[k] = v } }
    public subscript(key: String) -> JinjaValue? {
        get { storage[key] }
        set {
            if storage[key] == nil, newValue != nil { keys.append(key) }
            if newValue == nil { keys.removeAll { $0 == key } }
            storage[key] = newValue
        }
    }
    public var pairs: [(String, JinjaValue)] { keys.map { ($0, storage[$0]!) } }
}

/// `namespace()`: the one mutable object a template has (`set ns.x = …` inside a loop).
public final class JinjaNamespace: @unchecked Sendable {
    var values = JinjaDict()
    init(_ values: JinjaDict) { self.values = values }
}

/// A template value, with Python's semantics where Jinja defers to them (truth, str, ==).
public indirect enum JinjaValue: Equatable, Sendable {
    case undefined(String)          // the name that was looked up, for messages
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([JinjaValue])
    case dict(JinjaDict)
    case namespace(JinjaNamespace)
    case function(String)

    public static func == (a: JinjaValue, b: JinjaValue) -> Bool {
        switch (a, b) {
        case (.undefined, .undefined), (.none, .none): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.list(x), .list(y)): return x == y
        case let (.dict(x), .dict(y)): return x.keys.count == y.keys.count && x.keys.allSatisfy { x[$0] == y[$0] }
        case let (.namespace(x), .namespace(y)): return x === y
        case let (.function(x), .function(y)): return x == y
        default:
            if let x = a.number, let y = b.number { return x == y }
            return false
        }
    }

    /// Ints, floats and bools as numbers (Python: True == 1).
    var number: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    var isDefined: Bool { if case .undefined = self { return false }; return true }

    /// Python truthiness.
    var truthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .list(let l): return !l.isEmpty
        case .dict(let d): return !d.keys.isEmpty
        case .namespace, .function: return true
        }
    }

    /// `{{ x }}` and `|string`: Python's str().
    var text: String {
        switch self {
        case .undefined: return ""
        case .string(let s): return s
        default: return repr
        }
    }

    /// Python's repr(), as str() shows the elements of a list or dict.
    var repr: String {
        switch self {
        case .undefined: return ""
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return JinjaValue.pythonFloat(d)
        case .string(let s):
            let q = s.contains("'") && !s.contains("\"") ? "\"" : "'"
            var out = q
            for c in s.unicodeScalars {
                switch c {
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\t": out += "\\t"
                case "\r": out += "\\r"
                default: out += String(c) == q ? "\\" + q : String(c)
                }
            }
            return out + q
        case .list(let l): return "[" + l.map(\.repr).joined(separator: ", ") + "]"
        case .dict(let d): return "{" + d.pairs.map { "'\($0.0)': \($0.1.repr)" }.joined(separator: ", ") + "}"
        case .namespace(let n): return "<Namespace \(JinjaValue.dict(n.values).repr)>"
        case .function(let f): return "<function \(f)>"
        }
    }

    /// Python's float repr for the values templates meet (1.0, 0.5, 1e-06).
    static func pythonFloat(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d > 0 ? "inf" : "-inf" }
        if d == d.rounded(), abs(d) < 1e16 { return String(format: "%.1f", d) }
        return "\(d)"
    }

    var typeName: String {
        switch self {
        case .undefined: return "undefined"
        case .none: return "none"
        case .bool: return "boolean"
        case .int: return "integer"
        case .double: return "float"
        case .string: return "string"
        case .list: return "list"
        case .dict: return "mapping"
        case .namespace: return "namespace"
        case .function: return "function"
        }
    }

    /// Values from JSON-like Swift values (messages, tools).
    public static func from(_ any: Any?) -> JinjaValue {
        switch any {
        case nil: return .none
        case let v as JinjaValue: return v
        case let s as String: return .string(s)
        case let b as Bool: return .bool(b)
        case let i as Int: return .int(i)
        case let d as Double: return .double(d)
        case let l as [Any]: return .list(l.map { from($0) })
        case let d as [String: Any]: return .dict(JinjaDict(d.keys.sorted().map { ($0, from(d[$0])) }))
        default: return .string("\(any!)")
        }
    }
}
