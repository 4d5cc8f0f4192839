/// Library errors name the settings they are about without knowing who set them: a message
/// holds `SettingName.ref("micro_batch_size")`, a placeholder that each caller renders in its
/// own vocabulary — the CLI as `--micro-batch-size`, the pipeline as `distill.micro_batch_size`.
public enum SettingName {
    /// The placeholder for a setting, by its snake_case key (the YAML key).
    public static func ref(_ key: String) -> String { "‹\(key)›" }

    /// The command-line flag for a key.
    public static func flag(_ key: String) -> String { "--" + String(key.map { $0 == "_" ? "-" : $0 }) }

    /// `text` with every placeholder replaced by `name(key)`.
    public static func render(_ text: String, _ name: (String) -> String) -> String {
        var out = "", rest = Substring(text)
        while let open = rest.firstIndex(of: "‹"), let close = rest[open...].firstIndex(of: "›") {
            out += rest[..<open]
            out += name(String(rest[rest.index(after: open)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }
}

/// An error whose message may name settings through `SettingName.ref`. Its `description`
/// renders them as command-line flags; other callers render `rawMessage` themselves.
public protocol SettingError: Error, CustomStringConvertible {
    var rawMessage: String { get }
}

extension SettingError {
    public var description: String { SettingName.render(rawMessage, SettingName.flag) }
}
