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
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                throw FormatError.corrupt(path: path, message: "line \(i + 1) is not a JSON object")
            }
            guard let text = obj[key] as? String else {
                throw FormatError.corrupt(path: path, message: "line \(i + 1) has no string field \"\(key)\" (choose the field with \(SettingName.ref("json_key")))")
            }
            out.append(text)
        }
        return out
    }
}
