import Foundation
import XCTest
import PareCore
import PareRecipes
import Yams

/// Each job's settings table is the one place a setting is declared: YAML keys, flags, help,
/// range checks and fingerprints are read off it, and agree with each other.
final class SettingsTableTests: XCTestCase {
    /// The message a user sees on the command line.
    func cliMessage(_ body: () throws -> Void) -> String {
        do { try body(); return "" } catch { return RecipeError.message(error, naming: SettingName.flag) }
    }

    func testTheCommandLineReadsEveryFlagForm() throws {
        let d = try DistillJob(arguments: ["--teacher", "t.gguf", "--student=s", "--steps", "5", "--lr=0.001", "--resume",
                                           "--top-k-logits", "64", "--min-lr", "-1", "--lr-schedule", "constant"])
        XCTAssertEqual(d.teacher, "t.gguf"); XCTAssertEqual(d.student, "s")
        XCTAssertEqual(d.train.trainer.steps, 5); XCTAssertEqual(d.train.trainer.schedule.lr, 0.001)
        XCTAssertTrue(d.train.resume); XCTAssertEqual(d.topKLogits, 64)
        XCTAssertEqual(d.train.trainer.schedule.minLR, -1, "a negative value is read, so the range check can name it")
        XCTAssertEqual(d.train.trainer.schedule.kind, .constant)
        XCTAssertEqual(d.train.trainer.microBatchSize, TrainSettings().trainer.microBatchSize, "an absent flag keeps the default")
        let e = try EvalJob(arguments: ["--model", "a", "--model", "b", "--tasks", "piqa, boolq", "--no-perplexity", "--seq", "64"])
        XCTAssertEqual(e.model, ["a", "b"], "a repeated list flag adds to it")
        XCTAssertEqual(e.tasks, ["piqa", "boolq"]); XCTAssertFalse(e.perplexity); XCTAssertEqual(e.seqLength, 64, "--seq is --seq-length")
        let s = try PruneSearchJob(arguments: ["--data-train", "tr", "--data-val", "va", "--lr", "0.002", "--seq-length", "64"])
        XCTAssertEqual(s.distill.train.trainer.schedule.minLR, 0.0002, "prune search's --lr sets the floor too")
        XCTAssertEqual(s.distill.train.trainer.seqLength, 64, "its short distillations take the calibration's sequence length")
        XCTAssertEqual(s.calibration.calibrationData, "tr", "and calibrate on the training data unless told otherwise")
        XCTAssertEqual(s.distill.train.precision, "fp32")
        let bf = try PruneSearchJob(arguments: ["--data-train", "tr", "--data-val", "va", "--precision", "bf16"])
        XCTAssertEqual(bf.calibration.precision, "bf16")
        XCTAssertEqual(bf.distill.train.precision, "bf16", "--precision sets the short distillations' precision too")
        XCTAssertTrue(PruneSearchJob.settings.first { $0.key == "precision" }!.help.contains("short distillations"), "and its help says so")
    }

    func testIntermediateWeightIsASettingOfDistill() throws {
        let job = try DistillJob(arguments: ["--intermediate-loss", "cosine", "--intermediate-weight", "0.5"])
        XCTAssertEqual(job.intermediateWeight, 0.5)
        XCTAssertEqual(cliMessage { try DistillJob(arguments: ["--teacher", "t", "--student", "s", "--data-train", "d", "--output", "o", "--intermediate-weight", "0.5"]).validate() },
                       "--intermediate-weight needs --intermediate-loss (cosine or mse)")
        XCTAssertTrue(DistillJob.keys.contains("intermediate_weight"))
    }

