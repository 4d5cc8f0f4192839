/// A Megatron indexed dataset, memory-mapped and validated: every length and offset is
/// checked against the .bin size when opened, so reads never leave the mapping.
public final class IndexedDataset {
    public let prefix: String
    public let tokenType: IndexedDatasetWriter.TokenType
    public let lengths: [Int32]        // per sequence
    public let offsets: [Int64]        // byte offsets into .bin
    public let documentIndex: [Int64]  // sequence boundaries of documents
    let bin: MappedFile

    public init(prefix: String) throws {
        self.prefix = prefix
        let idx = try MappedFile(path: prefix + ".idx")
        var c = ByteCursor(idx)
        try c.need(9, "magic")
        let magic = (0..<9).map { idx.base.load(fromByteOffset: $0, as: UInt8.self) }
        guard magic == IndexedDatasetWriter.magic else {
            throw FormatError.corrupt(path: idx.path, message: "not a Megatron index (magic is not MMIDIDX)")
        }
        c.offset = 9
        let version = try c.read(UInt64.self, "version")
        guard version == 1 else { throw FormatError.unsupported(path: idx.path, message: "index version \(version); Pare reads version 1") }
        let code = try c.read(UInt8.self, "dtype")
        guard let type = IndexedDatasetWriter.TokenType(rawValue: code) else {
            throw FormatError.unsupported(path: idx.path, message: "token dtype code \(code); Pare reads int32 (4) and uint16 (8)")
        }
        tokenType = type
        let s = try c.read(UInt64.self, "sequence count"), d = try c.read(UInt64.self, "document count")
        guard s < UInt64(Int32.max), d >= 1, d <= s + 1, (s * 12 + d * 8) <= UInt64(c.remaining) else {
            throw c.corrupt("header claims \(s) sequences and \(d) document entries, which do not fit the file")
        }
        var lengths: [Int32] = [], offsets: [Int64] = [], docs: [Int64] = []
        lengths.reserveCapacity(Int(s)); offsets.reserveCapacity(Int(s)); docs.reserveCapacity(Int(d))
        for _ in 0..<s { lengths.append(try c.read(Int32.self, "sequence length")) }
        for _ in 0..<s { offsets.append(try c.read(Int64.self, "sequence offset")) }
        for _ in 0..<d { docs.append(try c.read(Int64.self, "document index")) }
        bin = try MappedFile(path: prefix + ".bin")
        for k in 0..<Int(s) {
            let l = Int64(lengths[k]), o = offsets[k]
            guard l >= 0, o >= 0, o + l * Int64(type.size) <= Int64(bin.count) else {
                throw FormatError.corrupt(path: bin.path, message: "sequence \(k) (\(l) tokens at byte \(o)) lies outside the \(bin.count)-byte .bin; the .bin and .idx do not belong together")
            }
        }
        // Megatron's writer lays sequences end to end: a longer .bin belongs to another dataset.
        let described = lengths.reduce(Int64(0)) { $0 + Int64($1) } * Int64(type.size)
        guard described == Int64(bin.count) else {
            throw FormatError.inconsistent(path: bin.path, message: "holds \(bin.count) bytes but \(idx.path) describes \(described) (\(s) sequences); the .bin and .idx do not belong together: re-run pare data tokenize")
        }
        guard s > 0 else {
            throw FormatError.inconsistent(path: idx.path, message: "the dataset holds no documents; tokenize a corpus that has text")
        }
        guard docs.first == 0, docs.last == Int64(s), zip(docs, docs.dropFirst()).allSatisfy({ $0 <= $1 }) else {
            throw FormatError.corrupt(path: idx.path, message: "document index is not an increasing list from 0 to the sequence count")
        }
        self.lengths = lengths; self.offsets = offsets; documentIndex = docs
    }

    public var sequenceCount: Int { lengths.count }
    public var documentCount: Int { documentIndex.count - 1 }
    public var tokenCount: Int { lengths.reduce(0) { $0 + Int($1) } }

    /// Copies `count` tokens of sequence `i` starting at token `start` into `out`.
    public func read(sequence i: Int, start: Int = 0, count: Int? = nil, into out: UnsafeMutablePointer<Int32>) {
        let n = count ?? Int(lengths[i]) - start
        precondition(start >= 0 && start + n <= Int(lengths[i]), "read past the end of sequence \(i)")
        let base = bin.base + Int(offsets[i])
        switch tokenType {
        case .uint16: for k in 0..<n { out[k] = Int32(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * (start + k), as: UInt16.self))) }
        case .int32: for k in 0..<n { out[k] = Int32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * (start + k), as: Int32.self)) }
        }
    }

    public func sequence(_ i: Int) -> [Int32] {
        var out = [Int32](repeating: 0, count: Int(lengths[i]))
        out.withUnsafeMutableBufferPointer { read(sequence: i, into: $0.baseAddress!) }
        return out
    }
}
