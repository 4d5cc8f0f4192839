import Foundation
import XCTest
import PareCore
import PareFormats
import PareModel
import PareTrain

/// One PyTorch reference dump written by scripts/make_reference.py.
public struct Fixture {
    public let file: SafetensorsFile
    public let config: LlamaConfig
    public let B: Int, T: Int
    public let tokens: [Int32], targets: [Int32]

    public init(_ name: String) throws {
        file = try SafetensorsFile(path: try Fixture.url(name, "safetensors").path)
        config = try JSONDecoder().decode(LlamaConfig.self, from: Data(file.metadata["config"]!.utf8))
        let shape = try file.info("input_ids").shape
        B = shape[0]; T = shape[1]
        tokens = try file.int32s("input_ids")
        targets = try file.int32s("targets")
    }

    /// A model holding the fixture's weights.
    /// A committed fixture file (Tests/PareTestSupport/Fixtures/NAME.EXT).
    public static func url(_ name: String, _ ext: String) throws -> URL {
        guard let url = Bundle.module.url(forResource: name, withExtension: ext, subdirectory: "Fixtures") else {
            throw XCTSkip("fixture \(name).\(ext) missing: run the reference script that writes it (scripts/)")
        }
        return url
    }

    public func model() throws -> LlamaModel {
        let m = try LlamaModel(config: config)
        for e in m.layout.entries {
            try file.read("param." + e.name, into: m.parameter(e.name)!)
        }
        return m
    }

    public var adamw: [String: Double] {
        (try? JSONSerialization.jsonObject(with: Data(file.metadata["adamw"]!.utf8)) as? [String: Double]) ?? [:]
    }

    public static let names = ["tiny-untied", "tiny-tied", "tiny-llama3", "tiny-qwen2", "tiny-mistral", "tiny-qwen3", "tiny-qwen3-untied", "tiny-gemma3"]
}

/// A small random token dataset and the trainer settings the resume tests share: 6 steps of
/// 4 sequences × 16 tokens in micro-batches of 2, a checkpoint every 3 steps.
public enum ResumeSetup {
    public static func writeDataset(prefix: String) throws {
        var rng = RNG(seed: 1)
        let w = try IndexedDatasetWriter(prefix: prefix, tokenType: .uint16)
        for _ in 0..<30 { try w.add((0..<Int(8 + rng.next() % 30)).map { _ in Int32(rng.next() % 256) }) }
        try w.finish()
    }

    public static func config(steps: Int) -> TrainerConfig {
        var c = TrainerConfig(steps: steps, globalBatchSize: 4, microBatchSize: 2, seqLength: 16,
                              schedule: LRSchedule(lr: 2e-3, minLR: 2e-4, warmupSteps: 1, decaySteps: 6))
        c.valBatches = 0; c.checkpointInterval = 3
        return c
    }

    public static func stream(prefix: String) throws -> BlendedSampleStream {
        BlendedSampleStream(streams: [try GPTSampleStream(dataset: IndexedDataset(prefix: prefix), seqLength: 16, seed: 3)], weights: [1])
    }
}
