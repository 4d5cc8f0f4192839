import Foundation
import PareCore

/// One job of the recipe, as the pipeline runs it.
public enum RecipeJob {
    case prepare(PrepareJob), tokenize(TokenizeJob), finetune(FinetuneJob)
    case pruneDepth(DepthPruneJob), pruneWidth(WidthPruneJob), pruneSearch(PruneSearchJob), distill(DistillJob), eval(EvalJob), report(ReportJob)

    /// The YAML section whose keys set it (for error messages).
    public var section: String {
        switch self {
        case .prepare, .tokenize: return "data"
        case .finetune: return "finetune"
        case .pruneDepth: return "prune.depth"
        case .pruneWidth: return "prune.width"
        case .pruneSearch: return "prune.search"
        case .distill: return "distill"
        case .eval: return "eval"
        case .report: return "report"
        }
    }

    public func validate() throws {
        switch self {
        case .prepare(let j): try j.validate()
        case .tokenize(let j): try j.validate()
        case .finetune(let j): try j.validate()
        case .pruneDepth(let j): try j.validate()
        case .pruneWidth(let j): try j.validate()
        case .pruneSearch(let j): try j.validate()
        case .distill(let j): try j.validate()
        case .eval(let j): try j.validate()
        case .report: break
        }
    }

    public func run(progress: Progress) throws {
        switch self {
        case .prepare(let j): try j.run(progress: progress)
        case .tokenize(let j): try j.run(progress: progress)
        case .finetune(let j): try j.run(progress: progress)
        case .pruneDepth(let j): try j.run(progress: progress)
        case .pruneWidth(let j): try j.run(progress: progress)
        case .pruneSearch(let j): try j.run(progress: progress)
        case .distill(let j): try j.run(progress: progress)
        case .eval(let j): try j.run(progress: progress)
        case .report(let j): try j.run(progress: progress)
        }
    }

    /// The folder a training job writes its run into (checkpoints, metrics), if it is one.
    var runFolder: String? {
        switch self {
        case .finetune(let j): return j.train.output
        case .distill(let j): return j.train.output
        case .pruneSearch(let j): return j.output   // its short distillations resume only under the same settings
        default: return nil
        }
    }

    /// The job's settings as canonical JSON (sorted keys): what the step's fingerprint hashes.
    public var canonicalJSON: String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        let data: Data?
        switch self {
        case .prepare(let j): data = try? enc.encode(j)
        case .tokenize(let j): data = try? enc.encode(j)
        case .finetune(let j): data = try? enc.encode(j)
        case .pruneDepth(let j): data = try? enc.encode(j)
        case .pruneWidth(let j): data = try? enc.encode(j)
        case .pruneSearch(let j): data = try? enc.encode(j)
        case .distill(let j): data = try? enc.encode(j)
        case .eval(let j): data = try? enc.encode(j)
        case .report(let j): data = try? enc.encode(j)
        }
        return "{\"\(section)\":" + String(decoding: data ?? Data(), as: UTF8.self) + "}"
    }
}

/// A step: a named job, the files whose content decides its result, and the file that
/// exists once it is complete.
public struct PipelineStep {
    public let name: String
    public let job: RecipeJob
    public let inputs: [String]
    public let output: String

    /// FNV-1a over the job's canonical JSON and the size and modification time of every
    /// input file (a folder: every regular file in it).
    public var fingerprint: String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ str: String) { for b in str.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }; h = (h ^ 0xff) &* 0x100_0000_01b3 }
        mix(job.canonicalJSON)
        let fm = FileManager.default
        for input in inputs {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: input, isDirectory: &isDir) else { mix(input + ":missing"); continue }
            let files = isDir.boolValue ? ((try? fm.contentsOfDirectory(atPath: input)) ?? []).sorted().map { input + "/" + $0 } : [input]
            for f in files {
                guard let a = try? fm.attributesOfItem(atPath: f), (a[.type] as? FileAttributeType) == .typeRegular else { continue }
                mix(f); mix("\((a[.size] as? Int) ?? 0)"); mix("\((a[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)")
            }
        }
        return String(h, radix: 16)
    }
}
