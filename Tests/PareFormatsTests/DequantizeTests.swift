import Foundation
import XCTest
import PareFormats

/// Every supported block type against gguf-py's reference dequantiser
/// (scripts/dequant_reference.py).
final class DequantizeTests: XCTestCase {
    func testBlockTypesMatchGGUFPy() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "dequant-golden", withExtension: "safetensors", subdirectory: "Fixtures"))
        let f = try SafetensorsFile(path: url.path)
        let types: [GGMLType] = [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q6_K]
        for t in types {
            let bytes = try f.bytes("\(t.name).bytes")
            let want = try f.floats("\(t.name).values")
            XCTAssertEqual(bytes.count, t.byteCount(elements: want.count), t.name)
            var got = [Float](repeating: .nan, count: want.count)
            bytes.withUnsafeBytes { raw in
                got.withUnsafeMutableBufferPointer { Dequantize.row(t, src: raw.baseAddress!, dst: $0.baseAddress!, count: want.count) }
            }
            var worst: Float = 0
            for i in 0..<want.count { worst = max(worst, abs(got[i] - want[i]) / max(1, abs(want[i]))) }
            XCTAssertLessThanOrEqual(worst, 1e-6, "\(t.name): worst relative difference \(worst)")
        }
    }

    func testFloatTypes() {
        let values: [Float] = [0, -1.5, 3.140625, 65504, -2.5e-3]
        var half = values.map { Float16($0).bitPattern }
        var bf = values.map { SafetensorsWriter.bf16Bits($0) }
        var out = [Float](repeating: 0, count: values.count)
        half.withUnsafeMutableBytes { h in out.withUnsafeMutableBufferPointer { Dequantize.row(.f16, src: h.baseAddress!, dst: $0.baseAddress!, count: values.count) } }
        XCTAssertEqual(out, values.map { Float(Float16($0)) })
        bf.withUnsafeMutableBytes { h in out.withUnsafeMutableBufferPointer { Dequantize.row(.bf16, src: h.baseAddress!, dst: $0.baseAddress!, count: values.count) } }
        for (a, b) in zip(out, values) { XCTAssertEqual(a, b, accuracy: abs(b) / 128 + 1e-30) }
        XCTAssertEqual(SafetensorsWriter.bf16Bits(1.0), 0x3F80)
        XCTAssertEqual(SafetensorsWriter.bf16Bits(Float(bitPattern: 0x3F80_8000)), 0x3F80, "ties round to even")
        XCTAssertEqual(SafetensorsWriter.bf16Bits(Float(bitPattern: 0x3F81_8000)), 0x3F82, "ties round to even")
    }
}
