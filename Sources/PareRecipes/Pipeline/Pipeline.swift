import Foundation
import PareCore
import PareFormats
import PareTrain

/// The whole recipe from a config: data, teacher fine-tune, depth and width pruning,
/// distillation, evaluation, report. Each step is skipped when its output exists and its
/// fingerprint (settings and inputs) matches the one recorded in RUN_DIR/.pipeline/, so an
/// interrupted pipeline resumes where it stopped; training steps also resume from their last
/// checkpoint.
public struct Pipeline {
    public let config: PipelineConfig
    public let steps: [PipelineStep]

    /// The steps of `c`, every job validated; an error names the YAML path of the setting.
    public init(_ c: PipelineConfig) throws {
        config = c
        let R = c.runDir
        let teacher = BundledAssets.model(c.teacher)
        guard FileManager.default.fileExists(atPath: teacher) else {
            throw RecipeError.failed("teacher \(teacher) not found" + (c.teacher == BundledAssets.teacherName ? "; run scripts/setup" : ""))
        }
        var steps: [PipelineStep] = []
        var prepare = c.prepare
        prepare.output = "\(R)/data"
        steps.append(PipelineStep(name: "prepare", job: prepare, inputs: prepare.inputs, output: "\(R)/data/test.jsonl"))
        for split in ["train", "val", "test"] {
            var t = c.tokenize
            t.input = "\(R)/data/\(split).jsonl"; t.tokenizer = teacher; t.outputPrefix = "\(R)/data/wiki_\(split)"; t.jsonKey = "text"
            steps.append(PipelineStep(name: "tokenize-\(split)", job: t, inputs: [t.input, teacher], output: t.prefix + ".idx"))
        }
        func wire(_ t: inout TrainSettings, output: String) {
            t.dataTrain = "\(R)/data/wiki_train"; t.dataVal = "\(R)/data/wiki_val"; t.output = output; t.resume = true
        }
        let ft = "\(R)/teacher-ft"
        var finetune = c.finetune
        finetune.model = teacher
        wire(&finetune.train, output: ft)
        finetune.train.dataTest = "\(R)/data/wiki_test"
        steps.append(PipelineStep(name: "finetune", job: finetune, inputs: [teacher, "\(R)/data/wiki_train_text_document.idx"],
                                  output: "\(ft)/model/config.json"))
        var calibration = c.calibration
        calibration.calibrationData = "\(R)/data/wiki_train"
        var students: [String] = []
        if var d = c.depth {
            d.model = "\(ft)/model"; d.output = "\(R)/students/depth"; d.calibration = calibration
            steps.append(PipelineStep(name: "prune-depth", job: d, inputs: [d.model], output: "\(d.output)/config.json"))
            students.append("depth")
        }
        if var w = c.width {
            w.model = "\(ft)/model"; w.output = "\(R)/students/width"; w.calibration = calibration
            steps.append(PipelineStep(name: "prune-width", job: w, inputs: [w.model], output: "\(w.output)/config.json"))
            students.append("width")
        }
        // The searched student: the winner of prune.search, distilled at the full budget below.
        var studentDir = Dictionary(uniqueKeysWithValues: students.map { ($0, "\(R)/students/\($0)") })
        if var s = c.search {
            s.model = "\(ft)/model"; s.output = "\(R)/search"; s.calibration = calibration
            s.distill = c.distill
            s.distill.layerMap = nil; s.distill.intermediateLoss = nil
            if s.distill.topKLogits == nil { s.distill.topKLogits = PruneSearchJob().distill.topKLogits }
            wire(&s.distill.train, output: s.output)
            steps.append(PipelineStep(name: "prune-search", job: s, inputs: [s.model], output: "\(s.output)/winner/config.json"))
            students.append("search")
            studentDir["search"] = "\(s.output)/winner"
        }
        for key in c.layerMap.keys.sorted() where !students.contains(key) {
            throw RecipeError.failed("distill.layer_map: no student \"\(key)\" in this config (students: \(students.joined(separator: ", ")))")
        }
        if !c.layerMap.isEmpty && c.distill.intermediateLoss == nil {
            throw RecipeError.failed("distill.layer_map needs distill.intermediate_loss (cosine or mse)")
        }
        for s in students {
            var d = c.distill
            d.teacher = "\(ft)/model"; d.student = studentDir[s]!
            d.layerMap = c.layerMap[s] ?? d.layerMap
            // Students distilled from one teacher on one data order share its top-k logits: the
            // first distillation writes them, the others read them instead of running the teacher.
            if d.teacherCache == nil, d.topKLogits != nil, d.intermediateLoss == nil, students.count > 1 { d.teacherCache = "\(R)/teacher-cache" }
            wire(&d.train, output: "\(R)/distill-\(s)")
            steps.append(PipelineStep(name: "distill-\(s)", job: d, inputs: [d.teacher, d.student], output: "\(R)/distill-\(s)/model/config.json"))
        }
        let models = [teacher, "\(ft)/model"] + students.flatMap { [studentDir[$0]!, "\(R)/distill-\($0)/model"] }
        for split in ["val", "test"] {
            var e = c.eval
            e.model = models; e.data = "\(R)/data/wiki_\(split)"; e.json = "\(R)/eval-\(split).json"
            e.speed = split == "test" && c.eval.speed
            // Task accuracy does not depend on the split: it is measured once, in the test step.
            if split == "val" { e.tasks = [] }
            e.perplexity = true
            steps.append(PipelineStep(name: "eval-\(split)", job: e, inputs: models, output: e.json!))
        }
        steps.append(PipelineStep(name: "report", job: ReportJob(runDir: R),
                                  inputs: ["\(R)/eval-val.json", "\(R)/eval-test.json"] + students.map { "\(R)/distill-\($0)/metrics.jsonl" },
                                  output: "\(R)/report.md"))
        for step in steps {
            do { try step.job.validate() }
            catch { throw RecipeError.failed(Pipeline.message(error, section: step.job.section)) }
        }
        self.steps = steps
    }

