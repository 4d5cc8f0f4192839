import Foundation
import CZlib

/// Reads a whole .gz file (zlib's inflate; the task request files are a few MB).
public enum Gzip {
    public static func decompress(path: String) throws -> Data {
        guard let packed = FileManager.default.contents(atPath: path) else {
            throw FormatError.io(path: path, message: "cannot be read; run scripts/setup to install the task files")
        }
        return try decompress(packed, path: path)
    }

    public static func decompress(_ packed: Data, path: String) throws -> Data {
        var stream = z_stream()
        // 15 + 32: the largest window, and detect the gzip (or zlib) header.
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw FormatError.io(path: path, message: "zlib could not start")
        }
        defer { inflateEnd(&stream) }
        var out = Data()
        let chunk = 1 << 20
        var buffer = [UInt8](repeating: 0, count: chunk)
        var status: Int32 = Z_OK
        try packed.withUnsafeBytes { (src: UnsafeRawBufferPointer) in
            stream.next_in = UnsafeMutablePointer(mutating: src.bindMemory(to: Bytef.self).baseAddress)
            stream.avail_in = uInt(src.count)
            repeat {
                let produced: Int = buffer.withUnsafeMutableBufferPointer { b in
                    stream.next_out = b.baseAddress
                    stream.avail_out = uInt(chunk)
                    status = inflate(&stream, Z_NO_FLUSH)
                    return chunk - Int(stream.avail_out)
                }
                out.append(contentsOf: buffer[0..<produced])
                if status == Z_BUF_ERROR && stream.avail_in == 0 { break }   // input ended early
                guard status == Z_OK || status == Z_STREAM_END else {
                    let reason = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                    throw FormatError.corrupt(path: path, message: "not a valid gzip stream (\(reason))")
                }
            } while status != Z_STREAM_END
        }
        guard status == Z_STREAM_END else {
            throw FormatError.corrupt(path: path, message: "the gzip stream ends early after \(out.count) bytes")
        }
        return out
    }
}
