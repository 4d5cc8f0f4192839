import Foundation
import XCTest
import PareRecipes
import PareTrain
import PareTestSupport

/// The report from a fixture run folder: the comparison table, the trade-off sentence read
/// off the numbers, and the plots.
final class ReportTests: XCTestCase {
    let dir = NSTemporaryDirectory() + "pare-report-\(getpid())"
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func write(_ path: String, _ text: String) throws {
        try FileManager.default.createDirectory(atPath: (dir + "/" + path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: dir + "/" + path, atomically: true, encoding: .utf8)
    }

    func row(_ model: String, _ params: Int, _ layers: Int, _ hidden: Int, _ loss: Double, decode: Double? = nil) -> String {
        "{\"model\": \"\(model)\", \"parameters\": \(params), \"layers\": \(layers), \"hidden_size\": \(hidden), \"loss\": \(loss), \"perplexity\": \(exp(loss))"
            + (decode.map { ", \"prefill_tokens_per_second\": 900, \"decode_tokens_per_second\": \($0)" } ?? "") + "}"
    }

    func testReportFromAFixtureRun() throws {
        let R = dir
        let models = [("/c/SmolLM2.gguf", 134_515_008, 30, 576, 2.9), ("\(R)/teacher-ft/model", 134_515_008, 30, 576, 2.7),
                      ("\(R)/students/depth", 81_413_568, 15, 576, 10.5), ("\(R)/distill-depth/model", 81_413_568, 15, 576, 4.5),
                      ("\(R)/students/width", 72_000_000, 30, 384, 7.9), ("\(R)/distill-width/model", 72_000_000, 30, 384, 4.6)]
        try write("eval-val.json", "[" + models.map { row($0.0, $0.1, $0.2, $0.3, $0.4) }.joined(separator: ",") + "]")
        try write("eval-test.json", "[" + models.map { row($0.0, $0.1, $0.2, $0.3, $0.4 + 0.05, decode: Double($0.2) * 2) }.joined(separator: ",") + "]")
        for s in ["depth", "width"] {
            try write("distill-\(s)/metrics.jsonl", (1...3).map { "{\"step\": \($0), \"train/kd_loss\": \(3.0 / Double($0)), \"val/loss\": \(5.0 - Double($0) * 0.1), \"val/kd_loss\": \(2.0 / Double($0))}" }.joined(separator: "\n") + "\n")
        }
        try write("teacher-ft/metrics.jsonl", "{\"step\": 0, \"val/loss\": 2.9}\n{\"step\": 10, \"val/loss\": 2.7}\n")
        // Each distillation's last checkpoint records the tokens it trained on.
        let enc = JSONEncoder()
        let trainer = String(decoding: try enc.encode(TrainerConfig()), as: UTF8.self)
        let config = String(decoding: try enc.encode(try Fixture("tiny-llama3").config), as: UTF8.self)
        for (s, step) in [("depth", 20), ("width", 20)] {
            try write("distill-\(s)/checkpoints/step-00000\(step)/trainer.json",
                      "{\"step\": \(step), \"samplesConsumed\": \(step * 8), \"tokensSeen\": \(step * 2048), \"elapsedSeconds\": 1, \"trainer\": \(trainer), \"model\": \(config)}")
        }
        let md = try ReportJob(runDir: R).run(progress: .silent, generated: "today")
        XCTAssertEqual(md, try String(contentsOfFile: R + "/report.md", encoding: .utf8))
        XCTAssertTrue(md.contains("| teacher (original) | 134515008 | 30 | 576 | 2.9000 | 18.17 | 2.9500 | 19.11 | 900 | 60.0 |"), md)
        XCTAssertTrue(md.contains("| depth-pruned + distilled | 81413568 | 15 | 576 | 4.5000 |"), md)
        XCTAssertTrue(md.contains("| width-pruned | 72000000 | 30 | 384 | 7.9000 |"), md)
        XCTAssertTrue(md.contains("the width-pruned student's test loss is 4.6500 against the depth-pruned student's 4.5500 (here depth is more accurate; "
                                  + "they hold 72.0M and 81.4M parameters, 12% apart, so this is not a comparison at equal size). "
                                  + "The Minitron paper found width ahead at equal size after distilling on 94B tokens "
                                  + "(Llama-3.1-Minitron-4B: MMLU 60.5 width, 58.7 depth); these students were distilled on 40960 tokens each. "), md)
        XCTAssertTrue(md.contains("Decoding runs at 30.0 tokens/s for depth and 60.0 for width."), md)
        XCTAssertTrue(md.contains("Generated today."))
        for plot in ["distill-val-loss", "distill-val-kd", "distill-train-loss", "finetune-val-loss"] {
            let svg = try String(contentsOfFile: "\(R)/plots/\(plot).svg", encoding: .utf8)
            XCTAssertTrue(svg.hasPrefix("<svg") && svg.contains("polyline"), "\(plot).svg has no line")
            try checkTicks(svg, plot)
        }
        // The students' loss beside what they learn from: the fine-tuned teacher's, dashed.
        let loss = try String(contentsOfFile: "\(R)/plots/distill-val-loss.svg", encoding: .utf8)
        XCTAssertTrue(loss.contains("stroke-dasharray=\"6 4\"") && loss.contains(">teacher (fine-tuned)</text>"), loss)
    }

    /// Matplotlib's bar for axes: step ticks are whole numbers, value ticks are evenly spaced
    /// on a 1-2-2.5-5 step, labelled with just the digits the step needs.
    func checkTicks(_ svg: String, _ plot: String, file: StaticString = #filePath, line: UInt = #line) throws {
        func labels(_ pattern: String) -> [String] {
            let re = try! NSRegularExpression(pattern: pattern)
            return re.matches(in: svg, range: NSRange(svg.startIndex..., in: svg)).map { String(svg[Range($0.range(at: 1), in: svg)!]) }
        }
        let x = labels(#"y="367\.0" text-anchor="middle">([-0-9.]+)</text>"#), y = labels(#"text-anchor="end">([-0-9.]+)</text>"#)
        XCTAssertGreaterThanOrEqual(x.count, 2, "\(plot): x ticks \(x)", file: file, line: line)
        XCTAssertGreaterThanOrEqual(y.count, 3, "\(plot): y ticks \(y)", file: file, line: line)
        XCTAssertTrue(x.allSatisfy { Int($0) != nil }, "\(plot): step ticks must be whole numbers: \(x)", file: file, line: line)
        for ticks in [x, y] {
            let v = ticks.compactMap(Double.init)
            let steps = zip(v.dropFirst(), v).map { $0 - $1 }
            let step = steps[0], p = pow(10, log10(step).rounded(.down))
            XCTAssertTrue(steps.allSatisfy { abs($0 - step) < 1e-9 * max(1, step) }, "\(plot): uneven ticks \(ticks)", file: file, line: line)
            XCTAssertTrue([1, 2, 2.5, 5, 10].contains { abs(step / p - $0) < 1e-9 }, "\(plot): step \(step) is not 1, 2, 2.5 or 5 × 10^k: \(ticks)", file: file, line: line)
            XCTAssertTrue(v.allSatisfy { abs(($0 / step).rounded() * step - $0) < 1e-9 * max(1, abs($0)) }, "\(plot): ticks off the step's multiples: \(ticks)", file: file, line: line)
        }
        XCTAssertEqual(Set(y.map { $0.split(separator: ".").last.map { $0.count } ?? 0 }).count, 1, "\(plot): mixed decimals \(y)", file: file, line: line)
    }

    /// With tasks in the test eval: an accuracy column per task (primary metric, ± stderr),
    /// the average, and the bar chart with the fine-tuned teacher as the dashed reference.
    func testAccuracyTableAndChart() throws {
        let R = dir
        func tasks(_ a: Double) -> String {
            #", "task_average": \#((a + a + 0.1) / 2), "tasks": [{"task": "arc_easy", "documents": 50, "primary_metric": "acc", "acc": \#(a), "acc_stderr": 0.07, "acc_norm": 0.2},"#
            + #" {"task": "hellaswag", "documents": 50, "primary_metric": "acc_norm", "acc": 0.1, "acc_norm": \#(a + 0.1), "acc_norm_stderr": 0.05}]"#
        }
        let models = [("/c/SmolLM2.gguf", 0.5), ("\(R)/teacher-ft/model", 0.6), ("\(R)/distill-width/model", 0.4)]
        try write("eval-val.json", "[" + models.map { row($0.0, 1, 1, 1, 3) }.joined(separator: ",") + "]")
        try write("eval-test.json", "[" + models.map { String(row($0.0, 1, 1, 1, 3).dropLast()) + tasks($0.1) + "}" }.joined(separator: ",") + "]")
        let md = try ReportJob(runDir: R).run(progress: .silent, generated: "today")
        XCTAssertTrue(md.contains("| model | arc_easy | hellaswag | average |"), md)
        XCTAssertTrue(md.contains("| teacher (fine-tuned) | 60.0 ± 7.0 | 70.0 ± 5.0 | 65.0 |"), md)
        XCTAssertTrue(md.contains("| width-pruned + distilled | 40.0 ± 7.0 | 50.0 ± 5.0 | 45.0 |"), md)
        XCTAssertTrue(md.contains("arc_easy 50, hellaswag 50"), md)
        let svg = try String(contentsOfFile: "\(R)/plots/task-accuracy.svg", encoding: .utf8)
        XCTAssertTrue(svg.contains("dashed: teacher (fine-tuned)") && svg.contains("stroke-dasharray"), svg)
        XCTAssertEqual(svg.components(separatedBy: "<rect x=").count - 1, 3 * 3 + 3, "3 models × (2 tasks + average) bars + 3 legend boxes")
        // The legend fits: the canvas reaches past the longest entry's text (≈ 0.6 em a character).
        let width = Double(svg.components(separatedBy: "width=\"")[1].prefix { $0 != "\"" })!
        let entry = "teacher (fine-tuned) (dashed line)"
        let start = Double(svg.components(separatedBy: "<text x=\"").last { $0.contains(entry) }!.prefix { $0 != "\"" })!
        XCTAssertGreaterThanOrEqual(width, start + Double(entry.count) * 12 * 0.6, "the legend is clipped")
    }

    /// MMLU is one column (its aggregate), and the section says it was scored 5-shot.
    func testMMLUIsOneColumnWithItsShots() throws {
        let R = dir
        let mmlu = #", "task_average": 0.3, "tasks": [{"task": "mmlu", "variant": "5-shot", "documents": 570, "primary_metric": "acc", "acc": 0.3, "acc_stderr": 0.019, "acc_macro": 0.31,"#
            + #" "subtasks": [{"name": "anatomy", "documents": 10, "acc": 0.3, "acc_stderr": 0.15}]}]"#
        try write("eval-val.json", "[" + row("/c/SmolLM2.gguf", 1, 1, 1, 3) + "]")
        try write("eval-test.json", "[" + String(row("/c/SmolLM2.gguf", 1, 1, 1, 3).dropLast()) + mmlu + "}]")
        let md = try ReportJob(runDir: R).run(progress: .silent, generated: "today")
        XCTAssertTrue(md.contains("## Task accuracy"), md)
        XCTAssertTrue(md.contains("| model | mmlu | average |"), md)
        XCTAssertTrue(md.contains("30.0 ± 1.9 | 30.0 |"), md)
        XCTAssertTrue(md.contains("mmlu 570 (5-shot)") && md.contains("of each MMLU subject"), md)
        XCTAssertEqual(ReportJob.shots("rc_5shot"), 5); XCTAssertEqual(ReportJob.shots("bpb_0shot"), 0); XCTAssertNil(ReportJob.shots(nil))
    }

    /// A search ranked by a task: its accuracy column, and which candidate loss would have picked.
    func testASearchRankedByATaskShowsItsAccuracy() throws {
        let R = dir
        try write("eval-val.json", "[" + row("/c/SmolLM2.gguf", 1, 1, 1, 3) + "]")
        try write("eval-test.json", "[" + row("/c/SmolLM2.gguf", 1, 1, 1, 3) + "]")
        func shape(_ l: Int) -> String { #"{"layers": \#(l), "hidden": 64, "ffn": 128, "heads": 4, "groups": 2}"# }
        func candidate(_ l: Int, loss: Double, acc: Double) -> String {
            #"{"shape": \#(shape(l)), "parameters": 1000000, "dropped": [], "proxyLoss": 5.0, "shortKDLoss": \#(loss), "shortKDScore": \#(acc), "shortKDScoreStderr": 0.02}"#
        }
        try write("search/search.json", #"{"teacher": "t", "teacherParameters": 2000000, "teacherShape": \#(shape(4)), "target": "≤ 1M parameters", "gridSize": 9, "feasible": 4,"#
                  + #" "candidates": [\#(candidate(3, loss: 4.0, acc: 0.25)), \#(candidate(2, loss: 4.5, acc: 0.30))], "shortKDRanked": ["2L-h64-f128-4q2g", "3L-h64-f128-4q2g"],"#
                  + #" "winner": "2L-h64-f128-4q2g", "proxyWinner": "3L-h64-f128-4q2g", "score": "mmlu", "lossRanked": ["3L-h64-f128-4q2g", "2L-h64-f128-4q2g"],"#
                  + #" "scoreRanked": ["2L-h64-f128-4q2g", "3L-h64-f128-4q2g"], "seconds": 60}"#)
        let md = try ReportJob(runDir: R).run(progress: .silent, generated: "today")
        XCTAssertTrue(md.contains("ranked by mmlu accuracy after it (by validation loss, 3L-h64-f128-4q2g would have won)"), md)
        XCTAssertTrue(md.contains("| short-KD val loss | short-KD mmlu accuracy | |"), md)
        XCTAssertTrue(md.contains("| 4.5000 | 30.0 ± 2.0 | winner |"), md)
    }

    func testAMissingEvalIsAClearError() {
        XCTAssertThrowsError(try ReportJob(runDir: dir + "/none").run(progress: .silent)) {
            XCTAssert("\($0)".contains("eval-val.json is missing"), "\($0)")
        }
    }
}
