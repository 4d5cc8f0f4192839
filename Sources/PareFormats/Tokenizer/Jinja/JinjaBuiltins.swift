import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The functions, methods, filters and tests chat templates call.
extension JinjaRenderer {
    mutating func evalArguments(_ a: JinjaExpr.Arguments) throws -> ([JinjaValue], [String: JinjaValue]) {
        var named: [String: JinjaValue] = [:]
        for (k, e) in a.named { named[k] = try eval(e) }
        return (try a.positional.map { try eval($0) }, named)
    }

    mutating func call(_ callee: JinjaExpr, _ a: JinjaExpr.Arguments) throws -> JinjaValue {
        // A method of a string, mapping or list: `x.strip()`, `d.items()`, `d.get(k)`.
        if case let .attribute(baseExpr, name) = callee {
            let base = try eval(baseExpr)
            let (args, _) = try evalArguments(a)
            if let v = try JinjaRenderer.method(base, name, args) { return v }
        }
        let f = try eval(callee)
        let (args, named) = try evalArguments(a)
        guard case .function(let name) = f else {
            if case .undefined(let what) = f { throw JinjaError("\(what) is not a function Pare's template renderer knows") }
            throw JinjaError("\(f.typeName) is not callable")
        }
        switch name {
        case "raise_exception": throw JinjaError(args.first?.text ?? "the template raised an exception", raisedByTemplate: true)
        case "strftime_now": return .string(JinjaRenderer.strftime(args.first?.text ?? "%Y-%m-%d", now))
        case "namespace":
            var d = JinjaDict()
            if case .dict(let first)? = args.first { for (k, v) in first.pairs { d[k] = v } }
            for k in a.named.map(\.0) { d[k] = named[k] }
            return .namespace(JinjaNamespace(d))
        case "range":
            let ints = args.compactMap { v -> Int? in if case .int(let i) = v { return i }; return nil }
            guard ints.count == args.count, (1...2).contains(ints.count) else { throw JinjaError("range() takes one or two integers") }
            let (lo, hi) = ints.count == 1 ? (0, ints[0]) : (ints[0], ints[1])
            return .list(lo < hi ? (lo..<hi).map { .int($0) } : [])
        default: throw JinjaError("unknown function \(name)")
        }
    }

    static func method(_ v: JinjaValue, _ name: String, _ args: [JinjaValue]) throws -> JinjaValue? {
        switch v {
        case .string(let s):
            let arg = args.first?.text
            switch name {
            case "strip": return .string(arg.map { s.trimmingCharacters(in: CharacterSet(charactersIn: $0)) } ?? s.trimmingCharacters(in: .whitespacesAndNewlines))
            case "lstrip": return .string(String(s.drop { c in arg.map { $0.contains(c) } ?? c.isWhitespace }))
            case "rstrip": return .string(String(s.reversed().drop { c in arg.map { $0.contains(c) } ?? c.isWhitespace }.reversed()))
            case "upper": return .string(s.uppercased())
            case "lower": return .string(s.lowercased())
            case "title": return .string(s.capitalized)
            case "capitalize": return .string(s.prefix(1).uppercased() + s.dropFirst().lowercased())
            case "startswith": return .bool(s.hasPrefix(arg ?? ""))
            case "endswith": return .bool(s.hasSuffix(arg ?? ""))
            case "replace" where args.count >= 2: return .string(s.replacingOccurrences(of: args[0].text, with: args[1].text))
            case "split":
                if let sep = arg { return .list(s.components(separatedBy: sep).map { .string($0) }) }
                return .list(s.split(whereSeparator: { $0.isWhitespace }).map { .string(String($0)) })
            default: return nil
            }
        case .dict(let d):
            switch name {
            case "items": return .list(d.pairs.map { .list([.string($0.0), $0.1]) })
            case "keys": return .list(d.keys.map { .string($0) })
            case "values": return .list(d.pairs.map(\.1))
            case "get": return d[args.first?.text ?? ""] ?? (args.count > 1 ? args[1] : .none)
            default: return nil
            }
        default: return nil
        }
    }

