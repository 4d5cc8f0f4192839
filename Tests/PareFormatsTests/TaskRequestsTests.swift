import Foundation
import XCTest
import PareFormats

/// The task files: grouping requests into documents, choice order, the unconditional
/// requests skipped, LAMBADA's list label, and damaged or missing files named.
final class TaskRequestsTests: XCTestCase {
    let root = NSTemporaryDirectory() + "pare-tasks-\(getpid())"
    override func tearDown() { try? FileManager.default.removeItem(atPath: root) }

    func line(_ doc: Int, _ idx: Int, _ context: String, _ continuation: String, label: Any) -> String {
        let row: [String: Any] = ["doc_id": doc, "idx": idx, "label": label, "request": ["context": context, "continuation": continuation]]
        return String(decoding: try! JSONSerialization.data(withJSONObject: row, options: [.sortedKeys]), as: UTF8.self)
    }

    /// Writes TASK/VARIANT/{config.json, requests.jsonl.gz}; returns the .gz path.
    @discardableResult
    func write(_ task: String, _ lines: [String], variant: String = "rc_0shot", metric: String = "acc_per_char", uncond: Int? = 1_000_000) throws -> String {
        let dir = "\(root)/\(task)/\(variant)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var kwargs: [String: Any] = [:]
        if let u = uncond { kwargs["uncond_docid_offset"] = u }
        let config: [String: Any] = ["task_name": task, "task_config": ["primary_metric": metric, "num_shots": 0, "metric_kwargs": kwargs]]
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: dir + "/config.json"))
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/requests.jsonl", atomically: true, encoding: .utf8)
        let gz = Process()
        gz.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        gz.arguments = ["gzip", "-f", dir + "/requests.jsonl"]
        try gz.run(); gz.waitUntilExit()
        XCTAssertEqual(gz.terminationStatus, 0)
        return dir + "/requests.jsonl.gz"
    }

    func testDocumentsChoicesAndLabels() throws {
        try write("mc", [
            line(0, 1, "Q0", " b", label: 1), line(0, 0, "Q0", " a", label: 1),
            line(1_000_000, 0, "Answer:", " a", label: 1),   // unconditional: skipped
            line(1, 0, "Q1 ", "x", label: 0), line(1, 1, "Q1 ", "y", label: 0), line(1, 2, "Q1 ", "z", label: 0),
        ])
        let t = try TaskRequests.load(root: root, task: "mc", shots: 0)
        XCTAssertEqual(t.kind, .multipleChoice)
        XCTAssertEqual(t.primaryMetric, "acc_per_char")
        XCTAssertEqual(t.documents.map(\.id), [0, 1])
        XCTAssertEqual(t.documents[0].requests.map(\.continuation), [" a", " b"], "choices in idx order")
        XCTAssertEqual(t.documents.map(\.gold), [1, 0])
        XCTAssertEqual(t.documents[1].requests.count, 3)

        try write("lambada", [line(0, 0, "the cat sat on the", " mat", label: ["mat"])], variant: "bpb_0shot", metric: "logits_per_byte", uncond: nil)
        let l = try TaskRequests.load(root: root, task: "lambada", shots: 0)
        XCTAssertEqual(l.kind, .lastWord)
        XCTAssertEqual(l.documents.count, 1)
    }

    func testUnknownTasksVariantsAndDamagedFilesAreNamed() throws {
        let gz = try write("mc", [line(0, 0, "Q", " a", label: 0), line(0, 1, "Q", " b", label: 0)])
        func message(_ body: () throws -> Any) -> String {
            do { _ = try body(); return "no error" } catch let e as FormatError { return e.rawMessage } catch { return "\(error)" }
        }
        XCTAssertTrue(message { try TaskRequests.load(root: root, task: "hellaswagg", shots: 0) }.contains("no task named \"hellaswagg\"; the tasks are mc"))
        XCTAssertTrue(message { try TaskRequests.load(root: root, task: "mc", shots: 5) }.contains("mc has no 5-shot variant; it has 0-shot"))
        XCTAssertTrue(message { try TaskRequests.load(root: root + "/none", task: "mc", shots: 0) }.contains("run scripts/setup"))

        let packed = try Data(contentsOf: URL(fileURLWithPath: gz))
        try packed.prefix(packed.count / 2).write(to: URL(fileURLWithPath: gz))
        XCTAssertTrue(message { try TaskRequests.load(root: root, task: "mc", shots: 0) }.contains("ends early"))
        try Data("not gzip at all".utf8).write(to: URL(fileURLWithPath: gz))
        let m = message { try TaskRequests.load(root: root, task: "mc", shots: 0) }
        XCTAssertTrue(m.contains("not a valid gzip stream") && m.contains("requests.jsonl.gz"), m)

        try write("mc", [line(0, 0, "Q", " a", label: 0), "{\"doc_id\": 3, \"request\": {}}"])
        XCTAssertTrue(message { try TaskRequests.load(root: root, task: "mc", shots: 0) }.contains("line 2 is not a request"))
        try write("mc", [line(0, 0, "Q", " a", label: 4)])
        XCTAssertTrue(message { try TaskRequests.load(root: root, task: "mc", shots: 0) }.contains("document 0 has label 4 but 1 choices"))
    }
}
