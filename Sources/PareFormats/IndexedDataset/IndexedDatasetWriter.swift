import Foundation

/// Megatron-LM's indexed dataset (`PREFIX.bin` + `PREFIX.idx`), byte-compatible with
/// megatron.core.datasets.indexed_dataset:
///   .bin  token ids back to back, no header
///   .idx  "MMIDIDX\0\0", u64 version 1, u8 dtype code, u64 sequence count S,
///         u64 document-index count D (= documents + 1), int32[S] lengths,
///         int64[S] byte offsets into .bin, int64[D] document boundaries (0, then each
///         document's end sequence index)
/// One document is one sequence here. Both files are written under temporary names and
/// renamed when `finish` succeeds.
public final class IndexedDatasetWriter {
    public enum TokenType: UInt8, Sendable {
        case int32 = 4, uint16 = 8
        public var size: Int { self == .int32 ? 4 : 2 }
        /// Megatron's rule: uint16 when the vocabulary has fewer than 65500 entries.
        public static func forVocabulary(_ n: Int) -> TokenType { n < 65_500 ? .uint16 : .int32 }
    }

    public static let magic: [UInt8] = Array("MMIDIDX".utf8) + [0, 0]
    public let prefix: String
    public let tokenType: TokenType
    let bin: AtomicFileWriter
    var lengths: [Int32] = []
    var tokens = 0
    var buffer: [UInt8] = []

    public init(prefix: String, tokenType: TokenType) throws {
        self.prefix = prefix
        self.tokenType = tokenType
        bin = try AtomicFileWriter(path: prefix + ".bin")
    }

    public var documentCount: Int { lengths.count }
    public var tokenCount: Int { tokens }

    /// Appends one document (skip empty documents before calling, as Megatron's tools do).
    public func add(_ ids: [Int32]) throws {
        buffer.removeAll(keepingCapacity: true)
        buffer.reserveCapacity(ids.count * tokenType.size)
        switch tokenType {
        case .uint16:
            for id in ids {
                guard id >= 0 && id < 65_536 else { throw FormatError.unsupported(path: prefix + ".bin", message: "token id \(id) does not fit uint16") }
                let v = UInt16(id).littleEndian
                buffer.append(UInt8(v & 0xFF)); buffer.append(UInt8(v >> 8))
            }
        case .int32:
            for id in ids { withUnsafeBytes(of: id.littleEndian) { buffer.append(contentsOf: $0) } }
        }
        try buffer.withUnsafeBytes { try bin.write($0) }
        lengths.append(Int32(ids.count))
        tokens += ids.count
    }

    /// Writes the index and moves both files into place.
    public func finish() throws {
        guard !lengths.isEmpty else {
            abort()
            throw FormatError.inconsistent(path: prefix + ".bin", message: "no documents were written (every input text was empty); nothing to tokenize")
        }
        var idx: [UInt8] = IndexedDatasetWriter.magic
        func u64(_ v: Int) { withUnsafeBytes(of: UInt64(v).littleEndian) { idx += $0 } }
        func i64(_ v: Int) { withUnsafeBytes(of: Int64(v).littleEndian) { idx += $0 } }
        u64(1)
        idx.append(tokenType.rawValue)
        u64(lengths.count)
        u64(lengths.count + 1)
        for l in lengths { withUnsafeBytes(of: l.littleEndian) { idx += $0 } }
        var offset = 0
        for l in lengths { i64(offset); offset += Int(l) * tokenType.size }
        for d in 0...lengths.count { i64(d) }
        try bin.commit()
        do {
            try AtomicFileWriter.write(Data(idx), to: prefix + ".idx")
        } catch {
            unlink(prefix + ".bin")
            throw error
        }
    }

    public func abort() { bin.abort() }
}
