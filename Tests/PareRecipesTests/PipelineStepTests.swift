import Foundation
import XCTest
import PareRecipes

/// Step skipping and invalidation: a step runs when its output is missing, its settings
/// changed, or an input changed; everything downstream of a re-run step runs again.
final class PipelineStepTests: XCTestCase {
    let dir = NSTemporaryDirectory() + "pare-steps-\(getpid())"
    override func setUp() {
        try? FileManager.default.removeItem(atPath: dir)
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir + "/teacher.gguf", contents: Data("t".utf8))
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func pipeline(distillSteps: Int) throws -> Pipeline {
        try Pipeline(try PipelineConfig.parse("""
        run_dir: \(dir)/run
        teacher: \(dir)/teacher.gguf
        prune: {depth: {num_layers: 1}, width: {hidden_size: 8}}
        distill: {steps: \(distillSteps)}
        """))
    }

    /// Stands in for the jobs: writes each step's output with its settings inside, so a
    /// changed setting changes what the next steps read.
    func run(_ p: Pipeline) throws -> [String: Pipeline.StepState] {
        var ran: [String] = []
        let states = try p.run(progress: .silent) { step in
            ran.append(step.name)
            try FileManager.default.createDirectory(atPath: (step.output as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(step.job.canonicalJSON.utf8).write(to: URL(fileURLWithPath: step.output))
        }
        XCTAssertEqual(ran, zip(p.steps, states).filter { $0.1 == .ran }.map { $0.0.name })
        return Dictionary(uniqueKeysWithValues: zip(p.steps.map(\.name), states))
    }

    func testStepsRunOnceThenSkipAndRerunDownstreamOfAChange() throws {
        let names = ["prepare", "tokenize-train", "tokenize-val", "tokenize-test", "finetune", "prune-depth", "prune-width",
                     "distill-depth", "distill-width", "eval-val", "eval-test", "report"]
        let p = try pipeline(distillSteps: 30)
        XCTAssertEqual(p.steps.map(\.name), names)
        XCTAssert(try run(p).values.allSatisfy { $0 == .ran })
        XCTAssert(try run(p).values.allSatisfy { $0 == .upToDate }, "nothing changed: every step is skipped")

        // A changed distillation setting re-runs both distillations and what reads them.
        let changed = try run(try pipeline(distillSteps: 31))
        let rerun = Set(changed.filter { $0.value == .ran }.keys)
        XCTAssertEqual(rerun, ["distill-depth", "distill-width", "eval-val", "eval-test", "report"])

        // A removed output re-runs that step, and what reads it (a rewritten file is a new input).
        try FileManager.default.removeItem(atPath: "\(dir)/run/students/width/config.json")
        let again = try run(try pipeline(distillSteps: 31))
        XCTAssertEqual(Set(again.filter { $0.value == .ran }.keys), ["prune-width", "distill-width", "eval-val", "eval-test", "report"],
                       "a rewritten student changes the distillation's input")

        // A dry run says what would run and runs nothing.
        let dry = try pipeline(distillSteps: 32).run(progress: .silent, dryRun: true) { _ in XCTFail("dry run ran a step") }
        XCTAssertEqual(dry.filter { $0 == .wouldRun }.count, 5)
    }

    func testFingerprintsComeFromTheJobsSettings() throws {
        let a = try pipeline(distillSteps: 30), b = try pipeline(distillSteps: 31)
        for (x, y) in zip(a.steps, b.steps) {
            XCTAssertEqual(x.fingerprint == y.fingerprint, !x.name.hasPrefix("distill-"), x.name)
        }
        guard let d = a.steps[7].job as? DistillJob else { return XCTFail() }
        XCTAssertTrue(a.steps[7].job.canonicalJSON.contains("\"steps\":30"), a.steps[7].job.canonicalJSON)
        XCTAssertEqual(d.train.resume, true, "pipeline training steps resume from their checkpoints")
    }
}
