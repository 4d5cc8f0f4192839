import ArgumentParser
import Foundation
import PareCore
import PareFormats
import PareTrain

struct Pipeline: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the whole recipe from a YAML config: data, teacher fine-tune, depth and width pruning, distillation, evaluation, report.",
        discussion: """
        Each step is skipped when its outputs exist and its inputs and settings are unchanged (a hash recorded in \
        RUN_DIR/.pipeline/), so an interrupted pipeline resumes where it stopped; training steps also resume from \
        their last checkpoint. See configs/smollm2-wiki.yaml.
        """)

    @Argument(help: "The pipeline config (YAML).") var config: String
    @Flag(help: "Print the steps and whether each would run, then stop.") var dryRun = false

    struct Step {
        let name: String
        let args: [String]        // a pare command line
        let inputs: [String]      // files or folders whose content decides the result
        let output: String        // exists when the step is complete
    }

    func run() throws {
        if DataParallel.launcherSize > 1 {
            throw fail("run the pipeline as one process; under mpirun, run its training steps (pare finetune, pare distill) one by one")
        }
        let c: PipelineConfig
        do { c = try PipelineConfig.load(config) } catch let e as PipelineError { throw fail(e.description) }
        let R = c.runDir
        let teacher = c.teacher == "smollm2-135m" ? pareCache + "/SmolLM2-135M-Instruct.Q4_1.gguf" : c.teacher
        guard FileManager.default.fileExists(atPath: teacher) else {
            throw fail("teacher \(teacher) not found" + (c.teacher == "smollm2-135m" ? "; run scripts/setup" : ""))
        }
        let threads = c.threads.map { ["--threads", String($0)] } ?? []
        func train(_ t: PipelineConfig.TrainSettings) -> [String] {
            ["--steps", "\(t.steps)", "--global-batch-size", "\(t.globalBatchSize)", "--micro-batch-size", "\(t.microBatchSize)",
             "--seq-length", "\(t.seqLength)", "--lr", "\(t.lr)", "--min-lr", "\(t.minLR)", "--warmup-steps", "\(t.warmupSteps)",
             "--weight-decay", "\(t.weightDecay)", "--grad-clip", "\(t.gradClip)", "--val-interval", "\(t.valInterval)",
             "--val-batches", "\(t.valBatches)", "--checkpoint-interval", "\(t.checkpointInterval)", "--log-interval", "1", "--resume",
             "--data-train", "\(R)/data/wiki_train", "--data-val", "\(R)/data/wiki_val"] + threads
        }
        var steps: [Step] = [
            Step(name: "prepare", args: ["data", "prepare", "--source", c.data.source, "--output", "\(R)/data", "--json-key", c.data.jsonKey,
                                         "--val-fraction", "\(c.data.valFraction)", "--test-fraction", "\(c.data.testFraction)", "--seed", "\(c.data.seed)"],
                 inputs: c.data.source == "wiki-summaries" ? [pareCache + "/summaries_en-us.json"] : [c.data.source], output: "\(R)/data/test.jsonl"),
        ]
        for split in ["train", "val", "test"] {
            steps.append(Step(name: "tokenize-\(split)", args: ["data", "tokenize", "--input", "\(R)/data/\(split).jsonl", "--tokenizer", teacher,
                                                                "--output-prefix", "\(R)/data/wiki_\(split)", "--append-eod"],
                              inputs: ["\(R)/data/\(split).jsonl", teacher], output: "\(R)/data/wiki_\(split)_text_document.idx"))
        }
        let ft = "\(R)/teacher-ft"
        steps.append(Step(name: "finetune", args: ["finetune", "--model", teacher, "--output", ft, "--data-test", "\(R)/data/wiki_test"] + train(c.finetune),
                          inputs: [teacher, "\(R)/data/wiki_train_text_document.idx"], output: "\(ft)/model/config.json"))
        let calib = ["--calibration-data", "\(R)/data/wiki_train", "--calibration-samples", "\(c.prune.calibrationSamples)", "--seq-length", "\(c.prune.seqLength)"] + threads
        var students: [String] = []
        if c.prune.depth.enabled {
            steps.append(Step(name: "prune-depth", args: ["prune", "depth", "--model", "\(ft)/model", "--output", "\(R)/students/depth",
                                                          "--num-layers", "\(c.prune.depth.numLayers)", "--metric", c.prune.depth.metric]
                                + (c.prune.depth.contiguous ? ["--contiguous"] : []) + calib,
                              inputs: ["\(ft)/model"], output: "\(R)/students/depth/config.json"))
            students.append("depth")
        }
        if c.prune.width.enabled {
            let w = c.prune.width
            var sizes: [String] = []
            if let h = w.hiddenSize { sizes += ["--hidden-size", "\(h)"] }
            if let f = w.ffnHiddenSize { sizes += ["--ffn-hidden-size", "\(f)"] }
            if let h = w.numAttentionHeads { sizes += ["--num-attention-heads", "\(h)"] }
            if let g = w.numQueryGroups { sizes += ["--num-query-groups", "\(g)"] }
            steps.append(Step(name: "prune-width", args: ["prune", "width", "--model", "\(ft)/model", "--output", "\(R)/students/width"] + sizes + calib,
                              inputs: ["\(ft)/model"], output: "\(R)/students/width/config.json"))
            students.append("width")
        }
        for key in c.distill.layerMap.keys.sorted() where !students.contains(key) {
            throw fail("distill.layer_map: no student \"\(key)\" in this config (students: \(students.joined(separator: ", ")))")
        }
        if !c.distill.layerMap.isEmpty && c.distill.intermediateLoss == nil {
            throw fail("distill.layer_map needs distill.intermediate_loss (cosine or mse)")
        }
        for s in students {
            let d = c.distill
            steps.append(Step(name: "distill-\(s)", args: ["distill", "--teacher", "\(ft)/model", "--student", "\(R)/students/\(s)", "--output", "\(R)/distill-\(s)",
                                                           "--loss", d.loss, "--temperature", "\(d.temperature)", "--kd-ratio", "\(d.kdRatio)"]
                                + (d.topKLogits.map { ["--top-k-logits", "\($0)"] } ?? [])
                                + (d.intermediateLoss.map { ["--intermediate-loss", $0] } ?? [])
                                + (d.layerMap[s].map { ["--layer-map", $0] } ?? []) + train(d),
                              inputs: ["\(ft)/model", "\(R)/students/\(s)"], output: "\(R)/distill-\(s)/model/config.json"))
        }
        let models = [teacher, "\(ft)/model"] + students.flatMap { ["\(R)/students/\($0)", "\(R)/distill-\($0)/model"] }
        for split in ["val", "test"] {
            steps.append(Step(name: "eval-\(split)", args: ["eval", "--data", "\(R)/data/wiki_\(split)", "--seq", "\(c.eval.seqLength)",
                                                            "--max-windows", "\(c.eval.maxWindows)", "--json", "\(R)/eval-\(split).json"]
                                + (split == "test" && c.eval.speed ? ["--speed"] : []) + threads + models.flatMap { ["--model", $0] },
                              inputs: models, output: "\(R)/eval-\(split).json"))
        }
        steps.append(Step(name: "report", args: ["report", R], inputs: ["\(R)/eval-val.json", "\(R)/eval-test.json"] + students.map { "\(R)/distill-\($0)/metrics.jsonl" },
                          output: "\(R)/report.md"))

        try? FileManager.default.createDirectory(atPath: "\(R)/.pipeline", withIntermediateDirectories: true)
        let t0 = ProcessInfoLite.now()
        for (i, step) in steps.enumerated() {
            let hash = fingerprint(step)
            let marker = "\(R)/.pipeline/\(step.name).json"
            let recorded = (try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: marker)))) as? [String: Any]
            let done = recorded?["hash"] as? String == hash && FileManager.default.fileExists(atPath: step.output)
            print("[\(i + 1)/\(steps.count)] \(step.name): \(done ? "up to date, skipped" : dryRun ? "would run" : "running") — pare \(step.args.joined(separator: " "))")
            fflush(stdout)
            if done || dryRun { continue }
            let s0 = ProcessInfoLite.now()
            var command = try Pare.parseAsRoot(step.args)
            try command.run()
            let record: [String: Any] = ["hash": hash, "seconds": ProcessInfoLite.now() - s0, "args": step.args, "finished": Date().description]
            try AtomicFileWriter.write(try JSONSerialization.data(withJSONObject: record, options: [.prettyPrinted, .sortedKeys]), to: marker)
            // Everything after a re-run step depends on it: their inputs' fingerprints change with it.
        }
        print(String(format: "pipeline finished in %@; report: %@/report.md", formatDuration(ProcessInfoLite.now() - t0), R))
    }

    /// Hash of the command line and the size and modification time of every input file.
    func fingerprint(_ s: Step) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ str: String) { for b in str.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 } ; h = (h ^ 0xff) &* 0x100_0000_01b3 }
        for a in s.args { mix(a) }
        let fm = FileManager.default
        for input in s.inputs {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: input, isDirectory: &isDir) else { mix(input + ":missing"); continue }
            let files = isDir.boolValue ? ((try? fm.contentsOfDirectory(atPath: input)) ?? []).sorted().map { input + "/" + $0 } : [input]
            for f in files {
                guard let a = try? fm.attributesOfItem(atPath: f), (a[.type] as? FileAttributeType) == .typeRegular else { continue }
                mix(f); mix("\((a[.size] as? Int) ?? 0)"); mix("\((a[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)")
            }
        }
        return String(h, radix: 16)
    }
}
