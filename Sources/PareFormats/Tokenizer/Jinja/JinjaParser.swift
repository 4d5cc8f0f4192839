/// Builds the syntax tree from the lexer's pieces: the statements chat templates use (if,
/// for with loop filters and else, set including `set ns.attr`, break, continue, and
/// transformers' `generation` markers, which render their body) and Jinja's expressions with
/// its precedence (or, and, not, comparisons, + -, ~, * / // %, unary -, then filters, tests,
/// attributes, subscripts and calls on a primary).
struct JinjaParser {
    let segments: [JinjaSegment]
    var at = 0

    static func parse(_ source: String) throws -> [JinjaNode] {
        var p = JinjaParser(segments: try JinjaLexer.segments(source))
        let (nodes, end) = try p.block(until: [])
        if let end { throw JinjaError("line \(end.line): {% \(end.tag) %} has no opening tag") }
        return nodes
    }

    /// Nodes up to one of the `until` statements (returned with its words), or the end.
    mutating func block(until: Set<String>) throws -> ([JinjaNode], (tag: String, words: [JinjaToken], line: Int)?) {
        var nodes: [JinjaNode] = []
        while at < segments.count {
            let seg = segments[at]; at += 1
            switch seg {
            case .text(let t): nodes.append(.text(t))
            case let .output(src, line):
                var e = ExpressionParser(try JinjaLexer.tokens(src, line: line), line: line)
                nodes.append(.output(try e.whole()))
            case let .statement(src, line):
                let toks = try JinjaLexer.tokens(src, line: line)
                guard case .name(let tag) = toks.first else { throw JinjaError("line \(line): an empty or unreadable {% %} tag") }
                let rest = Array(toks.dropFirst())
                if until.contains(tag) { return (nodes, (tag, rest, line)) }
                nodes += try statement(tag, rest, line: line)
            }
        }
        if let first = until.first { throw JinjaError("the template ends before {% \(first) %}") }
        return (nodes, nil)
    }

    mutating func statement(_ tag: String, _ rest: [JinjaToken], line: Int) throws -> [JinjaNode] {
        switch tag {
        case "if":
            var branches: [(JinjaExpr, [JinjaNode])] = []
            var condition = try ExpressionParser.whole(rest, line: line)
            var otherwise: [JinjaNode] = []
            while true {
                let (body, end) = try block(until: ["elif", "else", "endif"])
                branches.append((condition, body))
                guard let end else { break }
                if end.tag == "elif" { condition = try ExpressionParser.whole(end.words, line: end.line); continue }
                if end.tag == "else" { otherwise = try block(until: ["endif"]).0 }
                break
            }
            return [.conditional(branches: branches, otherwise: otherwise)]
        case "for":
            guard let inAt = rest.firstIndex(of: .name("in")) else { throw JinjaError("line \(line): {% for %} needs \"in\"") }
            let targets = rest[..<inAt].compactMap { t -> String? in if case .name(let n) = t { return n }; return nil }
            guard !targets.isEmpty else { throw JinjaError("line \(line): {% for %} needs a loop variable") }
            var e = ExpressionParser(Array(rest[(inAt + 1)...]), line: line)
            let iterable = try e.orExpression(allowConditional: false)
            var filter: JinjaExpr? = nil
            if e.accept(.name("if")) { filter = try e.expression() }
            try e.finish()
            let (body, end) = try block(until: ["else", "endfor"])
            let otherwise = end?.tag == "else" ? try block(until: ["endfor"]).0 : []
            return [.loop(targets: targets, iterable: iterable, filter: filter, body: body, otherwise: otherwise)]
        case "set":
            guard case .name(let name) = rest.first else { throw JinjaError("line \(line): {% set %} needs a name") }
            var i = 1
            var attribute: String? = nil
            if rest.count > 2, rest[1] == .op("."), case .name(let a) = rest[2] { attribute = a; i = 3 }
            guard i < rest.count, rest[i] == .op("=") else { throw JinjaError("line \(line): block {% set %} is not supported; use {% set x = … %}") }
            return [.assign(name: name, attribute: attribute, value: try ExpressionParser.whole(Array(rest[(i + 1)...]), line: line))]
        case "break": return [.breakLoop]
        case "continue": return [.continueLoop]
        case "generation": return try block(until: ["endgeneration"]).0
        default:
            throw JinjaError("line \(line): {% \(tag) %} is not supported by Pare's template renderer")
        }
    }
}

