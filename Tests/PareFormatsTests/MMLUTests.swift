import Foundation
import XCTest
import PareCore
import PareFormats
import PareTestSupport

/// MMLU's prompts against scripts/mmlu_reference.py (lm-eval-harness's template written in
/// Python over pyarrow's reading), the subjects and limits, and mistakes named.
final class MMLUTests: XCTestCase {
    /// The first two test prompts of four subjects, 0- and 5-shot, equal the reference's
    /// character for character: passages of several lines (high_school_european_history),
    /// and questions with whitespace to strip (formal_logic's dev examples, college_medicine's
    /// first test question).
    func testPromptsEqualTheReference() throws {
        let root = try Assets.mmlu
        let url = try XCTUnwrap(Bundle.module.url(forResource: "mmlu-prompts", withExtension: "json", subdirectory: "Fixtures"))
        let golden = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let prompts = try XCTUnwrap(golden["prompts"] as? [String: [String: [[String: Any]]]])
        XCTAssertEqual(Set(prompts.keys), ["0", "5"])
        for (shots, subjects) in prompts {
            XCTAssertEqual(subjects.count, 4)
            for (subject, want) in subjects {
                let t = try MMLU.load(root: root, task: "mmlu_" + subject, shots: Int(shots)!)
                XCTAssertEqual(t.subtasks, [subject])
                XCTAssertEqual(t.variant, "\(shots)-shot")
                for (i, w) in want.enumerated() {
                    let d = t.documents[i]
                    XCTAssertEqual(d.requests.map(\.continuation), [" A", " B", " C", " D"])
                    for r in d.requests { XCTAssertEqual(r.context, w["prompt"] as? String, "\(subject) \(shots)-shot question \(i)") }
                    XCTAssertEqual(d.gold, w["gold"] as? Int, "\(subject) question \(i)")
                }
            }
        }
    }

    /// `mmlu` is every subject's test split (14,042 questions); `limit` counts per subject.
    func testAllSubjectsAndLimitsPerSubject() throws {
        let root = try Assets.mmlu
        let t = try MMLU.load(root: root, task: "mmlu", shots: 0)
        XCTAssertEqual(t.subtasks.count, 57)
        XCTAssertEqual(t.documents.count, 14_042)
        XCTAssertEqual(t.documents.map(\.id), Array(0..<14_042), "ids run across subjects, so an error names one question")
        XCTAssertEqual(t.primaryMetric, "acc")
        XCTAssertFalse(t.reportsNormalized)
        let three = t.documents(limit: 3)
        XCTAssertEqual(three.count, 57 * 3)
        XCTAssertEqual(Dictionary(grouping: three, by: \.subtask).mapValues(\.count), Dictionary(uniqueKeysWithValues: (0..<57).map { ($0, 3) }))
        XCTAssertEqual(three.prefix(3).map(\.id), [0, 1, 2])
        // abstract_algebra has 100 test questions, so anatomy's start at 100.
        XCTAssertEqual(three[3].id, 100)
        XCTAssertTrue(three[3].requests[0].context.hasPrefix("The following are multiple choice questions (with answers) about anatomy.\n\n"))
        // The content hash follows the shots and the files.
        XCTAssertNotEqual(try MMLU.load(root: root, task: "mmlu_anatomy", shots: 0).contentHash,
                          try MMLU.load(root: root, task: "mmlu_anatomy", shots: 5).contentHash)
        let library = TaskLibrary(requestsRoot: root + "/none", mmluRoot: root)
        XCTAssertEqual(try library.load("mmlu_anatomy", shots: nil).shots, 5, "MMLU's default is 5-shot, as papers report it")
        XCTAssertNoThrow(try library.check("mmlu", shots: 0))
    }

    func testMistakesNameTheSubjectOrShots() throws {
        let root = try Assets.mmlu
        func message(_ f: () throws -> Void) -> String {
            do { try f(); return "" } catch { return "\(error)" }
        }
        XCTAssertTrue(message { _ = try MMLU.load(root: root, task: "mmlu_anatomyy", shots: 0) }.contains("no MMLU subject \"anatomyy\" (did you mean mmlu_anatomy?)"))
        XCTAssertTrue(message { _ = try MMLU.load(root: root, task: "mmlu_anatomy", shots: 7) }.contains("MMLU takes 0 to 5 examples"))
        XCTAssertTrue(message { _ = try MMLU.load(root: root + "/none", task: "mmlu", shots: 0) }.contains("run scripts/setup"))
        let library = TaskLibrary(requestsRoot: root + "/none", mmluRoot: root)
        XCTAssertTrue(message { try library.check("mmlu_astronmy", shots: 0) }.contains("did you mean mmlu_astronomy?"))
    }
}
