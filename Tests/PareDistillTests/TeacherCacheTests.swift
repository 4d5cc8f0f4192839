import Foundation
import XCTest
import PareTestSupport
import PareCore
import PareDistill
import PareFormats
import PareModel
import PareTrain

/// Distilling from a teacher cache is live top-k distillation, bit for bit.
final class TeacherCacheTests: XCTestCase {
    let dir = NSTemporaryDirectory() + "pare-teacher-cache-\(getpid())"
    override func setUp() {
        Parallel.configure(threads: 2)
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    let settings = KDSettings(topK: 8)

    func key(_ split: String, _ teacher: LlamaModel) -> TeacherCache.Key {
        TeacherCache.Key(split: split, teacher: teacher.contentHash, data: "test", seqLength: 16, microBatch: 2, topK: 8, vocab: teacher.config.vocabSize)
    }

    /// A bf16 teacher's logits differ from its fp32 ones, so its cache is another file; fp32
    /// keys keep the names caches written before the key had a precision.
    func testTheKeyCarriesTheTeachersPrecision() throws {
        let fp32 = TeacherCache.Key(split: "train", teacher: "abc", data: "d", seqLength: 16, microBatch: 2, topK: 8, vocab: 10)
        let bf16 = TeacherCache.Key(split: "train", teacher: "abc", data: "d", seqLength: 16, microBatch: 2, topK: 8, vocab: 10, precision: .bf16)
        XCTAssertNotEqual(fp32.name, bf16.name)
        XCTAssertEqual(bf16.precision, "bf16")
        let json = String(decoding: try JSONEncoder().encode(fp32), as: UTF8.self)
        XCTAssertFalse(json.contains("precision"), "an fp32 key encodes as before: \(json)")
    }

    /// A 6-step distillation of a narrower student, live or with the caches built for `cachedSteps`.
    func run(_ out: String, cachedSteps: Int?) throws -> (Trainer, Distiller) {
        let f = try Fixture("tiny-tied")
        var c = f.config
        c.hiddenSize = 48
        let student = try LlamaModel(config: c)
        student.initializeRandom(seed: 5, std: 0.08)
        let teacher = try f.model()
        var tc = ResumeSetup.config(steps: 6)
        tc.valBatches = 2
        let s = try ResumeSetup.stream(prefix: dir + "/d"), v = try ResumeSetup.stream(prefix: dir + "/v")
        var caches: (TeacherCache?, TeacherCache?) = (nil, nil)
        if let steps = cachedSteps {
            caches = (try TeacherCache.build(teacher: teacher, stream: s, samples: steps * 4, key: key("train", teacher), folder: out + "-cache"),
                      try TeacherCache.build(teacher: teacher, stream: v, samples: 4, key: key("val", teacher), folder: out + "-cache"))
        }
        let d = try Distiller(teacher: teacher, student: student, settings: settings, kdRatio: 1, microBatch: 2, seqLength: 16,
                              trainCache: caches.0, valCache: caches.1)
        let t = try Trainer(model: student, tokenizer: nil, config: tc, train: s, val: v, output: out, log: MetricsLog(), objective: d)
        try t.run(resume: false, saveFinalModel: false)
        return (t, d)
    }

    func testDistillingFromTheCacheEqualsLiveTopK() throws {
        try ResumeSetup.writeDataset(prefix: dir + "/d")
        try ResumeSetup.writeDataset(prefix: dir + "/v")
        let (live, _) = try run(dir + "/live", cachedSteps: nil)
        let (cached, d) = try run(dir + "/cached", cachedSteps: 6)
        XCTAssertEqual(d.cachedMicroBatches, 12); XCTAssertEqual(d.liveMicroBatches, 0)
        XCTAssertEqual(live.losses, cached.losses, "losses bit for bit")
        XCTAssertEqual(live.lastValLoss, cached.lastValLoss)
        XCTAssertTrue(memcmp(live.model.params.pointer, cached.model.params.pointer, 4 * live.model.params.count) == 0, "weights bit for bit")
        let v = try ResumeSetup.stream(prefix: dir + "/v")
        XCTAssertEqual(try d.validation(v, batches: 2, microBatch: 2, cache: d.valCache).kd, try d.validation(v, batches: 2, microBatch: 2).kd, "validation KD bit for bit")
        // A cache shorter than the run: the steps past it run the teacher live, with the same numbers.
        let (short, ds) = try run(dir + "/short", cachedSteps: 4)
        XCTAssertEqual(ds.cachedMicroBatches, 8); XCTAssertEqual(ds.liveMicroBatches, 4)
        XCTAssertEqual(live.losses, short.losses)
        print("teacher cache: 6 steps from the cache equal live top-8 distillation bit for bit: losses \(cached.losses.map { String(format: "%.6f", $0) })")
    }

    /// A build cut short continues from its last whole micro-batch, to the same bytes; a cache
    /// whose files were truncated afterwards is refused by name.
    func testAnInterruptedBuildContinuesToTheSameFiles() throws {
        try ResumeSetup.writeDataset(prefix: dir + "/d")
        let teacher = try Fixture("tiny-tied").model()
        let s = try ResumeSetup.stream(prefix: dir + "/d")
        let k = key("train", teacher), folder = dir + "/cache"
        _ = try TeacherCache.build(teacher: teacher, stream: s, samples: 8, key: k, folder: folder)
        let stem = folder + "/" + k.name
        let whole = try [".ids", ".logits"].map { try Data(contentsOf: URL(fileURLWithPath: stem + $0)) }
        // As if stopped after 3 samples (1.5 micro-batches) of 8: .partial files and no .json.
        for (ext, data) in zip([".ids", ".logits"], whole) {
            try FileManager.default.removeItem(atPath: stem + ext)
            try data.prefix(data.count * 3 / 8).write(to: URL(fileURLWithPath: stem + ext + ".partial"))
        }
        try FileManager.default.moveItem(atPath: stem + ".json", toPath: stem + ".json.partial")
        var firstProgress: Int? = nil
        _ = try TeacherCache.build(teacher: teacher, stream: s, samples: 8, key: k, folder: folder) { done, _ in if firstProgress == nil { firstProgress = done } }
        XCTAssertEqual(firstProgress, 2, "continues after the one whole micro-batch")
        for (ext, data) in zip([".ids", ".logits"], whole) { XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: stem + ext)), data, ext) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: stem + ".ids.partial"))
        // Truncated after completion: a clear error naming the file.
        try whole[0].prefix(100).write(to: URL(fileURLWithPath: stem + ".ids"))
        XCTAssertThrowsError(try TeacherCache.open(folder: folder, key: k, samples: 8)) { XCTAssert("\($0)".contains(stem + ".ids") && "\($0)".contains("rebuild"), "\($0)") }
    }

    /// Every id is range-checked when a cache is opened: a damaged file of the right size is
    /// refused by name instead of indexing past the student's logits.
    func testAnIdOutsideTheVocabularyIsRefusedByName() throws {
        try ResumeSetup.writeDataset(prefix: dir + "/d")
        let teacher = try Fixture("tiny-tied").model()
        let k = key("train", teacher), folder = dir + "/cache"
        _ = try TeacherCache.build(teacher: teacher, stream: try ResumeSetup.stream(prefix: dir + "/d"), samples: 4, key: k, folder: folder)
        let ids = folder + "/" + k.name + ".ids"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: ids))
        withUnsafeBytes(of: Int32(teacher.config.vocabSize + 7).littleEndian) { bytes.replaceSubrange(20..<24, with: $0) }
        try bytes.write(to: URL(fileURLWithPath: ids))
        XCTAssertThrowsError(try TeacherCache.open(folder: folder, key: k, samples: 4)) {
            XCTAssert("\($0)".contains(ids) && "\($0)".contains("entry 5, outside the \(teacher.config.vocabSize)-token vocabulary") && "\($0)".contains("rebuild"), "\($0)")
        }
        withUnsafeBytes(of: Int32(-1).littleEndian) { bytes.replaceSubrange(20..<24, with: $0) }
        try bytes.write(to: URL(fileURLWithPath: ids))
        XCTAssertThrowsError(try TeacherCache.open(folder: folder, key: k, samples: 4)) { XCTAssert("\($0)".contains("token id -1"), "\($0)") }
    }

    /// A run with more steps than the cache holds extends it in place, to the bytes a build of
    /// the longer run writes, and leaves no partial files (it once failed on `.ids.partial`).
    func testALongerRunExtendsTheCacheInPlace() throws {
        try ResumeSetup.writeDataset(prefix: dir + "/d")
        let teacher = try Fixture("tiny-tied").model()
        let s = try ResumeSetup.stream(prefix: dir + "/d"), k = key("train", teacher)
        _ = try TeacherCache.build(teacher: teacher, stream: s, samples: 8, key: k, folder: dir + "/whole")
        _ = try TeacherCache.build(teacher: teacher, stream: s, samples: 4, key: k, folder: dir + "/grown")
        var first: Int? = nil
        let grown = try TeacherCache.build(teacher: teacher, stream: s, samples: 8, key: k, folder: dir + "/grown") { done, _ in if first == nil { first = done } }
        XCTAssertEqual(first, 4, "continues after the 4 samples it had")
        XCTAssertEqual(grown.samples, 8)
        for ext in [".ids", ".logits"] {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/grown/" + k.name + ext)),
                           try Data(contentsOf: URL(fileURLWithPath: dir + "/whole/" + k.name + ext)), ext)
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: dir + "/grown").filter { $0.contains("partial") }
        XCTAssertEqual(left, [])
        // A shorter run reads the longer cache as it is.
        XCTAssertEqual(try TeacherCache.open(folder: dir + "/grown", key: k, samples: 4)?.samples, 8)
    }

    /// Two builders of one folder: the second waits for the first (told who holds it), then
    /// opens what the first built instead of writing the same partial files.
    func testASecondBuilderWaitsForTheFirst() throws {
        try ResumeSetup.writeDataset(prefix: dir + "/d")
        let teacher = try Fixture("tiny-tied").model()
        let k = key("train", teacher), folder = dir + "/shared"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let held = try RunLock(waitingFor: folder + "/build.lock") { _ in XCTFail("the lock was free") }
        let told = DispatchSemaphore(value: 0), finished = DispatchSemaphore(value: 0)
        final class Box: @unchecked Sendable { var message = ""; var samples = 0; var error: Error? }
        let box = Box()
        let s = try ResumeSetup.stream(prefix: dir + "/d")
        DispatchQueue.global().async {
            do {
                box.samples = try TeacherCache.build(teacher: teacher, stream: s, samples: 4, key: k, folder: folder,
                                                     waiting: { box.message = $0; told.signal() }).samples
            } catch { box.error = error }
            finished.signal()
        }
        XCTAssertEqual(told.wait(timeout: .now() + 30), .success, "the second builder was not told to wait")
        XCTAssertTrue(box.message.contains("PID \(getpid())") && box.message.contains("waiting"), box.message)
        XCTAssertEqual(finished.wait(timeout: .now() + 0.5), .timedOut, "it built while the folder was held")
        held.release()
        XCTAssertEqual(finished.wait(timeout: .now() + 60), .success)
        XCTAssertNil(box.error); XCTAssertEqual(box.samples, 4)
    }
}
