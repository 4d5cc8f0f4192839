import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Evaluates a parsed template against a context, as transformers' sandboxed Jinja
/// environment does for `apply_chat_template`: Python semantics for truth, equality and
/// str(), `set` scoped to the innermost loop body, `namespace()` for state that outlives one,
/// `raise_exception` and `strftime_now`, and transformers' `tojson` (no HTML escaping).
struct JinjaRenderer {
    var scopes: [[String: JinjaValue]]
    var out = ""
    /// Today's date for `strftime_now` (tests pin it).
    let now: Date

    enum Flow { case normal, breakLoop, continueLoop }

    init(context: [String: JinjaValue], now: Date) {
        scopes = [context.merging(["raise_exception": .function("raise_exception"), "strftime_now": .function("strftime_now"),
                                   "namespace": .function("namespace"), "range": .function("range")]) { a, _ in a }]
        self.now = now
    }

    func lookup(_ name: String) -> JinjaValue {
        for s in scopes.reversed() { if let v = s[name] { return v } }
        return .undefined(name)
    }

    mutating func assign(_ name: String, _ value: JinjaValue) { scopes[scopes.count - 1][name] = value }

    mutating func render(_ nodes: [JinjaNode]) throws -> Flow {
        for node in nodes {
            switch node {
            case .text(let t): out += t
            case .output(let e): out += try eval(e).text
            case let .conditional(branches, otherwise):
                var taken = false
                for (c, body) in branches where try eval(c).truthy {
                    taken = true
                    let f = try render(body); if f != .normal { return f }
                    break
                }
                if !taken { let f = try render(otherwise); if f != .normal { return f } }
            case let .loop(targets, iterable, filter, body, otherwise):
                try loop(targets, try eval(iterable), filter: filter, body: body, otherwise: otherwise)
            case let .assign(name, attribute, value):
                let v = try eval(value)
                if let attribute {
                    guard case .namespace(let ns) = lookup(name) else { throw JinjaError("cannot set \(name).\(attribute): \(name) is not a namespace()") }
                    ns.values[attribute] = v
                } else { assign(name, v) }
            case .breakLoop: return .breakLoop
            case .continueLoop: return .continueLoop
            }
        }
        return .normal
    }

    mutating func loop(_ targets: [String], _ iterable: JinjaValue, filter: JinjaExpr?, body: [JinjaNode], otherwise: [JinjaNode]) throws {
        var items = try JinjaRenderer.elements(iterable)
        func bind(_ item: JinjaValue, into scope: inout [String: JinjaValue]) throws {
            if targets.count == 1 { scope[targets[0]] = item; return }
            guard case .list(let parts) = item, parts.count == targets.count else { throw JinjaError("cannot unpack \(item.repr) into \(targets.joined(separator: ", "))") }
            for (t, p) in zip(targets, parts) { scope[t] = p }
        }
        if let filter {   // the loop filter runs before loop.index and loop.last are known
            var kept: [JinjaValue] = []
            for item in items {
                var scope: [String: JinjaValue] = [:]
                try bind(item, into: &scope)
                scopes.append(scope); defer { scopes.removeLast() }
                if try eval(filter).truthy { kept.append(item) }
            }
            items = kept
        }
        if items.isEmpty { _ = try render(otherwise); return }
        for (i, item) in items.enumerated() {
            var scope: [String: JinjaValue] = ["loop": .dict(JinjaDict([
                ("index", .int(i + 1)), ("index0", .int(i)), ("first", .bool(i == 0)), ("last", .bool(i == items.count - 1)),
                ("length", .int(items.count)), ("revindex", .int(items.count - i)), ("revindex0", .int(items.count - i - 1)),
                ("previtem", i > 0 ? items[i - 1] : .undefined("previtem")),
                ("nextitem", i + 1 < items.count ? items[i + 1] : .undefined("nextitem"))]))]
            try bind(item, into: &scope)
            scopes.append(scope)
            let flow = try render(body)
            scopes.removeLast()
            if flow == .breakLoop { break }
        }
    }

    static func elements(_ v: JinjaValue) throws -> [JinjaValue] {
        switch v {
        case .list(let l): return l
        case .dict(let d): return d.keys.map { .string($0) }
        case .string(let s): return s.map { .string(String($0)) }
        case .undefined: return []
        default: throw JinjaError("cannot loop over \(v.typeName) \(v.repr)")
        }
    }

    // MARK: expressions

    mutating func eval(_ e: JinjaExpr) throws -> JinjaValue {
        switch e {
        case .literal(let v): return v
        case .name(let n): return lookup(n)
        case .list(let items): return .list(try items.map { try eval($0) })
        case .dict(let pairs):
            var d = JinjaDict()
            for (k, v) in pairs { d[try eval(k).text] = try eval(v) }
            return .dict(d)
        case let .attribute(base, name): return try JinjaRenderer.attribute(try eval(base), name)
        case let .index(base, i): return try JinjaRenderer.item(try eval(base), try eval(i))
        case let .slice(base, a, b, step): return try slice(try eval(base), a, b, step)
        case let .call(callee, args): return try call(callee, args)
        case let .filter(base, name, args): return try applyFilter(name, try eval(base), args)
        case let .test(base, name, args, negated): return .bool(try applyTest(name, try eval(base), args) != negated)
        case .not(let x): return .bool(!(try eval(x).truthy))
        case .negate(let x):
            switch try eval(x) {
            case .int(let i): return .int(-i)
            case .double(let d): return .double(-d)
            case let v: throw JinjaError("cannot negate \(v.typeName)")
            }
        case let .binary(op, l, r): return try binary(op, l, r)
        case let .choice(value, condition, otherwise):
            return try eval(condition).truthy ? try eval(value) : try otherwise.map { try eval($0) } ?? .undefined("else")
        }
    }

