import Foundation
import XCTest
import PareTestSupport
import PareCore
import PareFormats
import PareModel
import ParePrune

final class PruningTests: XCTestCase {
    override func setUp() { Parallel.configure(threads: 2) }

    func testDroppingNoLayersIsTheIdentity() throws {
        let m = try Fixture("tiny-llama3").model()
        let p = try DepthPruning.prune(m, drop: [])
        XCTAssertEqual(p.config, m.config)
        XCTAssertEqual(p.params.toArray(), m.params.toArray())
    }

    /// A depth-pruned model gives exactly the logits of the original with those layers skipped.
    func testDroppedLayersEqualSkippedLayers() throws {
        let f = try Fixture("tiny-untied")
        var config = f.config
        config.numHiddenLayers = 4
        let m = try LlamaModel(config: config)
        m.initializeRandom(seed: 5, std: 0.1)
        for drop in [Set([1]), Set([0, 3]), Set([1, 2])] {
            let p = try DepthPruning.prune(m, drop: drop)
            XCTAssertEqual(p.config.numHiddenLayers, 4 - drop.count)
            let a = try p.logits(tokens: f.tokens, B: f.B, T: f.T)
            let b = try m.logits(tokens: f.tokens, B: f.B, T: f.T, skipLayers: drop)
            XCTAssertEqual(a, b, "drop \(drop.sorted())")
        }
        XCTAssertEqual(try DepthPruning.parseLayers("15-29"), Set(15...29))
        XCTAssertEqual(try DepthPruning.parseLayers("3,5,7-9"), [3, 5, 7, 8, 9])
        XCTAssertThrowsError(try DepthPruning.parseLayers("9-7"))
        XCTAssertThrowsError(try DepthPruning.prune(m, drop: [4]))
    }

    /// Width-pruning to the model's own sizes (every channel kept) reproduces it bit for bit.
    func testWidthPruningToOwnSizesIsTheIdentity() throws {
        for name in Fixture.names {
            let f = try Fixture(name)
            let m = try f.model()
            let p = try WidthPruning.prune(m, plan: WidthPruning.identityPlan(m.config))
            XCTAssertEqual(p.params.toArray(), m.params.toArray(), name)
            XCTAssertEqual(try p.logits(tokens: f.tokens, B: f.B, T: f.T), try m.logits(tokens: f.tokens, B: f.B, T: f.T), name)
        }
    }

    /// Scores from Pare's forward pass equal NumPy's from PyTorch activations
    /// (scripts/importance_reference.py).
    func testImportanceScoresMatchNumPyReference() throws {
        let f = try Fixture("tiny-llama3")
        let m = try f.model()
        let url = try Fixture.url("importance-tiny", "safetensors")
        let ref = try SafetensorsFile(path: url.path)
        let ids = try ref.int32s("input_ids")
        let B = 3, T = ids.count / 3
        for act in MLPActivation.allCases {
            let c = ImportanceCollector(config: m.config, mlpActivation: act, blockSize: 2)
            let acts = Activations(config: m.config, B: B, T: T)
            let targets = [Int32](repeating: 0, count: ids.count)
            _ = try ids.withUnsafeBufferPointer { t in try targets.withUnsafeBufferPointer { try m.loss(tokens: t.baseAddress!, targets: $0.baseAddress!, acts: acts, observer: c) } }
            for agg in Aggregation.allCases {
                let s = c.scores(agg)
                let tol: Float = agg == .variance ? 1e-5 : 1e-4
                assertClose(s.mlp.flatMap { $0 }.map(Float.init), try ref.floats("\(agg.rawValue).\(act == .gate ? "mlp_gate" : "mlp")"), atol: tol, rtol: 1e-4, "\(agg) mlp (\(act))")
                assertClose(s.heads.flatMap { $0 }.map(Float.init), try ref.floats("\(agg.rawValue).heads"), atol: tol, rtol: 1e-4, "\(agg) heads")
                assertClose(s.hidden.map(Float.init), try ref.floats("\(agg.rawValue).hidden"), atol: tol, rtol: 1e-4, "\(agg) hidden")
            }
            let s = c.scores(.l2)
            assertClose(s.layerCosine.map(Float.init), try ref.floats("layer_cosine"), atol: 1e-5, rtol: 1e-4, "layer cosine")
            assertClose(s.blockCosine!.map(Float.init), try ref.floats("block_cosine"), atol: 1e-5, rtol: 1e-4, "block cosine")
        }
    }

