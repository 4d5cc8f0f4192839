import Foundation
import PareCore
import Yams

/// `pare pipeline CONFIG.yaml`: the recipe's jobs with their settings. Each section holds the
/// keys of its job (finetune: the keys of `pare finetune`, …) except those the pipeline wires
/// itself (models, data and output paths, resume); defaults are the jobs' own. A key the
/// section does not know, or a value of the wrong type, is an error that names its YAML path.
public struct PipelineConfig {
    public var runDir = "runs/pipeline"
    public var teacher = BundledAssets.teacherName   // the bundled GGUF, or a .gguf / Hugging Face directory
    public var threads: Int? = nil
    public var precision: String? = nil               // fp32 | bf16 for every stage (auto resolved here; nil: the jobs' default, fp32)
    public var prepare = PrepareJob()                 // data:
    public var tokenize = TokenizeJob()               // data: (append_eod, workers)
    public var finetune = FinetuneJob()
    public var calibration = CalibrationSettings()    // prune: (shared by depth and width)
    public var depth: DepthPruneJob? = DepthPruneJob()   // prune.depth: (enabled: false → nil)
    public var width: WidthPruneJob? = WidthPruneJob()
    public var search: PruneSearchJob? = nil          // prune.search: off unless the section is there
    public var distill = DistillJob()
    public var layerMap: [String: String] = [:]       // distill.layer_map: student name → "S:T,…"
    public var eval = EvalJob()

    public init() {}

    /// What each section may set: its job's keys less the wired ones, plus the section's own.
    static let sections: [String: [String]] = [
        "data": PrepareJob.keys.filter { $0 != "output" } + ["append_eod", "workers"],
        "finetune": FinetuneJob.keys.filter { !wiredTrainKeys.contains($0) && $0 != "model" },
        "prune": CalibrationSettings.keys.filter { $0 != "calibration_data" && $0 != "precision" } + ["depth", "width", "search"],
        "prune.depth": ["enabled"] + DepthPruneJob.ownSettings.map(\.key).filter { $0 != "model" && $0 != "output" },
        "prune.width": ["enabled"] + WidthPruneJob.ownSettings.map(\.key).filter { $0 != "model" && $0 != "output" },
        "prune.search": ["enabled"] + PruneSearchJob.ownSettings.map(\.key).filter { $0 != "model" && $0 != "output" },
        "distill": DistillJob.keys.filter { !wiredTrainKeys.contains($0) && $0 != "teacher" && $0 != "student" },
        "eval": EvalJob.keys.filter { !["model", "data", "json", "perplexity", "precision"].contains($0) },   // speed and tasks: on the test split
    ]
    // `precision` is set once, at the top, for every stage.
    static let wiredTrainKeys: Set<String> = ["data_train", "data_val", "data_test", "output", "resume", "precision"]
    static let topKeys = ["run_dir", "teacher", "threads", "precision", "data", "finetune", "prune", "distill", "eval"]

    /// The name a job's setting has in this file (`distill.layer_map`), or nil when the
    /// pipeline wires it.
    public static func yamlPath(section: String, key: String) -> String? {
        sections[section]?.contains(key) == true ? "\(section).\(key)" : nil
    }

