/// One tensor's entry in a GGUF file.
public struct GGUFTensorInfo: Sendable {
    public let name: String
    /// ggml order: ne[0] is the contiguous axis. The PyTorch shape is `ne` reversed.
    public let ne: [Int]
    public let type: GGMLType
    public let offset: Int          // relative to the data section
    public var count: Int { ne.reduce(1, *) }
    public var torchShape: [Int] { ne.reversed() }
    public var byteCount: Int { type.byteCount(elements: count) }
}

/// A GGUF file (version 2 or 3), memory-mapped: header, metadata, tensor infos, and
/// dequantised access to tensor data. Every count and offset is checked against the file
/// size before use, so a truncated or bit-flipped file fails with an error naming it.
public final class GGUFFile {
    public let path: String
    public let version: UInt32
    public let metadata: [String: GGUFValue]
    public let tensors: [String: GGUFTensorInfo]
    public let tensorNames: [String]     // file order
    public let alignment: Int
    public let dataStart: Int
    let file: MappedFile

    public init(path: String) throws {
        self.path = path
        let file = try MappedFile(path: path)
        self.file = file
        var c = ByteCursor(file)
        try c.need(4, "magic")
        let magic = (0..<4).map { file.base.load(fromByteOffset: $0, as: UInt8.self) }
        guard magic == Array("GGUF".utf8) else {
            let hex = magic.map { String(format2: $0) }.joined()
            throw FormatError.corrupt(path: path, message: "not a GGUF file (magic bytes \(hex) instead of \"GGUF\")")
        }
        c.offset = 4
        version = try c.read(UInt32.self, "version")
        guard version == 2 || version == 3 else {
            throw FormatError.unsupported(path: path, message: "GGUF version \(version); Pare reads versions 2 and 3")
        }
        let tensorCount = try c.read(UInt64.self, "tensor count")
        let kvCount = try c.read(UInt64.self, "metadata count")
        // Each metadata entry and tensor info takes at least 8+1 bytes: reject absurd counts early.
        guard kvCount <= UInt64(c.remaining / 12), tensorCount <= UInt64(c.remaining / 24) else {
            throw c.corrupt("header claims \(kvCount) metadata entries and \(tensorCount) tensors, more than the file can hold")
        }
        var metadata: [String: GGUFValue] = [:]
        for _ in 0..<Int(kvCount) {
            let key = try c.readString("metadata key")
            let type = try c.read(UInt32.self, "type of \(key)")
            metadata[key] = try GGUFFile.readValue(&c, type: type, key: key, depth: 0)
        }
        self.metadata = metadata
        let align = metadata["general.alignment"]?.int ?? 32
        guard align > 0, align & (align - 1) == 0 else { throw FormatError.corrupt(path: path, message: "general.alignment \(align) is not a power of two") }
        alignment = align

        var infos: [String: GGUFTensorInfo] = [:]
        var names: [String] = []
        for _ in 0..<Int(tensorCount) {
            let name = try c.readString("tensor name")
            let nDims = try c.read(UInt32.self, "dimension count of \(name)")
            guard (1...4).contains(nDims) else { throw c.corrupt("tensor \"\(name)\" has \(nDims) dimensions (1–4 allowed)") }
            var ne: [Int] = []
            for _ in 0..<nDims {
                let n = try c.read(UInt64.self, "shape of \(name)")
                guard n > 0, n < 1 << 40 else { throw c.corrupt("tensor \"\(name)\" has dimension \(n)") }
                ne.append(Int(n))
            }
            let rawType = try c.read(UInt32.self, "type of \(name)")
            guard let type = GGMLType(rawValue: rawType) else {
                throw FormatError.unsupported(path: path, message: "tensor \"\(name)\" has unknown ggml type \(rawType); this file may need a newer reader")
            }
            let offset = try c.read(UInt64.self, "offset of \(name)")
            let (count, overflow) = ne.reduce((1, false)) { acc, n in
                let (p, o) = acc.0.multipliedReportingOverflow(by: n); return (p, acc.1 || o)
            }
            guard !overflow, count < 1 << 40 else { throw c.corrupt("tensor \"\(name)\" has an impossible element count") }
            guard ne[0] % type.block.elements == 0 else {
                throw c.corrupt("tensor \"\(name)\" row length \(ne[0]) is not a multiple of \(type.name)'s block of \(type.block.elements)")
            }
            guard offset < UInt64(file.count), Int(offset) % align == 0 else {
                throw c.corrupt("tensor \"\(name)\" has data offset \(offset), outside the file or not aligned to \(align)")
            }
            guard infos[name] == nil else { throw c.corrupt("tensor \"\(name)\" appears twice") }
            infos[name] = GGUFTensorInfo(name: name, ne: ne, type: type, offset: Int(offset))
            names.append(name)
        }
        dataStart = (c.offset + align - 1) / align * align
        for info in infos.values where dataStart + info.offset + info.byteCount > file.count {
            throw FormatError.corrupt(path: path, message: "tensor \"\(info.name)\" (\(info.type.name), \(info.byteCount) bytes at data offset \(info.offset)) runs past the end of the \(file.count)-byte file")
        }
        tensors = infos
        tensorNames = names
    }

