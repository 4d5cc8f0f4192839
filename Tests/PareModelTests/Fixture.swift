import Foundation
import XCTest
import PareCore
import PareFormats
import PareModel
import PareTrain

/// One PyTorch reference dump written by scripts/make_reference.py.
struct Fixture {
    let file: SafetensorsFile
    let config: LlamaConfig
    let B: Int, T: Int
    let tokens: [Int32], targets: [Int32]

    init(_ name: String) throws {
        guard let url = Bundle.module.url(forResource: name, withExtension: "safetensors", subdirectory: "Fixtures") else {
            throw XCTSkip("fixture \(name) missing: run scripts/make_reference.py")
        }
        file = try SafetensorsFile(path: url.path)
        config = try JSONDecoder().decode(LlamaConfig.self, from: Data(file.metadata["config"]!.utf8))
        let shape = try file.info("input_ids").shape
        B = shape[0]; T = shape[1]
        tokens = try file.int32s("input_ids")
        targets = try file.int32s("targets")
    }

    /// A model holding the fixture's weights.
    func model() throws -> LlamaModel {
        let m = try LlamaModel(config: config)
        for e in m.layout.entries {
            try file.read("param." + e.name, into: m.parameter(e.name)!)
        }
        return m
    }

    var adamw: [String: Double] {
        (try? JSONSerialization.jsonObject(with: Data(file.metadata["adamw"]!.utf8)) as? [String: Double]) ?? [:]
    }

    static let names = ["tiny-untied", "tiny-tied", "tiny-llama3"]
}

/// A small random token dataset and the trainer settings the resume tests share: 6 steps of
/// 4 sequences × 16 tokens in micro-batches of 2, a checkpoint every 3 steps.
enum ResumeSetup {
    static func writeDataset(prefix: String) throws {
        var rng = RNG(seed: 1)
        let w = try IndexedDatasetWriter(prefix: prefix, tokenType: .uint16)
        for _ in 0..<30 { try w.add((0..<Int(8 + rng.next() % 30)).map { _ in Int32(rng.next() % 256) }) }
        try w.finish()
    }

    static func config(steps: Int) -> TrainerConfig {
        var c = TrainerConfig(steps: steps, globalBatchSize: 4, microBatchSize: 2, seqLength: 16,
                              schedule: LRSchedule(lr: 2e-3, minLR: 2e-4, warmupSteps: 1, decaySteps: 6))
        c.valBatches = 0; c.checkpointInterval = 3
        return c
    }

    static func stream(prefix: String) throws -> BlendedSampleStream {
        BlendedSampleStream(streams: [try GPTSampleStream(dataset: IndexedDataset(prefix: prefix), seqLength: 16, seed: 3)], weights: [1])
    }
}
