import Foundation
import XCTest
import PareCore
import PareFormats
import PareModel

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