    func testBadFlagsAreNamed() {
        XCTAssertEqual(cliMessage { _ = try FinetuneJob(arguments: ["--stpes", "3"]) }, "unknown option --stpes (did you mean --steps?); see --help")
        XCTAssertEqual(cliMessage { _ = try FinetuneJob(arguments: ["--steps", "abc"]) }, "--steps: expected a whole number, got \"abc\"")
        XCTAssertEqual(cliMessage { _ = try FinetuneJob(arguments: ["--steps"]) }, "--steps needs a value (<n>)")
        XCTAssertEqual(cliMessage { _ = try FinetuneJob(arguments: ["model.gguf"]) }, "unexpected argument \"model.gguf\"; settings are given as --name value (see --help)")
        XCTAssertEqual(cliMessage { _ = try FinetuneJob(arguments: ["--lr-schedule", "linear"]) }, "--lr-schedule: expected cosine or constant, got \"linear\"")
        XCTAssertEqual(cliMessage { try DistillJob(arguments: ["--teacher", "t", "--student", "s", "--data-train", "d", "--output", "o", "--kd-ratio", "2"]).validate() },
                       "--kd-ratio must be between 0 and 1, not 2.0")
        XCTAssertEqual(cliMessage { try FinetuneJob(arguments: ["--model", "m", "--data-train", "d", "--output", "o", "--steps", "0"]).validate() },
                       "--steps must be positive, not 0")
        XCTAssertEqual(cliMessage { _ = try EvalJob(arguments: ["--rescore", "--overwrite"]) }, "unknown option --overwrite; see --help",
                       "a flag of another command is not this one's")
    }

    /// Every table: keys and flags are unique, help lists every flag, and each setting's
    /// default, written as YAML and read back, is the default.
    func testEveryTableAgreesWithItself() throws {
        try check(PrepareJob.self); try check(TokenizeJob.self); try check(FinetuneJob.self); try check(CalibrationSettings.self)
        try check(DepthPruneJob.self); try check(WidthPruneJob.self); try check(PruneSearchJob.self); try check(DistillJob.self)
        try check(EvalJob.self); try check(ExportJob.self); try check(TrainSettings.self)
    }

    func check<J: JobSettings & Equatable>(_ type: J.Type, file: StaticString = #filePath, line: UInt = #line) throws {
        let names = J.settings.flatMap { [$0.key] + $0.aliases }
        XCTAssertEqual(Set(names).count, names.count, "\(J.self): a key or flag twice", file: file, line: line)
        let help = J.helpText()
        for s in J.settings { XCTAssertTrue(help.contains(String(s.flag.dropFirst(2))), "\(J.self): help lacks \(s.flag)", file: file, line: line) }
        // Every default, as a user would write it in YAML, reads back as the default.
        let d = J()
        let yaml = J.settings.filter(\.inFile).compactMap { s in s.jsonValue(in: d).map { "\(s.key): \($0)" } }.joined(separator: "\n")
        guard !yaml.isEmpty, let node = try Yams.compose(yaml: yaml), let m = node.mapping else { return }
        XCTAssertEqual(try J(yaml: m), d, "\(J.self): defaults written as YAML\n\(yaml)", file: file, line: line)
    }

    func testFingerprintsHoldWhatChangesTheOutput() throws {
        var d = DistillJob()
        d.teacher = "t"; d.student = "s"
        let json = d.fingerprintJSON
        for key in ["\"steps\":30", "\"kd_ratio\":1.0", "\"teacher\":\"t\"", "\"lr\":0.0001", "\"precision\":\"fp32\""] {
            XCTAssertTrue(json.contains(key), "\(key) in \(json)")
        }
        for key in ["log_interval", "save_top_k", "resume", "overwrite", "top_k_logits"] {
            XCTAssertFalse(json.contains("\"\(key)\""), "\(key) does not change the student, or is unset: \(json)")
        }
        d.train.trainer.logInterval = 7
        XCTAssertEqual(d.fingerprintJSON, json, "bookkeeping does not re-run a step")
        d.train.trainer.steps = 31
        XCTAssertNotEqual(d.fingerprintJSON, json)
        XCTAssertTrue(PruneSearchJob().fingerprintJSON.contains("\"distill\":{"), "the search's short distillations are part of it")
    }

    func testHelpShowsDefaultsAndLaysOutLikeArgumentParser() {
        let help = DistillJob.helpText()
        XCTAssertTrue(help.contains("  --kd-ratio <x>          Weight of the KD loss"), help)
        XCTAssertTrue(help.contains("(default 1.0)."), help)
        XCTAssertTrue(EvalJob.helpText().contains("--[no-]perplexity"))
        for line in help.split(separator: "\n") { XCTAssertLessThanOrEqual(line.utf8.count, 80, String(line)) }
    }
}
