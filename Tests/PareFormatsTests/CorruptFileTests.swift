import Foundation
import XCTest
import PareCore
import PareFormats

/// Damaged files end in a FormatError naming the file — never a crash or an out-of-bounds
/// read. Each test builds a small valid file, then feeds the reader every truncation of its
/// header region and a few hundred random bit flips, and reads every tensor of any variant
/// that still parses.
final class CorruptFileTests: XCTestCase {
    let dir = NSTemporaryDirectory() + "pare-corrupt-\(getpid())"

    override func setUp() { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// A GGUF v3 with one metadata entry of each value type and two tensors (F32, Q8_0).
    static func smallGGUF() -> [UInt8] {
        var b: [UInt8] = []
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
        func str(_ s: String) { u64(UInt64(s.utf8.count)); b += Array(s.utf8) }
        b += Array("GGUF".utf8); u32(3); u64(2); u64(13)
        str("general.architecture"); u32(8); str("llama")
        str("k.u8"); u32(0); b.append(7)
        str("k.i8"); u32(1); b.append(0xFF)
        str("k.u16"); u32(2); b += [1, 2]
        str("k.i16"); u32(3); b += [3, 4]
        str("k.u32"); u32(4); u32(5)
        str("k.i32"); u32(5); u32(6)
        str("k.f32"); u32(6); u32(Float(1.5).bitPattern)
        str("k.bool"); u32(7); b.append(1)
        str("k.arr"); u32(9); u32(8); u64(2); str("a"); str("bc")
        str("k.u64"); u32(10); u64(9)
        str("k.i64"); u32(11); u64(10)
        str("k.f64"); u32(12); u64(Double(2.5).bitPattern)
        str("w.f32"); u32(2); u64(4); u64(2); u32(0); u64(0)              // 8 floats = 32 bytes
        str("w.q8"); u32(1); u64(32); u32(8); u64(32)                      // one Q8_0 block = 34 bytes
        while b.count % 32 != 0 { b.append(0) }
        for i in 0..<8 { u32(Float(i).bitPattern) }
        b += [0x00, 0x3C]                                                  // f16 1.0
        b += (0..<32).map { UInt8(truncatingIfNeeded: $0 - 16) }
        return b
    }

    func write(_ bytes: [UInt8], _ name: String) -> String {
        let p = dir + "/" + name
        FileManager.default.createFile(atPath: p, contents: Data(bytes))
        return p
    }

    func testValidSmallGGUFParses() throws {
        let g = try GGUFFile(path: write(CorruptFileTests.smallGGUF(), "ok.gguf"))
        XCTAssertEqual(g.metadata.count, 13)
        XCTAssertEqual(g.metadata["k.arr"]?.array?.compactMap(\.string), ["a", "bc"])
        XCTAssertEqual(g.metadata["k.f64"]?.double, 2.5)
        XCTAssertEqual(try g.floats("w.f32"), (0..<8).map(Float.init))
        XCTAssertEqual(try g.floats("w.q8"), (0..<32).map { Float($0 - 16) })
    }

    func testTruncatedFlippedAndWrongMagicGGUF() throws {
        let good = CorruptFileTests.smallGGUF()
        var errors = 0, parsed = 0
        func attempt(_ bytes: [UInt8], _ name: String) {
            let path = write(bytes, name)
            do {
                let g = try GGUFFile(path: path)
                parsed += 1
                for n in g.tensorNames { _ = try? g.floats(n) }   // reading must stay in bounds
            } catch let e as FormatError {
                errors += 1
                XCTAssert("\(e)".contains(path), "error should name the file: \(e)")
            } catch {
                XCTFail("unexpected error type \(error)")
            }
        }
        for n in 0..<good.count { attempt(Array(good[0..<n]), "trunc.gguf") }
        var rng = RNG(seed: 11)
        for _ in 0..<400 {
            var bad = good
            let i = Int(rng.next() % UInt64(bad.count))
            bad[i] ^= UInt8(1 << (rng.next() % 8))
            attempt(bad, "flip.gguf")
        }
        var magic = good; magic[0] = UInt8(ascii: "X")
        XCTAssertThrowsError(try GGUFFile(path: write(magic, "magic.gguf"))) { XCTAssert("\($0)".contains("not a GGUF file")) }
        var unknownType = good
        // The F32 tensor's type field: find "w.f32", skip name, n_dims, 2 dims.
        let at = CorruptFileTests.find(Array("w.f32".utf8), in: good)! + 5 + 4 + 16
        unknownType[at] = 99
        XCTAssertThrowsError(try GGUFFile(path: write(unknownType, "type.gguf"))) { XCTAssert("\($0)".contains("unknown ggml type 99")) }
        XCTAssertThrowsError(try GGUFFile(path: dir + "/missing.gguf")) { XCTAssert("\($0)".contains("cannot open")) }
        print("GGUF corruption: \(errors) variants rejected with an error, \(parsed) parsed (flips in data or free fields)")
        XCTAssertGreaterThan(errors, good.count / 2)
    }

    func testUnsupportedQuantTypeIsNamed() throws {
        var bytes = CorruptFileTests.smallGGUF()
        let at = CorruptFileTests.find(Array("w.q8".utf8), in: bytes)! + 4 + 4 + 8
        bytes[at] = UInt8(GGMLType.q3_K.rawValue)           // a known but unsupported type
        bytes[at - 8] = 0; bytes[at - 7] = 1                 // ne[0] = 256, one Q3_K block
        let g = try? GGUFFile(path: write(bytes, "q3k.gguf"))
        // Either the header is rejected (block runs past the end) or reading names the type.
        if let g { XCTAssertThrowsError(try g.floats("w.q8")) { XCTAssert("\($0)".contains("Q3_K"), "\($0)") } }
    }

    func testTruncatedAndFlippedSafetensors() throws {
        let values: [Float] = (0..<40).map { Float($0) * 0.5 }
        let good = dir + "/ok.safetensors"
        try values.withUnsafeBufferPointer { buf in
            try SafetensorsWriter.write(path: good, tensors: [
                .init(name: "a", shape: [4, 5], data: UnsafeBufferPointer(rebasing: buf[0..<20])),
                .init(name: "b", shape: [20], data: UnsafeBufferPointer(rebasing: buf[20..<40])),
            ], dtype: .F32, metadata: ["format": "pt"])
        }
        let f = try SafetensorsFile(path: good)
        XCTAssertEqual(try f.floats("a"), Array(values[0..<20]))
        XCTAssertEqual(try f.floats("b"), Array(values[20..<40]))
        XCTAssertEqual(f.metadata["format"], "pt")
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: good)))
        XCTAssertEqual((8 + Int(bytes[0]) + Int(bytes[1]) << 8) % 8, 0, "data must start 8-aligned")
        var errors = 0
        for n in 0..<bytes.count {
            let p = write(Array(bytes[0..<n]), "t.safetensors")
            do { let f = try SafetensorsFile(path: p); for k in f.tensors.keys { _ = try f.floats(k) } }
            catch let e as FormatError { errors += 1; XCTAssert("\(e)".contains(p)) }
        }
        var rng = RNG(seed: 5)
        for _ in 0..<300 {
            var bad = bytes
            bad[Int(rng.next() % UInt64(bad.count))] ^= UInt8(1 << (rng.next() % 8))
            let p = write(bad, "f.safetensors")
            do { let f = try SafetensorsFile(path: p); for k in f.tensors.keys { _ = try f.floats(k) } }
            catch is FormatError { errors += 1 }
        }
        XCTAssertGreaterThan(errors, bytes.count / 2)
    }

    static func find(_ needle: [UInt8], in hay: [UInt8]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        for i in 0...(hay.count - needle.count) where Array(hay[i..<i + needle.count]) == needle { return i }
        return nil
    }
}
