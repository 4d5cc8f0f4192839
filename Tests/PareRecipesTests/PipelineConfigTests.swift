import Foundation
import XCTest
import PareCore
import PareRecipes
import PareTestSupport

/// The YAML: every option of finetune, prune, distill and eval is reachable from it, and a
/// mistyped key or an invalid value is reported with its YAML path.
final class PipelineConfigTests: XCTestCase {
    let dir = NSTemporaryDirectory() + "pare-yaml-\(getpid())"
    override func setUp() {
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir + "/teacher.gguf", contents: Data())
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// The flags of `pare ARGS --help`, snake_cased, from the binary the test build made.
    func flags(_ args: [String]) throws -> Set<String> {
        let help = try PareCLI.run(args + ["--help"]).stdout
        let re = try NSRegularExpression(pattern: #"--([a-z][a-z0-9-]*)"#)
        var out = Set<String>()
        for m in re.matches(in: help, range: NSRange(help.startIndex..., in: help)) {
            out.insert(String(help[Range(m.range(at: 1), in: help)!]).replacingOccurrences(of: "-", with: "_"))
        }
        out.subtract(["help", "version"])
        XCTAssertFalse(out.isEmpty, "pare \(args.joined(separator: " ")) --help lists no flags")
        return out
    }

    /// Every flag is a key of its YAML section, or one the pipeline wires (named here, so a new
    /// flag that YAML cannot reach fails the test).
    func testEveryCommandOptionIsReachableFromYAML() throws {
        let cases: [(command: [String], sections: [String], wired: Set<String>)] = [
            (["finetune"], ["finetune"], ["model", "data_train", "data_val", "data_test", "output", "resume", "overwrite", "threads", "precision"]),
            (["distill"], ["distill"], ["teacher", "student", "data_train", "data_val", "data_test", "output", "resume", "overwrite", "threads", "precision"]),
            (["prune", "depth"], ["prune.depth", "prune"], ["model", "output", "calibration_data", "threads", "precision"]),
            (["prune", "width"], ["prune.width", "prune"], ["model", "output", "calibration_data", "threads", "precision"]),
            // --seq: the old name of --seq-length; perplexity: always on in the pipeline; --rescore: a
            // timing aid (the pipeline reuses cached task scores, which is the point of the cache)
            (["eval"], ["eval"], ["model", "data", "json", "threads", "seq", "perplexity", "no_perplexity", "rescore", "precision"]),
        ]
        for c in cases {
            let yaml = Set(c.sections.flatMap { s in PipelineConfig.yamlKeys(section: s) })
            for flag in try flags(c.command) {
                XCTAssertTrue(yaml.contains(flag) || c.wired.contains(flag), "pare \(c.command.joined(separator: " ")) --\(flag) has no YAML key in \(c.sections)")
            }
        }
        XCTAssertTrue(PipelineConfig.yamlKeys(section: "").contains("threads"), "threads is a top-level key")
        XCTAssertTrue(PipelineConfig.yamlKeys(section: "").contains("precision"), "precision is a top-level key (every --precision)")
    }

    /// The top-level precision reaches every stage that runs a model; a wrong value names the key.
    func testPrecisionReachesEveryStage() throws {
        let d = try config("")
        XCTAssertEqual([d.finetune.train.precision, d.distill.train.precision, d.calibration.precision, d.eval.precision], ["fp32", "fp32", "fp32", "fp32"])
        assertError("precision: fp16", ["precision must be fp32, bf16 or auto", "fp16"])
        XCTAssertEqual(try config("precision: auto").eval.precision, GEMM.bf16Unavailability == nil ? "bf16" : "fp32", "auto resolves to what runs")
        assertError("finetune: {precision: bf16}", ["unknown key \"finetune.precision\""])
        if GEMM.bf16Unavailability == nil {
            let c = try config("precision: bf16")
            XCTAssertEqual([c.finetune.train.precision, c.distill.train.precision, c.calibration.precision, c.eval.precision], ["bf16", "bf16", "bf16", "bf16"])
        } else {
            assertError("precision: bf16", ["precision", "bf16 is not available", "fp32"])
        }
    }

    /// A config over a stand-in teacher file; a depth student of one layer unless `yaml` prunes.
    func config(_ yaml: String) throws -> PipelineConfig {
        try PipelineConfig.parse("run_dir: \(dir)/run\nteacher: \(dir)/teacher.gguf\n" + yaml + (yaml.contains("prune:") ? "" : "\nprune: {depth: {num_layers: 1}}"))
    }

    func testSettingsReachTheirJobs() throws {
        let c = try config("""
        finetune: {steps: 3, lr_schedule: constant, seed: 7, lr_decay_steps: 9, save_top_k: 2}
        prune:
          calibration_batch: 2
          depth: {drop_layers: "1-2"}
          width: {hidden_size: 64, aggregation: mean, mlp_activation: gate, size_multiple: 16, scores: s.json}
        distill: {steps: 4, jsd_beta: 0.3, loss: jsd, top_k_logits: 8, layer_map: {depth: "0:0"}, intermediate_loss: cosine}
        eval: {tail_fraction: 0.5, batch: 2, seq_length: 64}
        """)
        XCTAssertEqual(c.finetune.train.trainer.steps, 3); XCTAssertEqual(c.finetune.train.trainer.schedule.kind, .constant)
        XCTAssertEqual(c.finetune.train.trainer.seed, 7); XCTAssertEqual(c.finetune.train.lrDecaySteps, 9); XCTAssertEqual(c.finetune.train.trainer.saveTopK, 2)
        XCTAssertEqual(c.finetune.train.trainer.schedule.lr, TrainSettings().trainer.schedule.lr, "an absent key keeps the job's default")
        XCTAssertEqual(c.calibration.calibrationBatch, 2)
        XCTAssertEqual(c.depth?.dropLayers, "1-2")
        XCTAssertEqual(c.width?.aggregation, "mean"); XCTAssertEqual(c.width?.mlpActivation, "gate"); XCTAssertEqual(c.width?.sizeMultiple, 16)
        XCTAssertEqual(c.distill.jsdBeta, 0.3); XCTAssertEqual(c.distill.topKLogits, 8); XCTAssertEqual(c.layerMap, ["depth": "0:0"])
        XCTAssertEqual(c.eval.tailFraction, 0.5); XCTAssertEqual(c.eval.batch, 2)
        let p = try Pipeline(c)
        guard let d = p.steps.first(where: { $0.name == "distill-depth" })?.job as? DistillJob else { return XCTFail("no distill-depth step") }
        XCTAssertEqual(d.layerMap, "0:0"); XCTAssertEqual(d.train.trainer.steps, 4)
        guard let pd = p.steps.first(where: { $0.name == "prune-depth" })?.job as? DepthPruneJob else { return XCTFail("no prune-depth step") }
        XCTAssertEqual(pd.calibration.calibrationBatch, 2, "prune-level calibration settings reach both students")
        XCTAssertTrue(try config("prune: {width: {enabled: false}, depth: {num_layers: 1}}").width == nil)
        XCTAssertNil(d.teacherCache, "the intermediate loss needs the live teacher")
        // Two students, top-k KD: both distillations share one teacher cache.
        let shared = try Pipeline(try config("prune: {depth: {num_layers: 1}, width: {hidden_size: 64, scores: s.json}}\ndistill: {top_k_logits: 8}"))
        let caches = shared.steps.compactMap { step -> String?? in if let d = step.job as? DistillJob { return .some(d.teacherCache) } else { return nil } }
        XCTAssertEqual(caches.count, 2); XCTAssertEqual(Set(caches).count, 1); XCTAssert(caches[0]?.hasSuffix("/teacher-cache") == true, "\(caches)")
        assertError("distill: {teacher_cache: c}", ["distill.teacher_cache", "distill.top_k_logits"])
        // prune.search: a third student, the search's winner, distilled at the full budget.
        let searched = try Pipeline(try config("prune: {depth: {enabled: false}, width: {enabled: false}, search: {target_params: 80M, top_k: 2, short_tokens: 4096}}\ndistill: {steps: 5, lr: 3.0e-4}"))
        guard let ps = searched.steps.first(where: { $0.name == "prune-search" })?.job as? PruneSearchJob,
              let ds = searched.steps.first(where: { $0.name == "distill-search" })?.job as? DistillJob else { return XCTFail("no search steps: \(searched.steps.map(\.name))") }
        XCTAssertEqual(ps.targetParams, "80M"); XCTAssertEqual(ps.topK, 2); XCTAssertEqual(ps.distill.train.trainer.schedule.lr, 3e-4, "the short distillations take the distill section's settings")
        XCTAssertEqual(ps.distill.topKLogits, 64, "top-k by default, so the candidates share a teacher cache")
        XCTAssert(ds.student.hasSuffix("/search/winner"), ds.student); XCTAssertEqual(ds.train.trainer.steps, 5)
        assertError("prune: {depth: {enabled: false}, width: {enabled: false}, search: {target_params: 80M, top_k: 0}}", ["prune.search.top_k"])
    }

    /// prune.repair reaches both prune jobs; a distill time budget reaches the students, but not
    /// the search's short distillations, and keeps the pipeline from sharing a teacher cache.
    func testRepairAndTimeBudgetReachTheirJobs() throws {
        let c = try config("prune: {repair: true, depth: {num_layers: 1}, width: {hidden_size: 64, scores: s.json}}\ndistill: {top_k_logits: 8, time_budget: 45m}")
        let p = try Pipeline(c)
        let prunes = p.steps.compactMap { ($0.job as? DepthPruneJob)?.calibration.repair ?? ($0.job as? WidthPruneJob)?.calibration.repair }
        XCTAssertEqual(prunes, [true, true])
        let distills = p.steps.compactMap { $0.job as? DistillJob }
        XCTAssertEqual(distills.count, 2)
        for d in distills {
            XCTAssertEqual(d.train.timeBudget, "45m"); XCTAssertNil(d.teacherCache, "a cache needs the steps before the first one")
            XCTAssertEqual(d.train.trainerConfig().timeBudget, 2700)
        }
        assertError("distill: {time_budget: soon}", ["distill.time_budget", "expected a duration such as 45m"])
    }

    func assertError(_ yaml: String, _ words: [String], file: StaticString = #filePath, line: UInt = #line) {
        do { _ = try Pipeline(try config(yaml)); XCTFail("accepted: \(yaml)", file: file, line: line) }
        catch {
            let m = Pipeline.message(error, section: "")
            for w in words { XCTAssertTrue(m.contains(w), "\"\(w)\" not in: \(m)", file: file, line: line) }
        }
    }

    func testMistakesNameTheirYAMLPath() {
        assertError("distill: {kd_ratioo: 0.5}", ["unknown key \"distill.kd_ratioo\"", "did you mean kd_ratio", "line 3"])
        assertError("prune: {depth: {num_layer: 3}}", ["prune.depth.num_layer", "did you mean num_layers"])
        assertError("finetune: {output: x}", ["unknown key \"finetune.output\""])   // wired by the pipeline
        assertError("distill: {kd_ratio: 2}", ["distill.kd_ratio must be between 0 and 1"])
        assertError("finetune: {steps: 0}", ["finetune.steps must be positive"])
        assertError("finetune: {global_batch_size: 6, micro_batch_size: 4}", ["finetune.global_batch_size", "multiple of finetune.micro_batch_size"])
        assertError("finetune: {steps: \"two\"}", ["finetune.steps", "whole number", "\"two\""])
        assertError("distill: {layer_map: {depth: \"1:x\"}, intermediate_loss: cosine}\nprune: {depth: {num_layers: 1}}", ["distill.layer_map", "STUDENT:TEACHER"])
        assertError("distill: {layer_map: {deep: \"1:1\"}}", ["distill.layer_map.deep"])
        assertError("distill: {temperature: -1}", ["distill.temperature must be positive"])
        assertError("prune: {depth: {num_layers: 2, metric: bi}}", ["prune.depth.metric must be cosine, loss or task:NAME"])
        assertError("eval: {seq_length: 0}", ["eval.seq_length must be positive"])
        assertError("prune: {depth: {}}", ["prune.depth.drop_layers", "prune.depth.num_layers"])
        assertError("data: [1, 2]", ["data", "expected a mapping"])
    }

    func testAnEmptyFileSaysWhatToWrite() {
        XCTAssertThrowsError(try PipelineConfig.parse("")) { XCTAssert("\($0)".contains("empty"), "\($0)") }
    }

    func testTheShippedConfigsLoad() throws {
        let configs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../configs").standardized
        for name in try FileManager.default.contentsOfDirectory(atPath: configs.path) where name.hasSuffix(".yaml") {
            XCTAssertNoThrow(try PipelineConfig.load(configs.appendingPathComponent(name).path), name)
        }
    }
}
