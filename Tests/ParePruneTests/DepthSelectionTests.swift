import Foundation
import XCTest
import PareTestSupport
import PareCore
import PareFormats
import PareModel
import ParePrune

/// The measured depth choice, by each metric, single layers and contiguous blocks.
final class DepthSelectionTests: XCTestCase {
    let dir = NSTemporaryDirectory() + "pare-depth-\(getpid())"
    override func setUp() {
        Parallel.configure(threads: 2)
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func testChooseTakesTheLowestScoresOrTheLowestBlock() {
        XCTAssertEqual(DepthSelection.choose(dropCount: 2, layerScores: [0.5, 0.1, 0.9, 0.2], blockScores: nil), [1, 3])
        XCTAssertEqual(DepthSelection.choose(dropCount: 2, layerScores: [0.3, 0.3, 0.3], blockScores: nil), [0, 1], "ties: lower index")
        XCTAssertEqual(DepthSelection.choose(dropCount: 2, layerScores: [0, 0, 0, 0], blockScores: [0.4, 0.7, 0.2]), [2, 3])
    }

    func calibration() throws -> Calibration {
        try ResumeSetup.writeDataset(prefix: dir + "/d")
        let stream = BlendedSampleStream(streams: [try GPTSampleStream(dataset: IndexedDataset(prefix: dir + "/d"), seqLength: 16, seed: 5)], weights: [1])
        return Calibration(stream: stream, samples: 6, batch: 4)
    }

    func testCosineMetricDropsTheLeastChangingLayers() throws {
        let m = try Fixture("tiny-llama3").model()
        let L = m.config.numHiddenLayers, cal = try calibration()
        for contiguous in [false, true] {
            let s = try DepthSelection.measure(m, keep: L - 1, metric: .cosine, contiguous: contiguous, calibration: cal)
            XCTAssertEqual(s.drop.count, 1)
            let cos = s.scores.layerCosine
            XCTAssertEqual(cos.count, L)
            XCTAssert(cos.allSatisfy { $0 > 0 && $0 < 2 }, "1 − cos is in (0, 2): \(cos)")
            let want = contiguous ? s.scores.blockCosine!.indices.min { s.scores.blockCosine![$0] < s.scores.blockCosine![$1] }!
                                  : cos.indices.min { cos[$0] < cos[$1] }!
            XCTAssertEqual(s.drop, [want], "contiguous \(contiguous)")
            XCTAssertNil(s.scores.layerLoss, "the cosine metric needs no skip passes")
            XCTAssertEqual(s.scores.baseLoss!, try cal.run(m), accuracy: 1e-9)
        }
        // A block of one layer is that layer: block and layer cosines agree.
        let s = try DepthSelection.measure(m, keep: L - 1, metric: .cosine, contiguous: true, calibration: cal)
        for l in 0..<L { XCTAssertEqual(s.scores.blockCosine![l], s.scores.layerCosine[l], accuracy: 1e-6) }
    }

    /// The task metric scores each candidate by the accuracy lost when it is skipped and drops
    /// the candidate that loses least; the scorer sees exactly the candidate sets.
    func testTaskMetricDropsWhatLosesTheLeastAccuracy() throws {
        let m = try Fixture("tiny-llama3").model()
        let L = m.config.numHiddenLayers, cal = try calibration()
        // A made-up task: each layer is worth `worth[l]` accuracy; layer L-2 is worth least.
        let worth = (0..<L).map { $0 == L - 2 ? 0.01 : 0.1 + 0.01 * Double($0) }
        var asked: [Set<Int>] = []
        let task = DepthTask(name: "made-up", documents: 10) { skip in
            asked.append(skip)
            return 0.9 - skip.reduce(0) { $0 + worth[$1] }
        }
        let single = try DepthSelection.measure(m, keep: L - 1, metric: .task, contiguous: false, calibration: cal, task: task)
        XCTAssertEqual(single.drop, [L - 2])
        XCTAssertEqual(asked, [[]] + (0..<L).map { [$0] }, "the base, then each layer once")
        for l in 0..<L { XCTAssertEqual(single.scores.layerTaskDrop![l], worth[l], accuracy: 1e-12) }
        XCTAssertEqual(single.scores.baseTaskAccuracy, 0.9)
        XCTAssertEqual(single.scores.task, "made-up")
        XCTAssertNil(single.scores.blockTaskDrop)

        asked = []
        // Contiguous: blocks of L − keep layers (1 here: the fixture has 2 layers).
        let block = try DepthSelection.measure(m, keep: L - 1, metric: .task, contiguous: true, calibration: cal, task: task)
        XCTAssertEqual(asked, [[]] + (0...(L - 1)).map { Set($0..<($0 + 1)) }, "the base, then each block")
        for l in 0..<L { XCTAssertEqual(block.scores.blockTaskDrop![l], worth[l], accuracy: 1e-12, "a block of one layer loses that layer's worth") }
        XCTAssertEqual(block.drop, [L - 2])
        XCTAssertNil(block.scores.layerTaskDrop)
        XCTAssertThrowsError(try DepthSelection.measure(m, keep: L - 1, metric: .task, contiguous: false, calibration: cal), "no task given")
    }

    func testLossMetricScoresEachLayerByTheLossWithoutIt() throws {
        let m = try Fixture("tiny-llama3").model()
        let L = m.config.numHiddenLayers, cal = try calibration()
        let skipLoss = try (0..<L).map { try cal.run(m, skipLayers: [$0]) }
        let single = try DepthSelection.measure(m, keep: L - 1, metric: .loss, contiguous: false, calibration: cal)
        for l in 0..<L { XCTAssertEqual(single.scores.layerLoss![l], skipLoss[l], accuracy: 1e-9) }
        XCTAssertEqual(single.drop, [skipLoss.indices.min { skipLoss[$0] < skipLoss[$1] }!])
        let block = try DepthSelection.measure(m, keep: 1, metric: .loss, contiguous: true, calibration: cal)
        let n = L - 1
        let blockLoss = try (0...(L - n)).map { s in try cal.run(m, skipLayers: Set(s..<(s + n))) }
        XCTAssertEqual(block.scores.blockLoss!, blockLoss)
        let start = blockLoss.indices.min { blockLoss[$0] < blockLoss[$1] }!
        XCTAssertEqual(block.drop, Set(start..<(start + n)))
    }

    func testKeepingAllOrNoLayersIsRefused() throws {
        let m = try Fixture("tiny-llama3").model()
        let cal = try calibration()
        for keep in [0, m.config.numHiddenLayers] {
            XCTAssertThrowsError(try DepthSelection.measure(m, keep: keep, metric: .cosine, contiguous: false, calibration: cal)) {
                XCTAssert("\($0)".contains("between 1 and"), "\($0)")
            }
        }
    }

    /// A task on which every candidate loses the same accuracy (0 everywhere on a tiny random
    /// model) cannot choose: the choice falls to cosine importance, and the selection says so,
    /// instead of silently dropping layer 0.
    func testATaskThatCannotSeparateTheCandidatesFallsBackToCosineAndSaysSo() throws {
        let m = try Fixture("tiny-llama3").model()
        let L = m.config.numHiddenLayers, cal = try calibration()
        let flat = DepthTask(name: "flat", documents: 3) { _ in 0 }
        for contiguous in [false, true] {
            let s = try DepthSelection.measure(m, keep: L - 1, metric: .task, contiguous: contiguous, calibration: cal, task: flat)
            let byCosine = try DepthSelection.measure(m, keep: L - 1, metric: .cosine, contiguous: contiguous, calibration: cal)
            XCTAssertEqual(s.drop, byCosine.drop, "contiguous \(contiguous)")
            XCTAssertNotEqual(byCosine.drop, [0], "the fixture must not pick layer 0 by cosine, or the test proves nothing")
            let note = try XCTUnwrap(s.tieNote)
            XCTAssertTrue(note.contains("task:flat (3 documents) cannot separate") && note.contains("all \(L) candidates") && note.contains("cosine"), note)
            XCTAssertNil(byCosine.tieNote)
        }
        // A tie only away from the cut decides nothing: no note.
        XCTAssertEqual(DepthSelection.tiedAtTheCut([0.1, 0.5, 0.5], pick: 1), 1)
        XCTAssertEqual(DepthSelection.tiedAtTheCut([0.1, 0.1, 0.5], pick: 1), 2)
        XCTAssertEqual(DepthSelection.choose(dropCount: 1, layerScores: [0.1, 0.1, 0.5], blockScores: nil, tieBreak: [0.9, 0.2, 0]), [1])
    }
}
