import PareCore
import PareModel

public enum DepthPruning {
    /// A model without the layers in `drop`: the kept layers' weights in their original order,
    /// embedding, final norm and head unchanged. ("Model surgery": new config, copy slices.)
    public static func prune(_ model: LlamaModel, drop: Set<Int>) throws -> LlamaModel {
        model.requireF32Matrices("prune")
        let L = model.config.numHiddenLayers
        guard drop.allSatisfy({ $0 >= 0 && $0 < L }) else {
            throw PruneError.invalid("layers to drop must be in 0...\(L - 1); got \(drop.sorted())")
        }
        guard drop.count < L else { throw PruneError.invalid("cannot drop all \(L) layers") }
        var config = model.config
        config.numHiddenLayers = L - drop.count
        let kept = (0..<L).filter { !drop.contains($0) }
        // Each kept layer keeps its type (Gemma 3's local or global), so the written
        // layer_types is the kept layers' and the model computes what the skipped one did.
        config.layerTypes = config.layerTypes.map { types in kept.map { types[$0] } }
        let out = try LlamaModel(config: config)
        for e in out.layout.entries {
            let src = sourceName(e.name, kept: kept)
            guard let from = model.layout.entry(src) else { preconditionFailure("no \(src) in the source model") }
            (out.params.pointer + e.offset).update(from: model.params.pointer + from.offset, count: e.count)
        }
        return out
    }

    /// "model.layers.3.x" in the pruned model ← "model.layers.kept[3].x" in the source.
    static func sourceName(_ name: String, kept: [Int]) -> String {
        let prefix = "model.layers."
        guard name.hasPrefix(prefix) else { return name }
        let rest = name.dropFirst(prefix.count)
        let dot = rest.firstIndex(of: ".")!
        return prefix + String(kept[Int(rest[..<dot])!]) + String(rest[dot...])
    }

    /// Parses "15-29", "3,5,7-9" into a set of layer indices.
    public static func parseLayers(_ spec: String) throws -> Set<Int> {
        var out = Set<Int>()
        for part in spec.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
            // omittingEmptySubsequences: false, so "-1" and "5-" are errors, not layer 1 and layer 5.
            let ends = part.split(separator: "-", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
            if ends.count == 1, let a = ends[0], a >= 0 { out.insert(a) }
            else if ends.count == 2, let a = ends[0], let b = ends[1], a >= 0, a <= b { out.formUnion(a...b) }
            else { throw PruneError.invalid("cannot read \"\(part)\" as a layer or range (e.g. 15-29 or 3,5,7-9)") }
        }
        return out
    }
}
