import Foundation

/// Writes GGUF version 3: header, metadata, tensor infos, padding to the alignment, then
/// tensor data with each tensor aligned. The file is written under a temporary name and
/// renamed when complete.
public struct GGUFWriter {
    public var metadata: [(String, GGUFValue)] = []
    public var tensors: [(name: String, ne: [Int], type: GGMLType, data: [UInt8])] = []
    public var alignment = 32

    public init() {}

    public mutating func add(_ key: String, _ value: GGUFValue) { metadata.append((key, value)) }

    public func write(to path: String) throws {
        var h: [UInt8] = Array("GGUF".utf8)
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { h += $0 } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { h += $0 } }
        func str(_ s: String) { u64(UInt64(s.utf8.count)); h += Array(s.utf8) }
        func value(_ v: GGUFValue, typed: Bool) {
            func tag(_ t: UInt32) { if typed { u32(t) } }
            switch v {
            case .u8(let x): tag(0); h.append(x)
            case .i8(let x): tag(1); h.append(UInt8(bitPattern: x))
            case .u16(let x): tag(2); withUnsafeBytes(of: x.littleEndian) { h += $0 }
            case .i16(let x): tag(3); withUnsafeBytes(of: x.littleEndian) { h += $0 }
            case .u32(let x): tag(4); u32(x)
            case .i32(let x): tag(5); withUnsafeBytes(of: x.littleEndian) { h += $0 }
            case .f32(let x): tag(6); u32(x.bitPattern)
            case .bool(let x): tag(7); h.append(x ? 1 : 0)
            case .string(let s): tag(8); str(s)
            case .array(let a):
                tag(9)
                u32(a.first.map(GGUFWriter.typeCode) ?? 8)
                u64(UInt64(a.count))
                for e in a { value(e, typed: false) }
            case .u64(let x): tag(10); u64(x)
            case .i64(let x): tag(11); withUnsafeBytes(of: x.littleEndian) { h += $0 }
            case .f64(let x): tag(12); u64(x.bitPattern)
            }
        }
        u32(3); u64(UInt64(tensors.count)); u64(UInt64(metadata.count + 1))
        str("general.alignment"); value(.u32(UInt32(alignment)), typed: true)
        for (k, v) in metadata { str(k); value(v, typed: true) }
        var offset = 0
        for t in tensors {
            str(t.name); u32(UInt32(t.ne.count)); for n in t.ne { u64(UInt64(n)) }
            u32(t.type.rawValue); u64(UInt64(offset))
            offset += (t.data.count + alignment - 1) / alignment * alignment
        }
        while h.count % alignment != 0 { h.append(0) }
        let w = try AtomicFileWriter(path: path)
        do {
            try h.withUnsafeBytes { try w.write($0) }
            let zeros = [UInt8](repeating: 0, count: alignment)
            for t in tensors {
                try t.data.withUnsafeBytes { try w.write($0) }
                let pad = (alignment - t.data.count % alignment) % alignment
                if pad > 0 { try zeros.withUnsafeBytes { try w.write(UnsafeRawBufferPointer(rebasing: $0[0..<pad])) } }
            }
            try w.commit()
        } catch { w.abort(); throw error }
    }

    static func typeCode(_ v: GGUFValue) -> UInt32 {
        switch v {
        case .u8: 0; case .i8: 1; case .u16: 2; case .i16: 3; case .u32: 4; case .i32: 5; case .f32: 6
        case .bool: 7; case .string: 8; case .array: 9; case .u64: 10; case .i64: 11; case .f64: 12
        }
    }
}
