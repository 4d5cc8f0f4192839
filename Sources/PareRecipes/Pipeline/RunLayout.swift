/// Every path of a pipeline run, named once: the pipeline writes them, the report reads them.
///
///     RUN_DIR/data/{train,val,test}.jsonl, wiki_SPLIT_text_document.{bin,idx}
///     RUN_DIR/teacher-ft/            the fine-tuned teacher's run (model/ inside)
///     RUN_DIR/students/{depth,width} pruned students;  RUN_DIR/search/ (winner/ inside)
///     RUN_DIR/distill-STUDENT/       each student's distillation (model/ inside)
///     RUN_DIR/teacher-cache/         the teacher's top-k logits the distillations share
///     RUN_DIR/eval-{val,test}.json, report.md, plots/, .pipeline/ (step records)
public struct RunLayout {
    public let root: String
    public init(_ root: String) { self.root = root }

    /// The students a run can make, in report order.
    public static let students = ["depth", "width", "search"]

    public var data: String { root + "/data" }
    public func split(_ name: String) -> String { data + "/\(name).jsonl" }
    /// The indexed dataset of a split (a prefix, as `data_train` takes it).
    public func tokens(_ split: String) -> String { data + "/wiki_\(split)" }
    public var finetune: String { root + "/teacher-ft" }
    public var fineTunedTeacher: String { finetune + "/model" }
    public var search: String { root + "/search" }
    /// A pruned (not yet distilled) student.
    public func pruned(_ student: String) -> String { student == "search" ? search + "/winner" : root + "/students/\(student)" }
    public func distillation(_ student: String) -> String { root + "/distill-\(student)" }
    public func distilled(_ student: String) -> String { distillation(student) + "/model" }
    public var teacherCache: String { root + "/teacher-cache" }
    public func eval(_ split: String) -> String { root + "/eval-\(split).json" }
    public var report: String { root + "/report.md" }
    public var plots: String { root + "/plots" }
    public var stepRecords: String { root + "/.pipeline" }

    /// The report's name for a model of this run, by its path (which may spell the run
    /// folder otherwise, e.g. absolute: the part below it decides).
    public func label(of path: String) -> String {
        let named = [(fineTunedTeacher, "teacher (fine-tuned)")]
            + Self.students.flatMap { [(pruned($0), "\($0)-pruned"), (distilled($0), "\($0)-pruned + distilled")] }
        for (p, name) in named {
            let below = String(p.dropFirst(root.count))   // "/teacher-ft/model"
            if path == p || path.hasSuffix(below) { return name }
        }
        return path.hasSuffix(".gguf") ? "teacher (original)" : path
    }
}