    func testWidthTargetsAreValidatedAndApplied() throws {
        let f = try Fixture("tiny-llama3")   // hidden 64, MLP 160, 4 heads in 2 groups, head_dim 16, biases
        let m = try f.model()
        let c = m.config
        // This fixture's widths are below llama.cpp's blocks: only transformers' rules apply here.
        func targets(_ h: Int? = nil, _ ffn: Int? = nil, _ heads: Int? = nil, _ groups: Int? = nil) -> WidthPlan.Targets {
            WidthPlan.Targets(hiddenSize: h, ffnHiddenSize: ffn, numAttentionHeads: heads, numQueryGroups: groups, exportType: nil)
        }
        XCTAssertThrowsError(try targets(128).resolve(c)) { XCTAssert("\($0)".contains("--hidden-size 128")) }
        XCTAssertThrowsError(try targets(60).resolve(c)) { XCTAssert("\($0)".contains("multiple of 8")) }
        XCTAssertThrowsError(try targets(nil, nil, 3, 2).resolve(c)) { XCTAssert("\($0)".contains("divisible")) }
        XCTAssertThrowsError(try targets(nil, nil, 4, 1).resolve(c)) { XCTAssert("\($0)".contains("per group")) }
        // Prune every axis; the result is a valid smaller Llama that runs, with explicit head_dim.
        let collector = ImportanceCollector(config: c)
        let acts = Activations(config: c, B: f.B, T: f.T)
        _ = try f.tokens.withUnsafeBufferPointer { t in try f.targets.withUnsafeBufferPointer { try m.loss(tokens: t.baseAddress!, targets: $0.baseAddress!, acts: acts, observer: collector) } }
        let plan = try WidthPlan.select(collector.scores(.l2), config: c, targets: targets(48, 96, 2, 1))
        let p = try WidthPruning.prune(m, plan: plan)
        XCTAssertEqual([p.config.hiddenSize, p.config.intermediateSize, p.config.numAttentionHeads, p.config.numKeyValueHeads, p.config.headDim], [48, 96, 2, 1, 16])
        XCTAssertEqual(plan.heads[0].count, 2)
        XCTAssertTrue(plan.heads[0].allSatisfy { $0 / 2 == plan.groups[0][0] }, "query heads come from the kept group")
        let logits = try p.logits(tokens: f.tokens, B: f.B, T: f.T)
        XCTAssertTrue(logits.allSatisfy(\.isFinite))
        // Pruned weights are exact slices of the original.
        let q = p.parameter("model.layers.0.self_attn.q_proj.weight")!, q0 = m.parameter("model.layers.0.self_attn.q_proj.weight")!
        let h = plan.heads[0][0], col = plan.hidden[0]
        XCTAssertEqual(q[0], q0[(h * 16) * 64 + col])
    }

    /// Targets that current transformers or llama.cpp would refuse are refused before any work,
    /// with the loadable sizes next to them (SmolLM2-135M: hidden 576, 9 heads in 3 groups).
    func testWidthTargetsThatWouldNotLoadElsewhereAreRefusedWithLoadableSizes() throws {
        let smol = LlamaConfig.presets["smollm2-135m"]!
        func message(_ t: WidthPlan.Targets, _ c: LlamaConfig) -> String {
            do { _ = try t.resolve(c); return "" } catch { return "\(error)" }
        }
        // transformers 5: hidden % heads == 0 (the demo's old 384 with 9 heads).
        let m = message(.init(hiddenSize: 384, ffnHiddenSize: 1024), smol)
        XCTAssert(m.contains("hidden_size % num_attention_heads"), m)
        XCTAssert(m.contains("--hidden-size 288 or 576"), m)   // multiples of 9 heads and of 32
        XCTAssert(m.contains("--num-attention-heads 6 with --num-query-groups 2|3"), m)
        XCTAssertEqual(try WidthPlan.Targets(hiddenSize: 384, ffnHiddenSize: 1024, numAttentionHeads: 6, numQueryGroups: 2).resolve(smol).0, 384)
        // llama.cpp quantizes in blocks of 32: MLP rows of 1000 values are not whole blocks.
        let q = message(.init(ffnHiddenSize: 1000), smol)
        XCTAssert(q.contains("intermediate_size 1000 is not a multiple of 32"), q)
        XCTAssert(q.contains("--ffn-hidden-size 992 or 1024"), q)
        XCTAssert(q.contains("--export-type f16"), q)
        XCTAssertNoThrow(try WidthPlan.Targets(hiddenSize: 360, ffnHiddenSize: 1000, exportType: .f16).resolve(smol))
        XCTAssertNoThrow(try WidthPlan.Targets(hiddenSize: 360, ffnHiddenSize: 1000, exportType: nil).resolve(smol))
        // Qwen2's biased q projection: llama.cpp needs heads × head_dim == hidden.
        let qwen = LlamaConfig.presets["qwen2.5-0.5b"]!   // hidden 896, 14 heads × 64 in 2 groups
        let w = message(.init(hiddenSize: 640), qwen)
        XCTAssert(w.contains("heads × head_dim = 14 × 64 = 896 ≠ hidden_size 640"), w)
        XCTAssert(w.contains("--num-attention-heads 10 with --num-query-groups 2"), w)
        XCTAssertNoThrow(try WidthPlan.Targets(hiddenSize: 640, exportType: nil).resolve(qwen), "transformers' Qwen2 config has no such rule")
    }
}
