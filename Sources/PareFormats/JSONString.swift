import Foundation

/// A string as a JSON string literal, escaped as JSON requires and nothing more (non-ASCII
/// stays as UTF-8, "/" unescaped): what tokenizer files, safetensors headers, JSONL splits
/// and settings fingerprints write.
public enum JSONString {
    public static func quoted(_ t: String) -> String {
        var s = "\""
        for u in t.unicodeScalars {
            switch u {
            case "\"": s += "\\\""
            case "\\": s += "\\\\"
            case "\n": s += "\\n"
            case "\r": s += "\\r"
            case "\t": s += "\\t"
            case "\u{08}": s += "\\b"   // as Python's json and serde_json write them
            case "\u{0C}": s += "\\f"
            case _ where u.value < 0x20: s += String(format: "\\u%04x", u.value)
            default: s.unicodeScalars.append(u)
            }
        }
        return s + "\""
    }
}
