import Foundation

/// Writes safetensors files: u64 header length, JSON header padded with spaces so the data
/// starts 8-aligned, then the tensors back to back in the order given. fp32 tensors are
/// stored as F32 or BF16 (round to nearest even).
public enum SafetensorsWriter {
    public enum DType: String, Sendable { case F32, BF16 }

    public struct Entry {
        public let name: String
        public let shape: [Int]
        public let data: UnsafeBufferPointer<Float>
        public init(name: String, shape: [Int], data: UnsafeBufferPointer<Float>) {
            precondition(shape.reduce(1, *) == data.count, "\(name): shape \(shape) does not match \(data.count) values")
            self.name = name; self.shape = shape; self.data = data
        }
    }

    public static func write(path: String, tensors: [Entry], dtype: DType, metadata: [String: String] = [:]) throws {
        let size = dtype == .F32 ? 4 : 2
        // The header, in tensor order (JSONSerialization would reorder keys; build it by hand).
        var header = "{"
        if !metadata.isEmpty {
            let m = try JSONSerialization.data(withJSONObject: metadata, options: [.sortedKeys])
            header += "\"__metadata__\":" + String(decoding: m, as: UTF8.self) + ","
        }
        var offset = 0
        for (i, t) in tensors.enumerated() {
            let bytes = t.data.count * size
            header += JSONString.quoted(t.name) + ":{\"dtype\":\"\(dtype.rawValue)\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}"
            header += i + 1 < tensors.count ? "," : ""
            offset += bytes
        }
        header += "}"
        var headerBytes = Array(header.utf8)
        while (8 + headerBytes.count) % 8 != 0 { headerBytes.append(UInt8(ascii: " ")) }

        let w = try AtomicFileWriter(path: path)
        do {
            var n = UInt64(headerBytes.count).littleEndian
            try withUnsafeBytes(of: &n) { try w.write($0) }
            try headerBytes.withUnsafeBytes { try w.write($0) }
            for t in tensors {
                switch dtype {
                case .F32:
                    try w.write(UnsafeRawBufferPointer(t.data))
                case .BF16:
                    // Convert in chunks to bound memory.
                    var chunk = [UInt16](repeating: 0, count: 1 << 16)
                    var i = 0
                    while i < t.data.count {
                        let n = min(chunk.count, t.data.count - i)
                        for k in 0..<n { chunk[k] = bf16Bits(t.data[i + k]).littleEndian }
                        try chunk.withUnsafeBytes { try w.write(UnsafeRawBufferPointer(rebasing: $0[0..<(2 * n)])) }
                        i += n
                    }
                }
            }
            try w.commit()
        } catch {
            w.abort()
            throw error
        }
    }

    /// fp32 → bf16 bits, round to nearest even; NaN stays NaN.
    public static func bf16Bits(_ x: Float) -> UInt16 {
        if x.isNaN { return 0x7FC0 }
        let b = x.bitPattern
        return UInt16((b &+ 0x7FFF &+ ((b >> 16) & 1)) >> 16)
    }

}