/// Expressions, by Jinja's precedence.
struct ExpressionParser {
    var tokens: [JinjaToken]
    var at = 0
    let line: Int
    init(_ tokens: [JinjaToken], line: Int) { self.tokens = tokens; self.line = line }

    static func whole(_ tokens: [JinjaToken], line: Int) throws -> JinjaExpr {
        var p = ExpressionParser(tokens, line: line)
        return try p.whole()
    }

    mutating func whole() throws -> JinjaExpr {
        let e = try expression()
        try finish()
        return e
    }

    func fail(_ what: String) -> JinjaError { JinjaError("line \(line): \(what)") }
    var peek: JinjaToken? { at < tokens.count ? tokens[at] : nil }
    mutating func accept(_ t: JinjaToken) -> Bool { if peek == t { at += 1; return true }; return false }
    mutating func expect(_ t: JinjaToken) throws { guard accept(t) else { throw fail("expected \(t) in the expression") } }
    func finish() throws { if let t = peek { throw fail("unexpected \(t) in the expression") } }
    func isName(_ n: String) -> Bool { peek == .name(n) }

    mutating func expression() throws -> JinjaExpr { try orExpression(allowConditional: true) }

    mutating func orExpression(allowConditional: Bool) throws -> JinjaExpr {
        var e = try andExpression()
        while accept(.name("or")) { e = .binary("or", e, try andExpression()) }
        if allowConditional, accept(.name("if")) {
            let condition = try orExpression(allowConditional: false)
            let otherwise = accept(.name("else")) ? try expression() : nil
            return .choice(e, condition: condition, otherwise: otherwise)
        }
        return e
    }

    mutating func andExpression() throws -> JinjaExpr {
        var e = try notExpression()
        while accept(.name("and")) { e = .binary("and", e, try notExpression()) }
        return e
    }

    mutating func notExpression() throws -> JinjaExpr {
        if accept(.name("not")) { return .not(try notExpression()) }
        return try comparison()
    }

    mutating func comparison() throws -> JinjaExpr {
        var e = try sum()
        while true {
            if let t = peek, case .op(let o) = t, ["==", "!=", "<", ">", "<=", ">="].contains(o) { at += 1; e = .binary(o, e, try sum()) }
            else if accept(.name("in")) { e = .binary("in", e, try sum()) }
            else if isName("not"), at + 1 < tokens.count, tokens[at + 1] == .name("in") { at += 2; e = .not(.binary("in", e, try sum())) }
            else { return e }
        }
    }

    mutating func sum() throws -> JinjaExpr {
        var e = try concatenation()
        while let t = peek, case .op(let o) = t, o == "+" || o == "-" { at += 1; e = .binary(o, e, try concatenation()) }
        return e
    }

    mutating func concatenation() throws -> JinjaExpr {
        var e = try product()
        while accept(.op("~")) { e = .binary("~", e, try product()) }
        return e
    }

    mutating func product() throws -> JinjaExpr {
        var e = try unary()
        while let t = peek, case .op(let o) = t, ["*", "/", "//", "%"].contains(o) { at += 1; e = .binary(o, e, try unary()) }
        return e
    }

    mutating func unary() throws -> JinjaExpr {
        if accept(.op("-")) { return .negate(try unary()) }
        if accept(.op("+")) { return try unary() }
        return try filtered(try postfix(try primary()))
    }