    static func readValue(_ c: inout ByteCursor, type: UInt32, key: String, depth: Int) throws -> GGUFValue {
        switch type {
        case 0: return .u8(try c.read(UInt8.self, key))
        case 1: return .i8(try c.read(Int8.self, key))
        case 2: return .u16(try c.read(UInt16.self, key))
        case 3: return .i16(try c.read(Int16.self, key))
        case 4: return .u32(try c.read(UInt32.self, key))
        case 5: return .i32(try c.read(Int32.self, key))
        case 6: return .f32(try c.readF32(key))
        case 7:
            let b = try c.read(UInt8.self, key)
            guard b <= 1 else { throw c.corrupt("boolean \(key) has value \(b)") }
            return .bool(b == 1)
        case 8: return .string(try c.readString(key))
        case 9:
            guard depth == 0 else { throw c.corrupt("nested array in \(key)") }
            let elementType = try c.read(UInt32.self, "element type of \(key)")
            let n = try c.read(UInt64.self, "length of \(key)")
            guard n <= UInt64(c.remaining) else { throw c.corrupt("array \(key) claims \(n) elements, more than the file holds") }
            var values: [GGUFValue] = []
            values.reserveCapacity(Int(n))
            for _ in 0..<Int(n) { values.append(try readValue(&c, type: elementType, key: key, depth: depth + 1)) }
            return .array(values)
        case 10: return .u64(try c.read(UInt64.self, key))
        case 11: return .i64(try c.read(Int64.self, key))
        case 12: return .f64(try c.readF64(key))
        default: throw c.corrupt("metadata \(key) has unknown value type \(type)")
        }
    }

    public func info(_ name: String) throws -> GGUFTensorInfo {
        guard let t = tensors[name] else { throw FormatError.missingTensor(path: path, name: name) }
        return t
    }

    /// The tensor as fp32 into `out` (exactly `count` elements), in ggml order (ne[0] fastest),
    /// which is also the row-major order of the PyTorch shape.
    public func dequantize(_ name: String, into out: UnsafeMutableBufferPointer<Float>) throws {
        let t = try info(name)
        guard t.type.canDequantize else {
            throw FormatError.unsupported(path: path, message: "tensor \"\(name)\" is \(t.type.name); Pare reads F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K and Q6_K — re-quantise the model to one of those")
        }
        guard out.count == t.count else {
            throw FormatError.corrupt(path: path, message: "tensor \"\(name)\" has \(t.count) elements, expected \(out.count)")
        }
        Dequantize.row(t.type, src: file.base + dataStart + t.offset, dst: out.baseAddress!, count: t.count)
    }

    public func floats(_ name: String) throws -> [Float] {
        let t = try info(name)
        var out = [Float](repeating: 0, count: t.count)
        try out.withUnsafeMutableBufferPointer { try dequantize(name, into: $0) }
        return out
    }

    // Typed metadata access with errors that name the key.
    public func int(_ key: String) throws -> Int {
        guard let v = metadata[key]?.int else { throw FormatError.corrupt(path: path, message: "metadata \(key) is missing or not an integer") }
        return v
    }
    public func double(_ key: String) throws -> Double {
        guard let v = metadata[key]?.double else { throw FormatError.corrupt(path: path, message: "metadata \(key) is missing or not a number") }
        return v
    }
    public func string(_ key: String) throws -> String {
        guard let v = metadata[key]?.string else { throw FormatError.corrupt(path: path, message: "metadata \(key) is missing or not a string") }
        return v
    }
    public func strings(_ key: String) throws -> [String] {
        guard let a = metadata[key]?.array else { throw FormatError.corrupt(path: path, message: "metadata \(key) is missing or not an array") }
        return try a.map { v in
            guard let s = v.string else { throw FormatError.corrupt(path: path, message: "metadata \(key) holds a non-string") }
            return s
        }
    }
}

extension String {
    /// Two hex digits.
    init(format2 b: UInt8) {
        let digits = Array("0123456789abcdef")
        self = String([digits[Int(b >> 4)], digits[Int(b & 15)]])
    }
}
