/// Splits a template into text, `{{ … }}` and `{% … %}` pieces, with Jinja's whitespace
/// control as transformers configures it: `trim_blocks` (the newline after a block tag
/// goes) and `lstrip_blocks` (indentation before a block tag goes), plus `-` on either side
/// of a tag, which strips all whitespace on that side.
enum JinjaSegment: Equatable {
    case text(String)
    case output(String, line: Int)
    case statement(String, line: Int)
}

enum JinjaLexer {
    static func segments(_ source: String) throws -> [JinjaSegment] {
        let s = Array(source)
        var out: [JinjaSegment] = []
        var text: [Character] = []
        var i = 0, line = 1
        var stripNextWhitespace = false, trimNextNewline = false
        // Whether `text` began at the start of a source line (lstrip_blocks needs it when the
        // newline before went with the previous tag).
        var textAtLineStart = true
        func flushText() { if !text.isEmpty { out.append(.text(String(text))); text = [] } }
        while i < s.count {
            let opens = i + 1 < s.count && s[i] == "{" && (s[i + 1] == "{" || s[i + 1] == "%" || s[i + 1] == "#")
            if !opens {
                let c = s[i]
                if stripNextWhitespace, c.isWhitespace { i += 1; if c == "\n" { line += 1; textAtLineStart = true }; continue }
                stripNextWhitespace = false
                if trimNextNewline { trimNextNewline = false; if c == "\n" { i += 1; line += 1; textAtLineStart = true; continue } }
                text.append(c); if c == "\n" { line += 1 }
                i += 1
                continue
            }
            stripNextWhitespace = false; trimNextNewline = false
            let kind = s[i + 1], tagLine = line
            let close: [Character] = kind == "{" ? ["}", "}"] : kind == "%" ? ["%", "}"] : ["#", "}"]
            var j = i + 2
            let leftDash = j < s.count && s[j] == "-"
            let leftPlus = j < s.count && s[j] == "+"
            if leftDash || leftPlus { j += 1 }
            if leftDash {
                while let last = text.last, last.isWhitespace { text.removeLast() }
            } else if kind != "{" && !leftPlus {
                // lstrip_blocks: spaces and tabs from the line's start to the tag.
                var k = text.count
                while k > 0, text[k - 1] == " " || text[k - 1] == "\t" { k -= 1 }
                if k == 0 ? textAtLineStart : text[k - 1] == "\n" {
                    text.removeLast(text.count - k)
                }
            }
            // The tag's end, skipping string literals (Mistral's template prints "}}").
            var body: [Character] = []
            var quote: Character? = nil
            var end = -1
            while j < s.count {
                let c = s[j]
                if c == "\n" { line += 1 }
                if let q = quote {
                    body.append(c)
                    if c == "\\", j + 1 < s.count { body.append(s[j + 1]); j += 2; continue }
                    if c == q { quote = nil }
                    j += 1; continue
                }
                if kind != "#", c == "\"" || c == "'" { quote = c; body.append(c); j += 1; continue }
                if c == close[0], j + 1 < s.count, s[j + 1] == close[1] { end = j; break }
                body.append(c); j += 1
            }
            guard end >= 0 else { throw JinjaError("line \(tagLine): a \(kind == "{" ? "{{" : kind == "%" ? "{%" : "{#") tag is never closed") }
            var rightDash = false
            if body.last == "-" { rightDash = true; body.removeLast() }
            if body.last == "+" { body.removeLast() }
            flushText()
            let inner = String(body).trimmingCharacters(in: .whitespacesAndNewlines)
            if kind == "{" { out.append(.output(inner, line: tagLine)) }
            else if kind == "%" { out.append(.statement(inner, line: tagLine)) }
            i = end + 2
            textAtLineStart = false
            if rightDash { stripNextWhitespace = true } else if kind != "{" { trimNextNewline = true }
        }
        flushText()
        return out
    }
}

/// A token inside a tag.
enum JinjaToken: Equatable {
    case name(String)
    case string(String)
    case int(Int)
    case double(Double)
    case op(String)
}

extension JinjaLexer {
    static let operators = ["//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", "(", ")", "[", "]", "{", "}",
                            ".", ",", ":", "|"]

    static func tokens(_ source: String, line: Int) throws -> [JinjaToken] {
        let s = Array(source)
        var out: [JinjaToken] = []
        var i = 0
        while i < s.count {
            let c = s[i]
            if c.isWhitespace { i += 1; continue }
            if c == "\"" || c == "'" {
                var v = "", j = i + 1, closed = false
                while j < s.count {
                    let d = s[j]
                    if d == c { closed = true; break }
                    if d == "\\", j + 1 < s.count {
                        let e = s[j + 1]
                        switch e {
                        case "n": v.append("\n")
                        case "t": v.append("\t")
                        case "r": v.append("\r")
                        case "\\": v.append("\\")
                        case "'", "\"": v.append(e)
                        default: v.append("\\"); v.append(e)
                        }
                        j += 2; continue
                    }
                    v.append(d); j += 1
                }
                guard closed else { throw JinjaError("line \(line): a string is not closed") }
                out.append(.string(v)); i = j + 1; continue
            }
            if c.isNumber {
                var j = i
                while j < s.count, s[j].isNumber || s[j] == "_" { j += 1 }
                if j + 1 < s.count, s[j] == ".", s[j + 1].isNumber {
                    j += 1
                    while j < s.count, s[j].isNumber { j += 1 }
                    out.append(.double(Double(String(s[i..<j]))!))
                } else {
                    out.append(.int(Int(String(s[i..<j]).replacingOccurrences(of: "_", with: ""))!))
                }
                i = j; continue
            }
            if c.isLetter || c == "_" {
                var j = i
                while j < s.count, s[j].isLetter || s[j].isNumber || s[j] == "_" { j += 1 }
                out.append(.name(String(s[i..<j]))); i = j; continue
            }
            guard let op = operators.first(where: { op in Array(op).enumerated().allSatisfy { i + $0.offset < s.count && s[i + $0.offset] == $0.element } }) else {
                throw JinjaError("line \(line): unexpected \"\(c)\"")
            }
            out.append(.op(op)); i += op.count
        }
        return out
    }
}