    /// A library error in the config's vocabulary: settings as YAML paths (`distill.kd_ratio`).
    public static func message(_ error: Error, section: String) -> String {
        RecipeError.message(error, naming: { key in PipelineConfig.yamlPath(section: section, key: key) ?? "\(key) (set by the pipeline)" })
    }

    public enum StepState: Equatable { case upToDate, wouldRun, ran }

    /// Runs every step that is not up to date (`dryRun`: only says which would). `execute`
    /// runs one step (tests replace it). Returns each step's state.
    @discardableResult
    public func run(progress: Progress, dryRun: Bool = false,
                    execute: ((PipelineStep) throws -> Void)? = nil) throws -> [StepState] {
        let R = config.runDir
        try? FileManager.default.createDirectory(atPath: "\(R)/.pipeline", withIntermediateDirectories: true)
        let t0 = ProcessInfoLite.now()
        var states: [StepState] = []
        var willChange: [String] = []
        for (i, step) in steps.enumerated() {
            let hash = step.fingerprint
            let marker = "\(R)/.pipeline/\(step.name).json"
            let recorded = (try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: marker)))) as? [String: Any]
            // A dry run has not rewritten the outputs of the steps it would run: what reads them would run too.
            let stale = step.inputs.contains { input in willChange.contains { $0 == input || $0.hasPrefix(input + "/") || (input as NSString).deletingLastPathComponent == ($0 as NSString).deletingLastPathComponent } }
            let done = !stale && recorded?["hash"] as? String == hash && FileManager.default.fileExists(atPath: step.output)
            progress.say("[\(i + 1)/\(steps.count)] \(step.name): \(done ? "up to date, skipped" : dryRun ? "would run" : "running")")
            if done { states.append(.upToDate); continue }
            if dryRun { states.append(.wouldRun); willChange.append(step.output); continue }
            // A finished step whose settings or inputs changed starts afresh: its old run would
            // refuse to resume under other settings. The marker goes too, so an interrupted
            // re-run resumes itself next time instead of being moved aside again.
            if let old = recorded?["hash"] as? String, old != hash, let folder = step.job.runFolder, RunFolder.holdsRun(folder) {
                progress.say("  \(step.name)'s settings or inputs changed since its last run: moved \(folder) aside to \(try RunFolder.moveAside(folder))")
                try? FileManager.default.removeItem(atPath: marker)
            }
            let s0 = ProcessInfoLite.now()
            do { if let execute { try execute(step) } else { try step.job.runStep(progress: progress) } }
            catch let e as TrainingError { throw e }   // the CLI gives an interruption its own exit code
            catch { throw RecipeError.failed("step \(step.name): " + Pipeline.message(error, section: step.job.section)) }
            // Everything after a re-run step depends on it: their inputs' fingerprints change with it.
            let record: [String: Any] = ["hash": hash, "seconds": ProcessInfoLite.now() - s0, "job": step.job.canonicalJSON, "finished": Date().description]
            try AtomicFileWriter.write(try JSONSerialization.data(withJSONObject: record, options: [.prettyPrinted, .sortedKeys]), to: marker)
            states.append(.ran)
        }
        if !dryRun { progress.say(String(format: "pipeline finished in %@; report: %@/report.md", formatDuration(ProcessInfoLite.now() - t0), R)) }
        return states
    }
}
