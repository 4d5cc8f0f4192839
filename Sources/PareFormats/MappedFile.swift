#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory. Readers validate every offset against `count`
/// before touching `base`, so a truncated or corrupt file ends in an error, not a fault.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let base: UnsafeRawPointer
    public let count: Int

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            throw FormatError.io(path: path, message: "cannot open (\(reason)); check the path")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FormatError.io(path: path, message: "cannot stat") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw FormatError.io(path: path, message: "not a regular file") }
        count = Int(st.st_size)
        guard count > 0 else { throw FormatError.corrupt(path: path, message: "the file is empty") }
        guard let p = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw FormatError.io(path: path, message: "cannot map into memory (\(String(cString: strerror(errno))))")
        }
        base = UnsafeRawPointer(p)
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), count) }
}

/// Sequential little-endian reads with bounds checks; errors name the file and offset.
struct ByteCursor {
    let file: MappedFile
    var offset: Int

    init(_ file: MappedFile, offset: Int = 0) { self.file = file; self.offset = offset }

    var remaining: Int { file.count - offset }

    func corrupt(_ what: String) -> FormatError {
        .corrupt(path: file.path, message: "\(what) at byte \(offset)")
    }

    mutating func need(_ n: Int, _ what: String) throws {
        guard n >= 0, n <= remaining else { throw corrupt("\(what) needs \(n) bytes but the file ends \(remaining) bytes later") }
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: String) throws -> T {
        try need(MemoryLayout<T>.size, what)
        defer { offset += MemoryLayout<T>.size }
        return T(littleEndian: file.base.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    mutating func readF32(_ what: String) throws -> Float { Float(bitPattern: try read(UInt32.self, what)) }
    mutating func readF64(_ what: String) throws -> Double { Double(bitPattern: try read(UInt64.self, what)) }

    /// u64 length + UTF-8 bytes (no NUL).
    mutating func readString(_ what: String) throws -> String {
        let n = try read(UInt64.self, "length of \(what)")
        guard n <= UInt64(remaining) else { throw corrupt("\(what) claims \(n) bytes but the file ends \(remaining) bytes later") }
        let bytes = UnsafeRawBufferPointer(start: file.base + offset, count: Int(n))
        offset += Int(n)
        return String(decoding: bytes, as: UTF8.self)
    }
}
