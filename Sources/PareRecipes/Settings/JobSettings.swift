import PareCore
import PareFormats
import Yams

/// A job whose settings are one table (`settings`). Everything that handles settings reads
/// the table: the YAML keys and their decoding, the command-line flags and their help, range
/// checks, and the fingerprint of a pipeline step.
public protocol JobSettings {
    init()
    static var settings: [Setting<Self>] { get }
    /// What a pipeline step's fingerprint hashes: by default the table's settings that change
    /// the output (`tableFingerprintJSON`); a job holding another job's settings adds them.
    var fingerprintJSON: String { get }
    /// Called once the command line is read: a job whose flags stand for several settings
    /// derives the others here.
    mutating func finishArguments()
}

extension JobSettings {
    /// The keys a YAML section of this job may hold.
    public static var keys: [String] { settings.filter(\.inFile).map(\.key) }

    /// A job with its defaults, overwritten by the keys of `mapping` that are in `taking` (all
    /// when nil); the caller has already refused keys the section does not know. A value of the
    /// wrong type is an error naming its key and line.
    public init(yaml mapping: Node.Mapping, taking: Set<String>? = nil) throws {
        self.init()
        let table = Dictionary(Self.settings.filter(\.inFile).map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        for (k, node) in mapping {
            guard let key = k.string, taking?.contains(key) ?? true, let s = table[key] else { continue }
            try s.read(&self, node)
        }
    }

    /// A job with its defaults, overwritten by command-line arguments (`--steps 5`,
    /// `--steps=5`, `--resume`, `--no-perplexity`). An unknown flag or a bad value is an error
    /// naming the flag.
    public init(arguments: [String]) throws {
        self.init()
        var byFlag: [String: Setting<Self>] = [:]
        for s in Self.settings { for name in [s.key] + s.aliases { byFlag[SettingName.flag(name)] = s } }
        var seen: Set<String> = [], i = 0
        while i < arguments.count {
            let arg = arguments[i]; i += 1
            guard arg.hasPrefix("--") else {
                throw RecipeError.failed("unexpected argument \"\(arg)\"; settings are given as --name value (see --help)")
            }
            let parts = arg.split(separator: "=", maxSplits: 1).map(String.init)
            var name = parts[0], value: String? = parts.count > 1 ? parts[1] : nil
            if byFlag[name] == nil, name.hasPrefix("--no-"), let s = byFlag["--" + name.dropFirst(5)], s.isFlag, value == nil {
                name = "--" + name.dropFirst(5); value = "false"
            }
            guard let s = byFlag[name] else {
                let close = byFlag.keys.filter { editDistance($0, name) <= 2 }.sorted()
                throw RecipeError.failed("unknown option \(name)" + (close.isEmpty ? "" : " (did you mean \(close.joined(separator: " or "))?)") + "; see --help")
            }
            if s.isFlag { value = value ?? "true" }
            else if value == nil {
                guard i < arguments.count else { throw RecipeError(key: s.key, rawMessage: "\(SettingName.ref(s.key)) needs a value (\(s.placeholder))") }
                value = arguments[i]; i += 1
            }
            try s.parse(&self, value!, seen.contains(s.key))
            seen.insert(s.key)
        }
        finishArguments()
    }

    /// Every setting's own range check; the first failure names its key.
    public func checkRanges() throws {
        for s in Self.settings { if let p = s.problem(self) { throw RecipeError.invalid(s.key, p) } }
    }

    public var fingerprintJSON: String { tableFingerprintJSON }
    public mutating func finishArguments() {}

    /// The settings that change the job's output, as canonical JSON (sorted keys; unset
    /// optional settings left out).
    public var tableFingerprintJSON: String { tableFingerprintJSON(leavingOut: []) }

    /// The same without `keys` (settings that change nothing in this job's current mode).
    public func tableFingerprintJSON(leavingOut keys: Set<String>) -> String {
        let pairs = Self.settings.filter { $0.inFile && $0.changesOutput && !keys.contains($0.key) }.compactMap { s in s.json(self).map { (s.key, $0) } }
        return "{" + pairs.sorted { $0.0 < $1.0 }.map { "\(JSONString.quoted($0.0)):\($0.1)" }.joined(separator: ",") + "}"
    }

    /// The settings as help lists them, laid out as ArgumentParser lays out options (flag and
    /// value in a column of 26, help wrapped to 80 columns).
    public static func helpText(heading: String = "SETTINGS") -> String {
        let d = Self()
        var lines = ["\(heading):"]
        for s in settings {
            let negatable = s.isFlag && s.shownValue(d) == "true"
            let names = ([negatable ? "--[no-]" + s.flag.dropFirst(2) : s.flag] + s.aliases.map(SettingName.flag)).joined(separator: ", ")
            var text = s.help
            if !s.isFlag, !text.contains("default"), let v = s.shownValue(d), !v.isEmpty {
                text = (text.hasSuffix(".") ? String(text.dropLast()) : text) + " (default \(v))."
            }
            lines += wrapped(label: "  \(names)\(s.isFlag ? "" : " " + s.placeholder)", text)
        }
        return lines.joined(separator: "\n")
    }
}

/// `label` then `text` in a column from 26, wrapped to 80 columns (counted in UTF-8 bytes, as
/// ArgumentParser counts when it wraps the help again).
func wrapped(label: String, _ text: String, column: Int = 26, width: Int = 78) -> [String] {
    var lines: [String] = [], line = label
    if label.count > column - 2 { lines.append(label); line = "" }
    line += String(repeating: " ", count: column - line.count)
    var empty = true
    for word in text.split(separator: " ") {
        if !empty && line.utf8.count + 1 + word.utf8.count > width {
            lines.append(line); line = String(repeating: " ", count: column); empty = true
        }
        line += (empty ? "" : " ") + word; empty = false
    }
    return lines + [line]
}
