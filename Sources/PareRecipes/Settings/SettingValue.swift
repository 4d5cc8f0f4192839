import Foundation
import PareFormats
import Yams

/// A type a job's setting can hold. One conformance says how a value is read from YAML, from a
/// command-line argument, and written into a step's fingerprint, so a setting declares only
/// its key, its place in the job and its help (`Setting`).
public protocol SettingValue {
    /// From a YAML node; nil when the node does not hold this type.
    init?(yaml node: Node)
    /// From a command-line argument; nil when the text does not hold this type.
    init?(argument: String)
    /// The value as a JSON fragment (fingerprints and the pipeline's step records).
    var json: String { get }
    /// The value as help shows a default.
    var shown: String { get }
    /// What a value must look like, for "expected …, got …" messages.
    static var expected: String { get }
    /// The flag's value in help (`--steps <n>`).
    static var placeholder: String { get }
}

extension SettingValue {
    public var shown: String { "\(self)" }
    public var json: String { "\(self)" }
}

/// Numbers: read as YAML reads them (Yams' constructors), and as Swift parses an argument.
public protocol NumericSettingValue: SettingValue, LosslessStringConvertible, ScalarConstructible {}

extension NumericSettingValue {
    public init?(yaml node: Node) { guard let s = node.scalar, let v = Self.construct(from: s) else { return nil }; self = v }
    public init?(argument: String) { self.init(argument) }
}

extension Int: NumericSettingValue { public static var expected: String { "a whole number" }; public static var placeholder: String { "<n>" } }
extension UInt64: NumericSettingValue { public static var expected: String { "a whole number" }; public static var placeholder: String { "<n>" } }
extension Double: NumericSettingValue { public static var expected: String { "a number" }; public static var placeholder: String { "<x>" } }
extension Float: NumericSettingValue { public static var expected: String { "a number" }; public static var placeholder: String { "<x>" } }

extension Bool: SettingValue {
    public init?(yaml node: Node) { guard let s = node.scalar, let v = Bool.construct(from: s) else { return nil }; self = v }
    public init?(argument: String) {
        switch argument { case "true": self = true; case "false": self = false; default: return nil }
    }
    public static var expected: String { "true or false" }
    public static var placeholder: String { "" }
}

extension String: SettingValue {
    public init?(yaml node: Node) { guard let s = node.scalar else { return nil }; self = s.string }
    public init?(argument: String) { self = argument }
    public var shown: String { self }
    public var json: String { JSONString.quoted(self) }
    public static var expected: String { "a string" }
    public static var placeholder: String { "<text>" }
}

/// A list: a YAML sequence of strings; on the command line, each occurrence of the flag adds
/// its comma-separated items (`--tasks piqa,boolq`, `--model A --model B`).
extension Array: SettingValue where Element == String {
    public init?(yaml node: Node) {
        guard let seq = node.sequence else { return nil }
        var out: [String] = []
        for item in seq { guard let s = item.scalar else { return nil }; out.append(s.string) }
        self = out
    }
    public init?(argument: String) { self = argument.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
    public var shown: String { joined(separator: ",") }
    public var json: String { "[" + map(JSONString.quoted).joined(separator: ",") + "]" }
    public static var expected: String { "a list of strings" }
    public static var placeholder: String { "<a,b,…>" }
}

/// A setting that is one of a few names (an enum with String raw values).
public protocol SettingChoice: SettingValue, RawRepresentable, CaseIterable where RawValue == String {}

extension SettingChoice {
    public init?(yaml node: Node) { guard let s = node.scalar, let v = Self(rawValue: s.string) else { return nil }; self = v }
    public init?(argument: String) { self.init(rawValue: argument) }
    public var json: String { JSONString.quoted(rawValue) }
    public var shown: String { rawValue }
    public static var expected: String {
        let names = allCases.map(\.rawValue)
        return names.dropLast().joined(separator: ", ") + " or " + names.last!
    }
    public static var placeholder: String { "<" + allCases.map(\.rawValue).joined(separator: "|") + ">" }
}
