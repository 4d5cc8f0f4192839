/// Just enough of the FlatBuffers wire format to read Arrow's IPC metadata: tables found
/// through their vtables, offsets to sub-tables, strings and vectors, every read checked
/// against the buffer's end (a damaged file is an error, never a read past it).
struct FlatBuffer {
    let bytes: UnsafeRawBufferPointer
    let path: String

    func fail(_ what: String) -> FormatError { .corrupt(path: path, message: "its Arrow metadata is damaged (\(what))") }

    func load<T: FixedWidthInteger>(_ at: Int, as: T.Type) throws -> T {
        guard at >= 0, at + MemoryLayout<T>.size <= bytes.count else { throw fail("a read at byte \(at) passes the end") }
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: T.self))
    }

    /// The position a uoffset at `at` points to.
    func follow(_ at: Int) throws -> Int { at + Int(try load(at, as: UInt32.self)) }

    /// The root table of the buffer.
    func root() throws -> Table { Table(fb: self, at: try follow(0)) }

    struct Table {
        let fb: FlatBuffer
        let at: Int

        /// The absolute position of field `i`, or nil when the field is absent (its default).
        func field(_ i: Int) throws -> Int? {
            let vtable = at - Int(try fb.load(at, as: Int32.self))
            let vtableSize = Int(try fb.load(vtable, as: UInt16.self))
            let slot = 4 + 2 * i
            guard slot + 2 <= vtableSize else { return nil }
            let off = Int(try fb.load(vtable + slot, as: UInt16.self))
            return off == 0 ? nil : at + off
        }

        func scalar<T: FixedWidthInteger>(_ i: Int, _ type: T.Type, default d: T = 0) throws -> T {
            guard let p = try field(i) else { return d }
            return try fb.load(p, as: T.self)
        }

        func table(_ i: Int) throws -> Table? {
            guard let p = try field(i) else { return nil }
            return Table(fb: fb, at: try fb.follow(p))
        }

        func string(_ i: Int) throws -> String? {
            guard let p = try field(i) else { return nil }
            let s = try fb.follow(p), n = Int(try fb.load(s, as: UInt32.self))
            guard s + 4 + n <= fb.bytes.count else { throw fb.fail("a string passes the end") }
            return String(decoding: UnsafeRawBufferPointer(rebasing: fb.bytes[(s + 4)..<(s + 4 + n)]), as: UTF8.self)
        }

        /// A vector's element count and the position of its first element.
        func vector(_ i: Int) throws -> (count: Int, start: Int) {
            guard let p = try field(i) else { return (0, 0) }
            let v = try fb.follow(p)
            return (Int(try fb.load(v, as: UInt32.self)), v + 4)
        }

        /// The tables of a vector of tables.
        func tables(_ i: Int) throws -> [Table] {
            let (n, start) = try vector(i)
            guard n >= 0, start + 4 * n <= fb.bytes.count else { throw fb.fail("a vector passes the end") }
            return try (0..<n).map { Table(fb: fb, at: try fb.follow(start + 4 * $0)) }
        }
    }
}
