import PareCore
import Yams

/// One setting of a job, declared once: its YAML key (kebab-cased, its command-line flag),
/// where its value lives in the job, its help and its range check. Reading it from YAML or
/// from arguments, writing it into a step's fingerprint, listing it in help and checking it
/// are all derived from this declaration (`JobSettings`).
public struct Setting<Job> {
    public let key: String
    public private(set) var help: String
    public let place: SettingPlace
    /// Whether a different value changes what the job writes (then it is part of a pipeline
    /// step's fingerprint); false for bookkeeping such as how often to log.
    public let changesOutput: Bool
    /// Further flags for the same setting (`--seq` for `--seq-length`).
    public let aliases: [String]
    /// The value's shape in help (`<n>`); empty for a flag, which takes no value.
    let placeholder: String
    let read: (inout Job, Node) throws -> Void
    /// From the command line; `again` when the flag was already given (lists add to it).
    let parse: (inout Job, String, _ again: Bool) throws -> Void
    let json: (Job) -> String?
    let problem: (Job) -> String?
    let shownValue: (Job) -> String?

    public var flag: String { SettingName.flag(key) }
    /// The setting's value in `job` as help shows it (nil when unset).
    public func shownDefault(of job: Job) -> String? { shownValue(job) }
    /// The setting's value in `job` as JSON (which YAML also reads), nil when unset.
    public func jsonValue(in job: Job) -> String? { json(job) }
    public var isFlag: Bool { placeholder.isEmpty }
    public var inFile: Bool { place == .everywhere }

    /// A setting held at `path`. `check` returns what is wrong with a value (after the key's
    /// name, e.g. "must be positive, not -1"), or nil.
    public init<V: SettingValue>(_ key: String, _ path: WritableKeyPath<Job, V>, _ help: String, check: ((V) -> String?)? = nil,
                                 changesOutput: Bool = true, aliases: [String] = [], place: SettingPlace = .everywhere) {
        self.key = key; self.help = help; self.place = place; self.changesOutput = changesOutput; self.aliases = aliases
        placeholder = V.placeholder
        read = { job, node in job[keyPath: path] = try Setting.value(V.self, node, key) }
        parse = { job, text, again in
            let v: V = try Setting.value(V.self, text, key)
            if again, var list = job[keyPath: path] as? [String], let more = v as? [String] { list += more; job[keyPath: path] = list as! V }
            else { job[keyPath: path] = v }
        }
        json = { $0[keyPath: path].json }
        problem = { job in check?(job[keyPath: path]) }
        shownValue = { $0[keyPath: path].shown }
    }

    /// An optional setting: absent keeps the default, `null` in YAML turns it off.
    public init<V: SettingValue>(_ key: String, _ path: WritableKeyPath<Job, V?>, _ help: String, check: ((V) -> String?)? = nil,
                                 changesOutput: Bool = true, aliases: [String] = [], place: SettingPlace = .everywhere) {
        self.key = key; self.help = help; self.place = place; self.changesOutput = changesOutput; self.aliases = aliases
        placeholder = V.placeholder
        read = { job, node in
            if let s = node.scalar, s.style == .plain, NSNullLike.isNull(s) { job[keyPath: path] = nil; return }
            job[keyPath: path] = try Setting.value(V.self, node, key)
        }
        parse = { job, text, _ in job[keyPath: path] = try Setting.value(V.self, text, key) }
        json = { $0[keyPath: path]?.json }
        problem = { job in job[keyPath: path].flatMap { check?($0) } }
        shownValue = { $0[keyPath: path]?.shown }
    }

    /// A command-line shorthand that sets other settings (`prune search --lr` sets the short
    /// distillations' learning rate and its floor): not a YAML key, not in fingerprints.
    public static func argument<V: SettingValue>(_ key: String, _ type: V.Type, _ help: String, apply: @escaping (inout Job, V) -> Void) -> Setting {
        Setting(key: key, help: help, place: .commandLineOnly, changesOutput: false, aliases: [], placeholder: V.placeholder,
                read: { _, _ in }, parse: { job, text, _ in apply(&job, try Setting.value(V.self, text, key)) },
                json: { _ in nil }, problem: { _ in nil }, shownValue: { _ in nil })
    }

    init(key: String, help: String, place: SettingPlace, changesOutput: Bool, aliases: [String], placeholder: String,
         read: @escaping (inout Job, Node) throws -> Void, parse: @escaping (inout Job, String, Bool) throws -> Void,
         json: @escaping (Job) -> String?, problem: @escaping (Job) -> String?, shownValue: @escaping (Job) -> String?) {
        self.key = key; self.help = help; self.place = place; self.changesOutput = changesOutput; self.aliases = aliases
        self.placeholder = placeholder; self.read = read; self.parse = parse; self.json = json; self.problem = problem; self.shownValue = shownValue
    }

    /// The same setting with the help a job that reuses it needs (the search's `precision` also
    /// sets its short distillations').
    public func helped(_ help: String) -> Setting {
        var copy = self
        copy.help = help
        return copy
    }

    /// The same setting inside a job that holds this one at `outer` (distill's training settings).
    public func lifted<Outer>(_ outer: WritableKeyPath<Outer, Job>) -> Setting<Outer> {
        let (read, parse, json, problem, shown) = (self.read, self.parse, self.json, self.problem, self.shownValue)
        return Setting<Outer>(key: key, help: help, place: place, changesOutput: changesOutput, aliases: aliases, placeholder: placeholder,
                              read: { try read(&$0[keyPath: outer], $1) }, parse: { try parse(&$0[keyPath: outer], $1, $2) },
                              json: { json($0[keyPath: outer]) }, problem: { problem($0[keyPath: outer]) }, shownValue: { shown($0[keyPath: outer]) })
    }

    static func value<V: SettingValue>(_ type: V.Type, _ node: Node, _ key: String) throws -> V {
        if let v = V(yaml: node) { return v }
        let got = node.scalar.map { ", got \"\($0.string)\"" } ?? ""
        let at = node.mark.map { " (line \($0.line), column \($0.column))" } ?? ""
        throw RecipeError(key: key, rawMessage: "\(SettingName.ref(key))\(at): expected \(V.expected)\(got)")
    }

    static func value<V: SettingValue>(_ type: V.Type, _ text: String, _ key: String) throws -> V {
        guard let v = V(argument: text) else { throw RecipeError(key: key, rawMessage: "\(SettingName.ref(key)): expected \(V.expected), got \"\(text)\"") }
        return v
    }
}

/// Where a setting can be given: in YAML and on the command line, or on the command line only.
public enum SettingPlace { case everywhere, commandLineOnly }

/// YAML's plain null scalars.
enum NSNullLike {
    static func isNull(_ s: Node.Scalar) -> Bool { ["", "~", "null", "Null", "NULL"].contains(s.string) }
}

extension Setting {
    /// A model path setting: `role` (e.g. "The teacher") names what the model is for.
    public static func model(_ path: WritableKeyPath<Job, String>, _ role: String, key: String = "model") -> Setting {
        Setting(key, path, "\(role): a .gguf file or a Hugging Face directory.")
    }
}