    mutating func applyFilter(_ name: String, _ v: JinjaValue, _ a: JinjaExpr.Arguments) throws -> JinjaValue {
        let (args, named) = try evalArguments(a)
        switch name {
        case "trim": return .string(v.text.trimmingCharacters(in: .whitespacesAndNewlines))
        case "length", "count":
            switch v {
            case .string(let s): return .int(s.count)
            case .list(let l): return .int(l.count)
            case .dict(let d): return .int(d.keys.count)
            case .undefined: return .int(0)
            default: throw JinjaError("\(v.typeName) has no length")
            }
        case "tojson":
            let indent: Int? = { if case .int(let i)? = named["indent"] ?? args.first { return i }; return nil }()
            return .string(try JinjaRenderer.json(v, indent: indent, level: 0))
        case "string": return .string(v.text)
        case "upper": return .string(v.text.uppercased())
        case "lower": return .string(v.text.lowercased())
        case "capitalize": return .string(v.text.prefix(1).uppercased() + v.text.dropFirst().lowercased())
        case "title": return .string(v.text.capitalized)
        case "safe": return v
        case "list": return .list(try JinjaRenderer.elements(v))
        case "first": return try JinjaRenderer.elements(v).first ?? .undefined("first")
        case "last": return try JinjaRenderer.elements(v).last ?? .undefined("last")
        case "reverse": return v.isString ? .string(String(v.text.reversed())) : .list(try JinjaRenderer.elements(v).reversed())
        case "join": return .string(try JinjaRenderer.elements(v).map(\.text).joined(separator: args.first?.text ?? ""))
        case "default", "d":
            let fallback = args.first ?? .string("")
            let boolean = (args.count > 1 ? args[1] : named["boolean"] ?? .bool(false)).truthy
            return !v.isDefined || (boolean && !v.truthy) ? fallback : v
        case "replace" where args.count >= 2: return .string(v.text.replacingOccurrences(of: args[0].text, with: args[1].text))
        case "int": return .int(Int(v.number ?? Double(v.text.trimmingCharacters(in: .whitespaces)) ?? 0))
        case "float": return .double(v.number ?? Double(v.text.trimmingCharacters(in: .whitespaces)) ?? 0)
        case "abs":
            if case .int(let i) = v { return .int(abs(i)) }
            return .double(abs(v.number ?? 0))
        case "items":
            guard case .dict(let d) = v else { throw JinjaError("items needs a mapping, not \(v.typeName)") }
            return .list(d.pairs.map { .list([.string($0.0), $0.1]) })
        case "selectattr", "rejectattr":
            guard let attr = args.first?.text else { throw JinjaError("\(name) needs an attribute name") }
            let keep = name == "selectattr"
            return .list(try JinjaRenderer.elements(v).filter { item in
                let value = try JinjaRenderer.attribute(item, attr)
                let passes = args.count > 1 ? try applyTestValue(args[1].text, value, Array(args.dropFirst(2))) : value.truthy
                return passes == keep
            })
        case "map":
            if let attr = named["attribute"]?.text { return .list(try JinjaRenderer.elements(v).map { try JinjaRenderer.attribute($0, attr) }) }
            guard let f = args.first?.text else { throw JinjaError("map needs a filter name or attribute=") }
            var out: [JinjaValue] = []
            for item in try JinjaRenderer.elements(v) { out.append(try applyFilter(f, item, .init(positional: a.positional.dropFirst().map { $0 }))) }
            return .list(out)
        default: throw JinjaError("the filter \(name) is not supported by Pare's template renderer")
        }
    }

    mutating func applyTest(_ name: String, _ v: JinjaValue, _ a: JinjaExpr.Arguments) throws -> Bool {
        try applyTestValue(name, v, try evalArguments(a).0)
    }

