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
        let L = RunLayout(c.runDir)
        let teacher = BundledAssets.model(c.teacher)
        try Pipeline.checkExternalInputs(c, teacher: teacher)
        var steps = Pipeline.dataSteps(c, L, teacher: teacher)
        var finetune = c.finetune
        finetune.model = teacher
        Pipeline.wire(&finetune.train, L, output: L.finetune)
        finetune.train.dataTest = L.tokens("test")
        steps.append(PipelineStep(name: "finetune", job: finetune, inputs: [teacher, L.tokens("train") + "_text_document.idx"],
                                  output: L.fineTunedTeacher + "/config.json"))
        let (pruneSteps, students) = try Pipeline.pruneSteps(c, L)
        steps += pruneSteps
        steps += try Pipeline.distillSteps(c, L, students: students)
        let models = [teacher, L.fineTunedTeacher] + students.flatMap { [L.pruned($0), L.distilled($0)] }
        for split in ["val", "test"] {
            var e = c.eval
            e.model = models; e.data = L.tokens(split); e.json = L.eval(split)
            e.speed = split == "test" && c.eval.speed
            // Task accuracy does not depend on the split: it is measured once, in the test step.
            if split == "val" { e.tasks = [] }
            e.perplexity = true
            steps.append(PipelineStep(name: "eval-\(split)", job: e, inputs: models, output: e.json!))
        }
        steps.append(PipelineStep(name: "report", job: ReportJob(runDir: c.runDir),
                                  inputs: [L.eval("val"), L.eval("test")] + students.map { L.distillation($0) + "/metrics.jsonl" },
                                  output: L.report))
        for step in steps {
            do { try step.job.validate() }
            catch { throw RecipeError.failed(Pipeline.message(error, section: step.job.section)) }
        }
        self.steps = steps
    }

    /// What a dry run can check before any step runs: the files the config names (the steps'
    /// own outputs come later) and the task names. Relative paths are the current folder's.
    static func checkExternalInputs(_ c: PipelineConfig, teacher: String) throws {
        let fm = FileManager.default
        func relative(_ p: String) -> String {
            p.hasPrefix("/") ? "" : " (relative paths in the config are resolved against the current folder, \(fm.currentDirectoryPath))"
        }
        guard fm.fileExists(atPath: teacher) else {
            throw RecipeError.failed("teacher: \(teacher) not found" + (c.teacher == BundledAssets.teacherName ? "; run scripts/setup" : relative(teacher)))
        }
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: c.runDir, isDirectory: &isDir), !isDir.boolValue {
            throw RecipeError.failed("run_dir: \(c.runDir) is a file\(relative(c.runDir)); give a folder for the run")
        }
        if c.prepare.source != BundledAssets.corpusName, !fm.fileExists(atPath: c.prepare.source) {
            throw RecipeError.failed("data.source: \(c.prepare.source) not found\(relative(c.prepare.source)); give a .jsonl file, a text file, a folder of them, or \(BundledAssets.corpusName)")
        }
        var tasks = c.eval.tasks.map { ("eval.tasks", $0, c.eval.shots) }
        if let d = c.depth, d.numLayers != nil, let (_, name) = d.parsedMetric, let name { tasks.append(("prune.depth.metric", name, DepthPruneJob.taskShots)) }
        if let s = c.search, let name = s.scoreTask { tasks.append(("prune.search.score", name, s.scoreShots)) }
        for (key, task, shots) in tasks {
            do { try BundledAssets.taskLibrary.check(task, shots: shots) }
            catch let e as FormatError { throw RecipeError.failed("\(key): \(e.rawMessage)") }
        }
    }

    /// A training step's data and run folder; it always resumes its own checkpoints.
    static func wire(_ t: inout TrainSettings, _ L: RunLayout, output: String) {
        t.dataTrain = L.tokens("train"); t.dataVal = L.tokens("val"); t.output = output; t.resume = true
    }

    /// The corpus split into train/val/test and each split tokenized with the teacher's tokenizer.
    static func dataSteps(_ c: PipelineConfig, _ L: RunLayout, teacher: String) -> [PipelineStep] {
        var prepare = c.prepare
        prepare.output = L.data
        var steps = [PipelineStep(name: "prepare", job: prepare, inputs: prepare.inputs, output: L.split("test"))]
        for split in ["train", "val", "test"] {
            var t = c.tokenize
            t.input = L.split(split); t.tokenizer = teacher; t.outputPrefix = L.tokens(split); t.jsonKey = "text"
            steps.append(PipelineStep(name: "tokenize-\(split)", job: t, inputs: [t.input, teacher], output: t.prefix + ".idx"))
        }
        return steps
    }

    /// The pruning steps (depth, width and the search, each when enabled) and the students
    /// they make.
    static func pruneSteps(_ c: PipelineConfig, _ L: RunLayout) throws -> ([PipelineStep], [String]) {
        var calibration = c.calibration
        calibration.calibrationData = L.tokens("train")
        var steps: [PipelineStep] = [], students: [String] = []
        if var d = c.depth {
            d.model = L.fineTunedTeacher; d.output = L.pruned("depth"); d.calibration = calibration
            steps.append(PipelineStep(name: "prune-depth", job: d, inputs: [d.model], output: "\(d.output)/config.json"))
            students.append("depth")
        }
        if var w = c.width {
            w.model = L.fineTunedTeacher; w.output = L.pruned("width"); w.calibration = calibration
            steps.append(PipelineStep(name: "prune-width", job: w, inputs: [w.model], output: "\(w.output)/config.json"))
            students.append("width")
        }
        // The searched student: the winner of prune.search, distilled at the full budget later.
        if var s = c.search {
            s.model = L.fineTunedTeacher; s.output = L.search; s.calibration = calibration
            s.distill = c.distill
            s.distill.layerMap = nil; s.distill.intermediateLoss = nil
            if s.distill.topKLogits == nil { s.distill.topKLogits = PruneSearchJob().distill.topKLogits }
            wire(&s.distill.train, L, output: s.output)
            steps.append(PipelineStep(name: "prune-search", job: s, inputs: [s.model], output: L.pruned("search") + "/config.json"))
            students.append("search")
        }
        return (steps, students)
    }

    /// One distillation per student, from the fine-tuned teacher.
    static func distillSteps(_ c: PipelineConfig, _ L: RunLayout, students: [String]) throws -> [PipelineStep] {
        for key in c.layerMap.keys.sorted() where !students.contains(key) {
            throw RecipeError.failed("distill.layer_map: no student \"\(key)\" in this config (students: \(students.joined(separator: ", ")))")
        }
        if !c.layerMap.isEmpty && c.distill.intermediateLoss == nil {
            throw RecipeError.failed("distill.layer_map needs distill.intermediate_loss (cosine or mse)")
        }
        return students.map { s in
            var d = c.distill
            d.teacher = L.fineTunedTeacher; d.student = L.pruned(s)
            d.layerMap = c.layerMap[s] ?? d.layerMap
            // Students distilled from one teacher on one data order share its top-k logits: the
            // first distillation writes them, the others read them instead of running the teacher.
            // Not under a time budget: the cache is built for a step count known beforehand.
            if d.teacherCache == nil, d.topKLogits != nil, d.intermediateLoss == nil, d.train.timeBudget == nil, students.count > 1 {
                d.teacherCache = L.teacherCache
            }
            wire(&d.train, L, output: L.distillation(s))
            return PipelineStep(name: "distill-\(s)", job: d, inputs: [d.teacher, d.student], output: L.distilled(s) + "/config.json")
        }
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
        let L = RunLayout(config.runDir)
        try? FileManager.default.createDirectory(atPath: L.stepRecords, withIntermediateDirectories: true)
        let t0 = ProcessInfoLite.now()
        var states: [StepState] = []
        var willChange: [String] = []
        for (i, step) in steps.enumerated() {
            let hash = step.fingerprint
            let marker = "\(L.stepRecords)/\(step.name).json"
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
        if !dryRun { progress.say(String(format: "pipeline finished in %@; report: %@", formatDuration(ProcessInfoLite.now() - t0), L.report)) }
        return states
    }
}
