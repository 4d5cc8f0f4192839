import Foundation
import PareCore

/// One job of the recipe, as the pipeline runs it.
public protocol RecipeJob {
    /// The YAML section whose keys set it (for error messages).
    static var section: String { get }
    func validate() throws
    /// Runs the job to the end (its result is in the files it writes).
    func runStep(progress: Progress) throws
    /// The folder a training job writes its run into (checkpoints, metrics), if it is one.
    var runFolder: String? { get }
    /// The settings that decide its output, as canonical JSON.
    var fingerprintJSON: String { get }
}

extension RecipeJob {
    public var runFolder: String? { nil }
    public var section: String { Self.section }
    /// What the step's fingerprint hashes.
    public var canonicalJSON: String { "{\"\(section)\":" + fingerprintJSON + "}" }
}

/// A step: a named job, the files whose content decides its result, and the file that
/// exists once it is complete.
public struct PipelineStep {
    public let name: String
    public let job: any RecipeJob
    public let inputs: [String]
    public let output: String

    /// FNV-1a over the job's canonical JSON and the size and modification time of every
    /// input file (a folder: every regular file in it).
    public var fingerprint: String {
        var h = FNV1a()
        func mix(_ str: String) { h.mix(str.utf8); h.mix(0xff) }
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
        return h.hex
    }
}
