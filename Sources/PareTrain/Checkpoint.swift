import Foundation
import PareCore
import PareFormats
import PareModel

/// The full training state: weights, Adam moments (state.safetensors, fp32) and the step,
/// data position and settings (trainer.json). A checkpoint is written into a temporary
/// folder and renamed, so a crash never leaves a half-written one.
public struct CheckpointInfo: Codable, Sendable {
    public var step: Int
    public var samplesConsumed: Int
    public var tokensSeen: Int
    public var valLoss: Double?
    public var elapsedSeconds: Double
    public var trainer: TrainerConfig
    public var model: LlamaConfig
    /// The divergence guard's batches skipped, rewinds and recent history; nil in checkpoints
    /// written before it existed.
    public var divergenceGuard: DivergenceGuard.State? = nil
}

public enum Checkpoint {
    public static func folder(_ root: String, step: Int) -> String { root + String(format: "/step-%07d", step) }

    public static func save(model: LlamaModel, optimizer: AdamW, auxiliary: [AuxiliaryParameter] = [], info: CheckpointInfo, root: String) throws -> String {
        let final = folder(root, step: info.step)
        let tmp = root + "/.tmp-step-\(info.step)-\(getpid())"
        try? FileManager.default.removeItem(atPath: tmp)
        do { try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true) }
        catch { throw FormatError.io(path: tmp, message: "cannot create the checkpoint folder (\(SystemErrorText.reason(error)))") }
        var entries: [SafetensorsWriter.Entry] = []
        for e in model.layout.entries {
            for (prefix, buf) in [("param.", model.params), ("adam_m.", optimizer.m), ("adam_v.", optimizer.v)] {
                entries.append(.init(name: prefix + e.name, shape: e.shape, data: UnsafeBufferPointer(start: buf.pointer + e.offset, count: e.count)))
            }
        }
        for a in auxiliary {
            for (prefix, buf) in [("aux.param.", a.values), ("aux.adam_m.", a.m), ("aux.adam_v.", a.v)] {
                entries.append(.init(name: prefix + a.name, shape: a.shape, data: UnsafeBufferPointer(start: buf.pointer, count: a.count)))
            }
        }
        do {
            try SafetensorsWriter.write(path: tmp + "/state.safetensors", tensors: entries, dtype: .F32, metadata: ["format": "pare-train-state"])
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFileWriter.write(try enc.encode(info), to: tmp + "/trainer.json")
            try? FileManager.default.removeItem(atPath: final)
            try FileManager.default.moveItem(atPath: tmp, toPath: final)
        } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            throw error
        }
        return final
    }

    /// Checkpoints under `root`, oldest step first.
    public static func list(_ root: String) -> [(path: String, info: CheckpointInfo)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return names.filter { $0.hasPrefix("step-") }.compactMap { n -> (String, CheckpointInfo)? in
            let p = root + "/" + n
            guard let d = FileManager.default.contents(atPath: p + "/trainer.json"),
                  let info = try? JSONDecoder().decode(CheckpointInfo.self, from: d) else { return nil }
            return (p, info)
        }.sorted { $0.1.step < $1.1.step }
    }

    public static func load(_ path: String, into model: LlamaModel, optimizer: AdamW, auxiliary: [AuxiliaryParameter] = []) throws -> CheckpointInfo {
        guard let d = FileManager.default.contents(atPath: path + "/trainer.json") else {
            throw FormatError.io(path: path + "/trainer.json", message: "cannot read the checkpoint's trainer.json")
        }
        let info: CheckpointInfo
        do { info = try JSONDecoder().decode(CheckpointInfo.self, from: d) }
        catch { throw FormatError.corrupt(path: path + "/trainer.json", message: "not a Pare checkpoint description") }
        guard info.model == model.config else { throw TrainingError.resumeMismatch("\(path) holds a different model shape") }
        let f = try SafetensorsFile(path: path + "/state.safetensors")
        for e in model.layout.entries {
            try f.read("param." + e.name, into: UnsafeMutableBufferPointer(start: model.params.pointer + e.offset, count: e.count))
            try f.read("adam_m." + e.name, into: UnsafeMutableBufferPointer(start: optimizer.m.pointer + e.offset, count: e.count))
            try f.read("adam_v." + e.name, into: UnsafeMutableBufferPointer(start: optimizer.v.pointer + e.offset, count: e.count))
        }
        for a in auxiliary {
            guard f.tensors["aux.param." + a.name] != nil else {
                throw TrainingError.resumeMismatch("\(path) has no \(a.name) (it was written without the intermediate-state loss); use the original settings or a new \(SettingName.ref("output"))")
            }
            for (prefix, buf) in [("aux.param.", a.values), ("aux.adam_m.", a.m), ("aux.adam_v.", a.v)] {
                try f.read(prefix + a.name, into: UnsafeMutableBufferPointer(start: buf.pointer, count: a.count))
            }
        }
        optimizer.restore(step: info.step)
        model.refreshLowPrecisionWeights()
        return info
    }

    /// Keeps the newest checkpoint (for resuming) and the `k` best: lowest validation loss
    /// first, then (for checkpoints without one, as in a run with no validation) the newest.
    public static func prune(_ root: String, keepBest k: Int) {
        let all = list(root)
        guard let newest = all.last else { return }
        let validated = all.filter { $0.info.valLoss != nil }.sorted { $0.info.valLoss! < $1.info.valLoss! }
        let unvalidated = all.filter { $0.info.valLoss == nil }.reversed()
        let best = (validated + unvalidated).prefix(k).map(\.path)
        for c in all where c.path != newest.path && !best.contains(c.path) {
            try? FileManager.default.removeItem(atPath: c.path)
        }
    }
}