    func applyTestValue(_ name: String, _ v: JinjaValue, _ args: [JinjaValue]) throws -> Bool {
        switch name {
        case "defined": return v.isDefined
        case "undefined": return !v.isDefined
        case "none": return v == .none
        case "string": return v.isString
        case "mapping": if case .dict = v { return true }; return false
        case "iterable": switch v { case .list, .dict, .string: return true; default: return false }
        case "sequence": switch v { case .list, .string: return true; default: return false }
        case "number": switch v { case .int, .double: return true; default: return false }
        case "integer": if case .int = v { return true }; return false
        case "float": if case .double = v { return true }; return false
        case "boolean": if case .bool = v { return true }; return false
        case "true": return v == .bool(true)
        case "false": return v == .bool(false)
        case "callable": if case .function = v { return true }; return false
        case "equalto", "eq", "==", "sameas": return v == (args.first ?? .none)
        case "ne", "!=": return v != (args.first ?? .none)
        case "odd", "even":
            guard case .int(let i) = v else { throw JinjaError("\(name) needs an integer") }
            return (i % 2 != 0) == (name == "odd")
        case "divisibleby":
            guard case .int(let i) = v, case .int(let d)? = args.first, d != 0 else { throw JinjaError("divisibleby needs integers") }
            return i % d == 0
        case "in":
            guard let container = args.first else { return false }
            switch container {
            case .list(let l): return l.contains(v)
            case .string(let s): return s.contains(v.text)
            case .dict(let d): return d[v.text] != nil
            default: return false
            }
        case "lower": return v.text == v.text.lowercased()
        case "upper": return v.text == v.text.uppercased()
        default: throw JinjaError("the test \(name) is not supported by Pare's template renderer")
        }
    }

    /// transformers' `tojson`: json.dumps with ensure_ascii=False, Python's separators.
    static func json(_ v: JinjaValue, indent: Int?, level: Int) throws -> String {
        let pad = indent.map { "\n" + String(repeating: " ", count: $0 * (level + 1)) } ?? ""
        let close = indent.map { "\n" + String(repeating: " ", count: $0 * level) } ?? ""
        let comma = indent == nil ? ", " : ","
        switch v {
        case .none, .undefined: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return d.isFinite ? pythonFloat(d) : (d.isNaN ? "NaN" : d > 0 ? "Infinity" : "-Infinity")
        case .string(let s): return jsonString(s)
        case .list(let l):
            guard !l.isEmpty else { return "[]" }
            return "[" + pad + (try l.map { try json($0, indent: indent, level: level + 1) }).joined(separator: comma + pad) + close + "]"
        case .dict(let d):
            guard !d.keys.isEmpty else { return "{}" }
            return "{" + pad + (try d.pairs.map { jsonString($0.0) + ": " + (try json($0.1, indent: indent, level: level + 1)) }).joined(separator: comma + pad) + close + "}"
        case .namespace(let n): return try json(.dict(n.values), indent: indent, level: level)
        case .function(let f): throw JinjaError("the function \(f) cannot be written as JSON")
        }
    }

    /// transformers' tojson writes strings as json.dumps(ensure_ascii=False) does.
    static func jsonString(_ s: String) -> String { JSONString.quoted(s) }

    static func pythonFloat(_ d: Double) -> String { JinjaValue.pythonFloat(d) }

    /// C strftime in local time, as Python's datetime.now().strftime.
    static func strftime(_ format: String, _ date: Date) -> String {
        var t = time_t(date.timeIntervalSince1970)
        var parts = tm()
        localtime_r(&t, &parts)
        var buffer = [Int8](repeating: 0, count: 256)
        let n = Glibc.strftime(&buffer, buffer.count, format, &parts)
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension JinjaValue {
    var isString: Bool { if case .string = self { return true }; return false }
}