    /// `| filter(args)` and `is [not] test(args)` after a value.
    mutating func filtered(_ start: JinjaExpr) throws -> JinjaExpr {
        var e = start
        while true {
            if accept(.op("|")) {
                guard case .name(let f) = peek else { throw fail("a filter name must follow |") }
                at += 1
                e = .filter(e, f, peek == .op("(") ? try arguments() : .init())
            } else if accept(.name("is")) {
                let negated = accept(.name("not"))
                guard case .name(let t) = peek else { throw fail("a test name must follow is") }
                at += 1
                var args = JinjaExpr.Arguments()
                if peek == .op("(") { args = try arguments() }
                else if let p = peek, startsPrimary(p) { args.positional = [try postfix(try primary())] }
                e = .test(e, t, args, negated: negated)
            } else { return e }
        }
    }

    func startsPrimary(_ t: JinjaToken) -> Bool {
        switch t {
        case .string, .int, .double: return true
        case .name(let n): return !["and", "or", "if", "else", "in", "is", "not"].contains(n)
        default: return false
        }
    }

    mutating func postfix(_ start: JinjaExpr) throws -> JinjaExpr {
        var e = start
        while true {
            if accept(.op(".")) {
                guard case .name(let n) = peek else { throw fail("a name must follow .") }
                at += 1; e = .attribute(e, n)
            } else if accept(.op("[")) {
                var parts: [JinjaExpr?] = [nil]
                var colons = 0
                while !accept(.op("]")) {
                    if accept(.op(":")) { colons += 1; parts.append(nil); continue }
                    guard parts[parts.count - 1] == nil else { throw fail("expected ] or :") }
                    parts[parts.count - 1] = try expression()
                }
                if colons == 0 {
                    guard let i = parts[0] else { throw fail("an empty subscript []") }
                    e = .index(e, i)
                } else {
                    e = .slice(e, parts[0], parts.count > 1 ? parts[1] : nil, parts.count > 2 ? parts[2] : nil)
                }
            } else if peek == .op("(") {
                e = .call(e, try arguments())
            } else { return e }
        }
    }

    mutating func arguments() throws -> JinjaExpr.Arguments {
        try expect(.op("("))
        var args = JinjaExpr.Arguments()
        while !accept(.op(")")) {
            if case .name(let n) = peek, at + 1 < tokens.count, tokens[at + 1] == .op("=") {
                at += 2; args.named.append((n, try expression()))
            } else {
                args.positional.append(try expression())
            }
            if !accept(.op(",")) { try expect(.op(")")); break }
        }
        return args
    }

    mutating func primary() throws -> JinjaExpr {
        guard let t = peek else { throw fail("the expression ends early") }
        at += 1
        switch t {
        case .string(var s):
            while case .string(let more) = peek { s += more; at += 1 }   // adjacent literals join
            return .literal(.string(s))
        case .int(let i): return .literal(.int(i))
        case .double(let d): return .literal(.double(d))
        case .name(let n):
            switch n {
            case "true", "True": return .literal(.bool(true))
            case "false", "False": return .literal(.bool(false))
            case "none", "None": return .literal(.none)
            default: return .name(n)
            }
        case .op("("):
            let e = try expression()
            if accept(.op(",")) {   // a tuple: a list will do for what templates use it for
                var items = [e]
                while !accept(.op(")")) { items.append(try expression()); if !accept(.op(",")) { try expect(.op(")")); break } }
                return .list(items)
            }
            try expect(.op(")"))
            return e
        case .op("["):
            var items: [JinjaExpr] = []
            while !accept(.op("]")) { items.append(try expression()); if !accept(.op(",")) { try expect(.op("]")); break } }
            return .list(items)
        case .op("{"):
            var pairs: [(JinjaExpr, JinjaExpr)] = []
            while !accept(.op("}")) {
                let k = try expression(); try expect(.op(":")); pairs.append((k, try expression()))
                if !accept(.op(",")) { try expect(.op("}")); break }
            }
            return .dict(pairs)
        default:
            throw fail("unexpected \(t) in the expression")
        }
    }
}
