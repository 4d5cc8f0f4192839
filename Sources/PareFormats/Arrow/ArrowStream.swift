import Foundation

/// A table read from an Arrow IPC stream (the `data-*.arrow` files Hugging Face datasets'
/// `save_to_disk` writes): a schema message, then record batches, each a flatbuffer header
/// and a body of buffers. The column types these files use are read: utf8, list<utf8> and
/// signed integers of 8 to 64 bits (ClassLabel). Anything else — another type, nulls,
/// compressed bodies, a dictionary — is an error naming the file and column.
public struct ArrowTable {
    public enum Column: Equatable {
        case strings([String])
        case stringLists([[String]])
        case integers([Int64])
    }
    public private(set) var names: [String] = []
    public private(set) var columns: [Column] = []
    public private(set) var rowCount = 0
    public let path: String

    /// The column `name`, or an error naming the file and the columns it has.
    public func column(_ name: String) throws -> Column {
        guard let i = names.firstIndex(of: name) else {
            throw FormatError.inconsistent(path: path, message: "has no column \"\(name)\" (it has \(names.joined(separator: ", ")))")
        }
        return columns[i]
    }

    enum FieldType { case utf8, int(bits: Int), list(child: String) }

    public init(path: String) throws {
        self.path = path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FormatError.io(path: path, message: FileManager.default.fileExists(atPath: path) ? "cannot be read (permissions?)" : "no such file; run scripts/setup to install it")
        }
        try data.withUnsafeBytes { try read($0) }
    }

    mutating func read(_ file: UnsafeRawBufferPointer) throws {
        var at = 0
        var fields: [(name: String, type: FieldType)]? = nil
        func fail(_ what: String) -> FormatError { .corrupt(path: path, message: what) }
        func word(_ p: Int) throws -> UInt32 {
            guard p + 4 <= file.count else { throw fail("it ends inside a message header at byte \(p) (truncated?)") }
            return UInt32(littleEndian: file.loadUnaligned(fromByteOffset: p, as: UInt32.self))
        }
        while true {
            var size = try word(at)
            at += 4
            if size == 0xFFFF_FFFF { size = try word(at); at += 4 }   // the continuation marker of current writers
            if size == 0 { break }                                    // end of stream
            guard Int(size) <= file.count - at else { throw fail("a message of \(size) bytes passes the end at byte \(at) (truncated?)") }
            let fb = FlatBuffer(bytes: UnsafeRawBufferPointer(rebasing: file[at..<(at + Int(size))]), path: path)
            at += Int(size)
            let message = try fb.root()
            let kind = try message.scalar(1, UInt8.self)
            let bodyLength = Int(try message.scalar(3, Int64.self))
            guard bodyLength >= 0, bodyLength <= file.count - at else { throw fail("a record batch of \(bodyLength) bytes passes the end at byte \(at) (truncated?)") }
            let body = UnsafeRawBufferPointer(rebasing: file[at..<(at + bodyLength)])
            at += bodyLength
            guard let header = try message.table(2) else { throw fail("a message has no header") }
            switch kind {
            case 1:
                guard fields == nil else { throw fail("it holds two schemas") }
                fields = try ArrowTable.schema(header)
                names = fields!.map(\.name)
                columns = fields!.map { f in
                    switch f.type { case .utf8: return .strings([]); case .int: return .integers([]); case .list: return .stringLists([]) }
                }
            case 3:
                guard let fields else { throw fail("a record batch comes before the schema") }
                try append(batch: header, body: body, fields: fields)
            case 2: throw FormatError.unsupported(path: path, message: "holds dictionary-encoded columns, which Pare does not read")
            default: throw fail("a message of unknown type \(kind)")
            }
            // Writers end a stream with a marker; without it a cut after a whole batch would
            // read as a shorter table.
            guard at < file.count else { throw fail("it ends after \(rowCount) rows without the end-of-stream marker (truncated?)") }
        }
        guard fields != nil else { throw fail("it has no schema: not an Arrow IPC stream") }
    }

    /// The fields of a Schema table: name and type, for the types this reader knows.
    static func schema(_ s: FlatBuffer.Table) throws -> [(name: String, type: FieldType)] {
        try s.tables(1).map { f in
            let name = try f.string(0) ?? ""
            let t = try f.scalar(2, UInt8.self)
            func unsupported(_ what: String) -> FormatError {
                .unsupported(path: s.fb.path, message: "column \"\(name)\" is \(what); Pare reads utf8, list<utf8> and integer columns")
            }
            switch t {
            case 5: return (name, .utf8)
            case 2:
                guard let int = try f.table(3) else { throw unsupported("an integer without a width") }
                let bits = Int(try int.scalar(0, Int32.self)), signed = try int.scalar(1, UInt8.self) != 0
                guard [8, 16, 32, 64].contains(bits), signed || bits < 64 else { throw unsupported("a \(bits)-bit \(signed ? "" : "un")signed integer") }
                return (name, .int(bits: bits))
            case 12:
                let children = try f.tables(5)
                guard children.count == 1, try children[0].scalar(2, UInt8.self) == 5 else { throw unsupported("a list of something other than utf8") }
                return (name, .list(child: try children[0].string(0) ?? "item"))
            default: throw unsupported("of Arrow type \(t)")
            }
        }
    }

    /// One record batch's rows, appended to the columns.
    mutating func append(batch: FlatBuffer.Table, body: UnsafeRawBufferPointer, fields: [(name: String, type: FieldType)]) throws {
        if try batch.table(3) != nil { throw FormatError.unsupported(path: path, message: "holds compressed record batches, which Pare does not read") }
        let rows = Int(try batch.scalar(0, Int64.self))
        let fb = batch.fb
        // FieldNode and Buffer are 16-byte structs: (length, null_count) and (offset, length).
        func structs(_ i: Int) throws -> [(Int, Int)] {
            let (n, start) = try batch.vector(i)
            guard n >= 0, start + 16 * n <= fb.bytes.count else { throw fb.fail("a vector passes the end") }
            return try (0..<n).map { (Int(try fb.load(start + 16 * $0, as: Int64.self)), Int(try fb.load(start + 16 * $0 + 8, as: Int64.self))) }
        }
        var nodes = try structs(1)[...], buffers = try structs(2)[...]
        func fail(_ what: String) -> FormatError { .corrupt(path: path, message: what) }
        func node(_ column: String) throws -> Int {
            guard let (length, nulls) = nodes.popFirst() else { throw fail("a record batch has fewer field nodes than columns") }
            guard nulls == 0 else { throw FormatError.unsupported(path: path, message: "column \"\(column)\" has \(nulls) missing values, which Pare does not read") }
            // Every column type here needs at least a byte of body per value (offsets, integers).
            guard length >= 0, length <= body.count else { throw fail("column \"\(column)\" claims \(length) values in a \(body.count)-byte record batch") }
            return length
        }
        func buffer(_ column: String) throws -> UnsafeRawBufferPointer {
            guard let (offset, length) = buffers.popFirst() else { throw fail("a record batch has fewer buffers than its columns need") }
            guard offset >= 0, length >= 0, offset <= body.count, length <= body.count - offset else {
                throw fail("a buffer of column \"\(column)\" lies outside its record batch (truncated?)")
            }
            return UnsafeRawBufferPointer(rebasing: body[offset..<(offset + length)])
        }
        func int<T: FixedWidthInteger>(_ b: UnsafeRawBufferPointer, _ i: Int, _ t: T.Type) -> T { T(littleEndian: b.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self)) }
        /// `count` utf8 values: int32 offsets (count + 1) into the data buffer.
        func strings(_ column: String, count: Int) throws -> [String] {
            _ = try buffer(column)   // validity: absent or all set (no nulls)
            let offsets = try buffer(column), data = try buffer(column)
            guard offsets.count >= 4 * (count + 1) else { throw fail("column \"\(column)\" has too few offsets") }
            return try (0..<count).map { i in
                let a = Int(int(offsets, i, Int32.self)), b = Int(int(offsets, i + 1, Int32.self))
                guard 0 <= a, a <= b, b <= data.count else { throw fail("column \"\(column)\" has a string outside its data (offsets \(a)…\(b) of \(data.count) bytes)") }
                return String(decoding: UnsafeRawBufferPointer(rebasing: data[a..<b]), as: UTF8.self)
            }
        }
        for (c, f) in fields.enumerated() {
            let length = try node(f.name)
            guard length == rows else { throw fail("column \"\(f.name)\" has \(length) values in a batch of \(rows) rows") }
            switch f.type {
            case .utf8:
                guard case .strings(let old) = columns[c] else { continue }
                columns[c] = .strings(old + (try strings(f.name, count: length)))
            case .int(let bits):
                _ = try buffer(f.name)
                let data = try buffer(f.name)
                guard data.count >= length * bits / 8 else { throw fail("column \"\(f.name)\" holds \(data.count) bytes for \(length) values") }
                let values: [Int64] = (0..<length).map { i in
                    switch bits { case 8: return Int64(int(data, i, Int8.self)); case 16: return Int64(int(data, i, Int16.self))
                    case 32: return Int64(int(data, i, Int32.self)); default: return int(data, i, Int64.self) }
                }
                guard case .integers(let old) = columns[c] else { continue }
                columns[c] = .integers(old + values)
            case .list(let child):
                _ = try buffer(f.name)
                let offsets = try buffer(f.name)
                guard offsets.count >= 4 * (length + 1) else { throw fail("column \"\(f.name)\" has too few offsets") }
                let items = try strings("\(f.name).\(child)", count: try node("\(f.name).\(child)"))
                let lists: [[String]] = try (0..<length).map { i in
                    let a = Int(int(offsets, i, Int32.self)), b = Int(int(offsets, i + 1, Int32.self))
                    guard 0 <= a, a <= b, b <= items.count else { throw fail("column \"\(f.name)\" has a list outside its items") }
                    return Array(items[a..<b])
                }
                guard case .stringLists(let old) = columns[c] else { continue }
                columns[c] = .stringLists(old + lists)
            }
        }
        rowCount += rows
    }
}
