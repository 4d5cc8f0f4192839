import Foundation
import PareCore

/// One text field per line of a JSONL file; a malformed line is an error naming the line.
public enum JSONLText {
    public static func read(path: String, key: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FormatError.io(path: path, message: "cannot read the file; check the path")
        }
        var out: [String] = []
        for (i, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { continue }
            guard String(validating: line, as: UTF8.self) != nil else {
                throw FormatError.inconsistent(path: path, message: "line \(i + 1) is not UTF-8 text (JSONL is UTF-8); re-encode the file, e.g. iconv -f latin1 -t utf-8")
            }
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                let shown = String(decoding: line.prefix(80), as: UTF8.self)
                throw FormatError.inconsistent(path: path, message: "line \(i + 1) is not a JSON object: \(shown)\(line.count > 80 ? "…" : ""); fix or remove that line")
            }
            guard let text = obj[key] as? String else {
                throw FormatError.corrupt(path: path, message: "line \(i + 1) has no string field \"\(key)\" (choose the field with \(SettingName.ref("json_key")))")
            }
            out.append(text)
        }
        return out
    }
}
