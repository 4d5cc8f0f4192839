import Foundation
import XCTest
import PareCore
import PareModel
import PareTrain

final class TimeBudgetTests: XCTestCase {
    let dir = NSTemporaryDirectory() + "pare-budget-\(getpid())"
    override func setUp() {
        Parallel.configure(threads: 2)
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func testDurationsParseAndNonsenseIsRefused() {
        XCTAssertEqual(TimeBudget.parse("45m"), 2700)
        XCTAssertEqual(TimeBudget.parse("1h30m"), 5400)
        XCTAssertEqual(TimeBudget.parse("1.5h"), 5400)
        XCTAssertEqual(TimeBudget.parse("90s"), 90)
        XCTAssertEqual(TimeBudget.parse("2700"), 2700)
        XCTAssertEqual(TimeBudget.parse("1h2m3s"), 3723)
        for bad in ["", "m", "45x", "-5", "0", "1h1h", "45m3", "inf", "nan"] { XCTAssertNil(TimeBudget.parse(bad), bad) }
    }

    func testTheCountFillsWhatIsLeftWithStepsAndValidations() {
        // 86 s left after the final validation; a step costs 2 s plus a fifth of a 4 s validation.
        XCTAssertEqual(TimeBudget.steps(budget: 100, elapsed: 10, done: 2, stepSeconds: 2, validationSeconds: 4, valInterval: 5), 2 + 30)
        XCTAssertEqual(TimeBudget.steps(budget: 100, elapsed: 10, done: 2, stepSeconds: 2, validationSeconds: 4, valInterval: 0), 2 + 43)
        XCTAssertEqual(TimeBudget.steps(budget: 5, elapsed: 10, done: 2, stepSeconds: 2, validationSeconds: 4, valInterval: 5), 2, "a spent budget ends the run")
        // Slow steps: the second step decides; fast ones are timed for 1% of the budget or 50 steps.
        XCTAssertTrue(TimeBudget.probeDone(timed: 1, seconds: 30, budget: 2700))
        XCTAssertFalse(TimeBudget.probeDone(timed: 10, seconds: 0.01, budget: 1.5))
        XCTAssertTrue(TimeBudget.probeDone(timed: 10, seconds: 0.02, budget: 1.5))
        XCTAssertTrue(TimeBudget.probeDone(timed: 50, seconds: 0.001, budget: 1.5))
        XCTAssertFalse(TimeBudget.probeDone(timed: 0, seconds: 100, budget: 1.5), "the first step is never timed")
    }

    func trainer(budget: Double, output: String, stopAfter: Int? = nil) throws -> Trainer {
        let model = try LlamaModel(config: TrainerTests.config)
        model.initializeRandom(seed: 3, std: 0.1)
        var c = TrainerConfig(steps: TimeBudget.undecided, globalBatchSize: 4, microBatchSize: 2, seqLength: 16,
                              schedule: LRSchedule(lr: 3e-3, minLR: 3e-4, warmupSteps: 2, decaySteps: TimeBudget.undecided))
        c.timeBudget = budget
        c.valBatches = 2; c.valInterval = 0; c.checkpointInterval = 0; c.logInterval = 1_000_000
        var steps = 0
        return try Trainer(model: model, tokenizer: nil, config: c, train: try TrainerTests.dataset(in: dir, "train", seed: 1),
                           val: try TrainerTests.dataset(in: dir, "val", seed: 2), output: output, log: MetricsLog(),
                           shouldStop: { steps += 1; return stopAfter.map { steps >= $0 } ?? false })
    }

    /// A budget fixes the step count after the first steps, decays the LR over exactly those
    /// steps, and the run takes about the budget.
    func testARunFillsItsBudgetAndDecaysOverIt() throws {
        let budget = 1.5
        let t = try trainer(budget: budget, output: dir + "/a")
        let t0 = ProcessInfoLite.now()
        try t.run(resume: false, saveFinalModel: false)
        let took = ProcessInfoLite.now() - t0
        XCTAssertGreaterThan(t.config.steps, TimeBudget.probeSteps * 10, "a tiny model takes many steps in 1.5 s")
        XCTAssertEqual(t.losses.count, t.config.steps)
        XCTAssertEqual(t.config.schedule.decaySteps, t.config.steps)
        XCTAssertEqual(t.config.schedule.rate(at: t.config.steps), 3e-4, accuracy: 1e-12, "the cosine ends at min_lr")
        XCTAssertGreaterThan(took, 0.4 * budget)
        XCTAssertLessThan(took, 3 * budget, "measured step times predict the run's length")
    }

    /// An interrupted budgeted run resumes with the count it fixed, not a new measurement.
    func testResumeKeepsTheFixedCount() throws {
        let a = try trainer(budget: 1.0, output: dir + "/b", stopAfter: 60)   // past the probe (at most 51 steps)
        XCTAssertThrowsError(try a.run(resume: false, saveFinalModel: false)) { e in
            guard case TrainingError.interrupted(let step, _) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(step, 60)
        }
        let fixed = a.config.steps
        XCTAssertNotEqual(fixed, TimeBudget.undecided)
        let b = try trainer(budget: 1.0, output: dir + "/b")
        try b.run(resume: true, saveFinalModel: false)
        XCTAssertEqual(b.config.steps, fixed)
        XCTAssertEqual(b.losses.count, fixed - 60)
        // Another budget is another run: refused by name, like any other changed setting.
        let c = try trainer(budget: 2.0, output: dir + "/b")
        XCTAssertThrowsError(try c.run(resume: true, saveFinalModel: false)) { e in
            XCTAssertTrue("\(e)".contains("time budget"), "\(e)")
        }
    }
}