    public static func load(_ path: String) throws -> PipelineConfig {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            throw RecipeError.failed("\(path) is a folder; give the pipeline's YAML config file (e.g. configs/smollm2-wiki.yaml)")
        }
        guard let bytes = FileManager.default.contents(atPath: path) else {
            throw RecipeError.failed(FileManager.default.fileExists(atPath: path) ? "cannot read \(path) (permissions?)" : "\(path) not found; see configs/smollm2-wiki.yaml for an example")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            let line = 1 + bytes.prefix(utf8ErrorOffset(bytes)).filter { $0 == UInt8(ascii: "\n") }.count
            throw RecipeError.failed("\(path): line \(line) is not UTF-8 text; save the file as UTF-8")
        }
        do { return try parse(text) } catch let e as RecipeError { throw RecipeError.failed("\(path): \(e.rawMessage)") }
    }

    public static func parse(_ text: String) throws -> PipelineConfig {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            // The scanner's message for a tab says only "cannot start any token".
            let tab = text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.prefix { $0 == " " || $0 == "\t" }.contains("\t") }
            let hint = tab.map { "\nline \($0 + 1) is indented with a tab: YAML indents with spaces" } ?? ""
            throw RecipeError.failed("not valid YAML: \(error)\(hint)")
        }
        guard let root else { throw RecipeError.failed("the file is empty; see configs/smollm2-wiki.yaml for the keys") }
        let top = try mapping(root, "", topKeys)
        var c = PipelineConfig()
        if let v = top["run_dir"] { c.runDir = try scalar(v, "run_dir") }
        if let v = top["teacher"] { c.teacher = try scalar(v, "teacher") }
        if let v = top["threads"] { c.threads = try scalar(v, "threads") as Int }
        if let v = top["precision"] {
            let p: String = try scalar(v, "precision")
            if let problem = PrecisionSetting.problem(p) { throw RecipeError.failed("precision \(problem)") }
            c.precision = try PrecisionSetting.parse(p).rawValue   // auto becomes what runs, so steps record it
        }
        if let data = top["data"] {
            let m = try mapping(data, "data", sections["data"]!)
            c.prepare = try decode(PrepareJob.self, m, "data", drop: ["append_eod", "workers"])
            c.tokenize = try decode(TokenizeJob.self, m, "data", keep: ["append_eod", "workers"])
        }
        if let ft = top["finetune"] { c.finetune = try decode(FinetuneJob.self, try mapping(ft, "finetune", sections["finetune"]!), "finetune") }
        if let prune = top["prune"] {
            let m = try mapping(prune, "prune", sections["prune"]!)
            c.calibration = try decode(CalibrationSettings.self, m, "prune", drop: ["depth", "width", "search"])
            c.depth = try subsection(m["depth"], "prune.depth", DepthPruneJob.self)
            c.width = try subsection(m["width"], "prune.width", WidthPruneJob.self)
            if let node = m["search"] { c.search = try subsection(node, "prune.search", PruneSearchJob.self) }
        }
        if let d = top["distill"] {
            let m = try mapping(d, "distill", sections["distill"]!)
            if let lm = m["layer_map"] {
                let per = try mapping(lm, "distill.layer_map", ["depth", "width"])
                for (k, v) in per { c.layerMap[k.string ?? ""] = try scalar(v, "distill.layer_map.\(k.string ?? "")") }
            }
            c.distill = try decode(DistillJob.self, m, "distill", drop: ["layer_map"])
        }
        if let e = top["eval"] { c.eval = try decode(EvalJob.self, try mapping(e, "eval", sections["eval"]!), "eval") }
        if let p = c.precision {
            c.finetune.train.precision = p; c.distill.train.precision = p
            c.calibration.precision = p; c.eval.precision = p
        }
        return c
    }

    /// A prune subsection; `enabled: false` turns the student off.
    static func subsection<J: JobSettings>(_ node: Node?, _ path: String, _ type: J.Type) throws -> J? {
        guard let node else { return J() }
        let m = try mapping(node, path, sections[path]!)
        if let e = m["enabled"], try scalar(e, path + ".enabled") as Bool == false { return nil }
        return try decode(J.self, m, path, drop: ["enabled"])
    }

    /// The node as a mapping whose keys are all in `known`.
    static func mapping(_ node: Node, _ path: String, _ known: [String]) throws -> Node.Mapping {
        guard let m = node.mapping else {
            throw RecipeError.failed("\(path.isEmpty ? "the file" : path)\(where_(node)): expected a mapping of keys (\(known.joined(separator: ", ")))")
        }
        var seen: [String: Node] = [:]
        for k in m.keys {
            let name = k.string ?? "\(k)"
            // YAML forbids a repeated key; Yams would keep the last one silently.
            if let first = seen[name] {
                throw RecipeError.failed("key \"\(path.isEmpty ? name : path + "." + name)\" appears twice\(where_(first)) and\(where_(k)); keep one")
            }
            seen[name] = k
            guard known.contains(name) else {
                let close = known.filter { editDistance($0, name) <= 2 }
                throw RecipeError.failed("unknown key \"\(path.isEmpty ? name : path + "." + name)\"\(where_(k))"
                                         + (close.isEmpty ? "" : " (did you mean \(close.joined(separator: " or "))?)")
                                         + "; known here: \(known.joined(separator: ", "))")
            }
        }
        return m
    }

    /// A job from the mapping's keys (all, or those in `keep`, less `drop`), read once, straight
    /// into the job; a value of the wrong type names its YAML path, line and column.
    static func decode<J: JobSettings>(_ type: J.Type, _ m: Node.Mapping, _ path: String, keep: Set<String>? = nil, drop: Set<String> = []) throws -> J {
        let taking = Set(J.keys.filter { (keep?.contains($0) ?? true) && !drop.contains($0) })
        do { return try J(yaml: m, taking: taking) }
        catch let e as RecipeError { throw RecipeError.failed(SettingName.render(e.rawMessage) { "\(path).\($0)" }) }
    }

    static func scalar<T: SettingValue>(_ node: Node, _ path: String) throws -> T {
        guard let v = T(yaml: node) else {
            throw RecipeError.failed("\(path)\(where_(node)): expected \(T.expected), got \(node.scalar.map { "\"\($0.string)\"" } ?? "a mapping or list")")
        }
        return v
    }

    /// " (line L, column C)" of a node, when the parser recorded it.
    static func where_(_ node: Node) -> String { node.mark.map { " (line \($0.line), column \($0.column))" } ?? "" }
}

extension PipelineConfig {
    /// The keys a section may hold ("" for the top level).
    public static func yamlKeys(section: String) -> [String] { section.isEmpty ? topKeys : sections[section] ?? [] }
}

/// Index of the first byte that is not part of valid UTF-8 (`bytes.count` if all are).
private func utf8ErrorOffset(_ bytes: Data) -> Int {
    var it = bytes.makeIterator(), decoder = UTF8(), offset = 0
    while true {
        switch decoder.decode(&it) {
        case .scalarValue(let c): offset += UTF8.width(c)
        case .emptyInput: return offset
        case .error: return offset
        }
    }
}
