import Foundation
import PareCore

/// Element types a safetensors file may hold that Pare reads.
public enum SafetensorsDType: String, Sendable {
    case F32, F16, BF16, I32, I64, U8
    public var size: Int { switch self { case .F32, .I32: 4; case .F16, .BF16: 2; case .I64: 8; case .U8: 1 } }
}

public struct SafetensorsTensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafetensorsDType
    public let shape: [Int]
    public let begin: Int, end: Int   // byte range within the data buffer
    public var count: Int { shape.reduce(1, *) }
}

/// A safetensors file, memory-mapped: `u64 N`, N bytes of JSON header, then the data buffer.
/// Every offset is validated against the file size before any read.
public final class SafetensorsFile {
    public let path: String
    public let tensors: [String: SafetensorsTensorInfo]
    public let metadata: [String: String]
    let data: Data
    let dataStart: Int

    public init(path: String) throws {
        self.path = path
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw FormatError.io(path: path, message: "cannot read file (\(SystemErrorText.reason(error)))")
        }
        guard data.count >= 8 else { throw FormatError.corrupt(path: path, message: "shorter than the 8-byte header length") }
        let n = data.withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        guard n > 0, n <= data.count - 8, n < 100_000_000 else {
            throw FormatError.corrupt(path: path, message: "header length \(n) does not fit in a \(data.count)-byte file")
        }
        dataStart = 8 + n
        guard let json = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + n))) as? [String: Any] else {
            throw FormatError.corrupt(path: path, message: "header is not a JSON object")
        }
        var tensors: [String: SafetensorsTensorInfo] = [:]
        var metadata: [String: String] = [:]
        let bufferSize = data.count - dataStart
        for (name, value) in json {
            if name == "__metadata__" {
                guard let m = value as? [String: String] else { throw FormatError.corrupt(path: path, message: "__metadata__ must map strings to strings") }
                metadata = m
                continue
            }
            guard let d = value as? [String: Any], let dt = d["dtype"] as? String,
                  let shape = d["shape"] as? [Int], let offs = d["data_offsets"] as? [Int], offs.count == 2 else {
                throw FormatError.corrupt(path: path, message: "tensor \"\(name)\" lacks dtype, shape or data_offsets")
            }
            guard let dtype = SafetensorsDType(rawValue: dt) else {
                throw FormatError.unsupported(path: path, message: "tensor \"\(name)\" has dtype \(dt); Pare reads F32, F16, BF16, I32, I64 and U8")
            }
            guard shape.allSatisfy({ $0 >= 0 }), offs[0] >= 0, offs[0] <= offs[1], offs[1] <= bufferSize else {
                throw FormatError.corrupt(path: path, message: "tensor \"\(name)\" has data_offsets \(offs) outside the \(bufferSize)-byte data buffer")
            }
            let info = SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, begin: offs[0], end: offs[1])
            guard info.end - info.begin == info.count * dtype.size else {
                throw FormatError.corrupt(path: path, message: "tensor \"\(name)\" spans \(info.end - info.begin) bytes but shape \(shape) of \(dt) needs \(info.count * dtype.size)")
            }
            tensors[name] = info
        }
        self.tensors = tensors
        self.metadata = metadata
    }

    public func info(_ name: String) throws -> SafetensorsTensorInfo {
        guard let t = tensors[name] else { throw FormatError.missingTensor(path: path, name: name) }
        return t
    }

    /// The tensor converted to fp32 (F32, F16, BF16 and the integer types).
    public func floats(_ name: String) throws -> [Float] {
        let t = try info(name)
        var out = [Float](repeating: 0, count: t.count)
        try read(name, into: &out)
        return out
    }

    /// Writes the tensor as fp32 into `out`, which must hold exactly its element count.
    public func read(_ name: String, into out: UnsafeMutableBufferPointer<Float>) throws {
        let t = try info(name)
        guard out.count == t.count else {
            throw FormatError.corrupt(path: path, message: "tensor \"\(name)\" has \(t.count) elements, expected \(out.count)")
        }
        data.withUnsafeBytes { raw in
            let base = raw.baseAddress! + dataStart + t.begin
            switch t.dtype {
            case .F32: for i in 0..<t.count { out[i] = Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
            case .F16: for i in 0..<t.count { out[i] = Float(Float16(bitPattern: UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))) }
            case .BF16: for i in 0..<t.count { out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16) }
            case .I32: for i in 0..<t.count { out[i] = Float(Int32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))) }
            case .I64: for i in 0..<t.count { out[i] = Float(Int64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))) }
            case .U8: for i in 0..<t.count { out[i] = Float(base.load(fromByteOffset: i, as: UInt8.self)) }
            }
        }
    }

    public func read(_ name: String, into out: inout [Float]) throws {
        try out.withUnsafeMutableBufferPointer { try read(name, into: $0) }
    }

    /// A U8 tensor's raw bytes.
    public func bytes(_ name: String) throws -> [UInt8] {
        let t = try info(name)
        guard t.dtype == .U8 else { throw FormatError.unsupported(path: path, message: "tensor \"\(name)\" is \(t.dtype.rawValue), expected U8") }
        return data.withUnsafeBytes { Array(UnsafeRawBufferPointer(rebasing: $0[(dataStart + t.begin)..<(dataStart + t.end)])) }
    }

    /// An integer tensor (I32 or I64) as Int32 values.
    public func int32s(_ name: String) throws -> [Int32] {
        let t = try info(name)
        guard t.dtype == .I32 || t.dtype == .I64 else {
            throw FormatError.unsupported(path: path, message: "tensor \"\(name)\" is \(t.dtype.rawValue), expected an integer tensor (I32 or I64)")
        }
        return data.withUnsafeBytes { raw in
            let base = raw.baseAddress! + dataStart + t.begin
            return (0..<t.count).map { i in
                t.dtype == .I64 ? Int32(truncatingIfNeeded: Int64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
                    : Int32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))
            }
        }
    }
}