    static func attribute(_ v: JinjaValue, _ name: String) throws -> JinjaValue {
        switch v {
        case .dict(let d): return d[name] ?? .undefined(name)
        case .namespace(let ns): return ns.values[name] ?? .undefined(name)
        case .undefined(let what): throw JinjaError("\(what) is undefined, so it has no attribute \(name)")
        default: return .undefined(name)
        }
    }

    static func item(_ v: JinjaValue, _ key: JinjaValue) throws -> JinjaValue {
        switch (v, key) {
        case let (.list(l), .int(i)):
            let j = i < 0 ? l.count + i : i
            return l.indices.contains(j) ? l[j] : .undefined("[\(i)]")
        case let (.string(s), .int(i)):
            let c = Array(s), j = i < 0 ? c.count + i : i
            return c.indices.contains(j) ? .string(String(c[j])) : .undefined("[\(i)]")
        case let (.dict, .string(k)), let (.namespace, .string(k)): return try attribute(v, k)
        case (.undefined(let what), _): throw JinjaError("\(what) is undefined, so it has no item \(key.repr)")
        default: return .undefined("[\(key.repr)]")
        }
    }

    mutating func slice(_ v: JinjaValue, _ a: JinjaExpr?, _ b: JinjaExpr?, _ step: JinjaExpr?) throws -> JinjaValue {
        func int(_ e: JinjaExpr?) throws -> Int? {
            guard let e else { return nil }
            guard case .int(let i) = try eval(e) else { throw JinjaError("slice bounds must be integers") }
            return i
        }
        let (lo, hi, st) = (try int(a), try int(b), try int(step) ?? 1)
        guard st == 1 || st == -1 else { throw JinjaError("slices with a step other than 1 or -1 are not supported") }
        func cut<T>(_ xs: [T]) -> [T] {
            let n = xs.count
            func clamp(_ i: Int?, _ d: Int) -> Int { guard let i else { return d }; return min(max(i < 0 ? n + i : i, 0), n) }
            if st == -1 { return Array(xs.reversed()) }
            let s = clamp(lo, 0), e = clamp(hi, n)
            return s < e ? Array(xs[s..<e]) : []
        }
        switch v {
        case .list(let l): return .list(cut(l))
        case .string(let s): return .string(String(cut(Array(s))))
        default: throw JinjaError("cannot slice \(v.typeName)")
        }
    }

    mutating func binary(_ op: String, _ le: JinjaExpr, _ re: JinjaExpr) throws -> JinjaValue {
        let l = try eval(le)
        if op == "and" { return l.truthy ? try eval(re) : l }
        if op == "or" { return l.truthy ? l : try eval(re) }
        let r = try eval(re)
        switch op {
        case "==": return .bool(l == r)
        case "!=": return .bool(l != r)
        case "<", ">", "<=", ">=":
            let c: Bool
            if let x = l.number, let y = r.number { c = op == "<" ? x < y : op == ">" ? x > y : op == "<=" ? x <= y : x >= y }
            else if case .string(let x) = l, case .string(let y) = r { c = op == "<" ? x < y : op == ">" ? x > y : op == "<=" ? x <= y : x >= y }
            else { throw JinjaError("cannot compare \(l.typeName) and \(r.typeName) with \(op)") }
            return .bool(c)
        case "in":
            switch r {
            case .string(let s): guard case .string(let x) = l else { throw JinjaError("'in <string>' needs a string on the left") }; return .bool(s.contains(x))
            case .list(let xs): return .bool(xs.contains(l))
            case .dict(let d): return .bool(d[l.text] != nil)
            case .undefined(let what): throw JinjaError("\(what) is undefined; cannot test membership in it")
            default: throw JinjaError("cannot test membership in \(r.typeName)")
            }
        case "~": return .string(l.text + r.text)
        case "+":
            switch (l, r) {
            case let (.string(a), .string(b)): return .string(a + b)
            case let (.list(a), .list(b)): return .list(a + b)
            case let (.int(a), .int(b)): return .int(a + b)
            default:
                if let a = l.number, let b = r.number { return .double(a + b) }
                if case .undefined(let what) = l { throw JinjaError("\(what) is undefined") }
                if case .undefined(let what) = r { throw JinjaError("\(what) is undefined") }
                throw JinjaError("cannot add \(l.typeName) and \(r.typeName)")
            }
        default:
            if case let (.int(a), .int(b)) = (l, r), op != "/" {
                guard b != 0 || op == "-" || op == "*" else { throw JinjaError("division by zero") }
                switch op {
                case "-": return .int(a - b)
                case "*": return .int(a * b)
                case "//": return .int(Int((Double(a) / Double(b)).rounded(.down)))
                case "%": return .int(((a % b) + b) % b)
                default: break
                }
            }
            if case let (.string(s), .int(n)) = (l, r), op == "*" { return .string(String(repeating: s, count: max(n, 0))) }
            guard let a = l.number, let b = r.number else { throw JinjaError("cannot apply \(op) to \(l.typeName) and \(r.typeName)") }
            switch op {
            case "-": return .double(a - b)
            case "*": return .double(a * b)
            case "/": guard b != 0 else { throw JinjaError("division by zero") }; return .double(a / b)
            case "//": return .double((a / b).rounded(.down))
            case "%": return .double(a - b * (a / b).rounded(.down))
            default: throw JinjaError("unknown operator \(op)")
            }
        }
    }
}
