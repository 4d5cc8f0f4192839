/// FNV-1a, 64-bit: a fast hash that is the same on every machine and run, for fingerprints of
/// settings, files and weights (not for security).
public struct FNV1a {
    public static let offsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    public private(set) var value: UInt64

    public init(_ start: UInt64 = FNV1a.offsetBasis) { value = start }

    public mutating func mix(_ byte: UInt8) { value = (value ^ UInt64(byte)) &* 0x100_0000_01b3 }
    public mutating func mix<S: Sequence>(_ bytes: S) where S.Element == UInt8 { for b in bytes { mix(b) } }
    /// A whole 64-bit word at once (the weights' hash).
    public mutating func mix(word: UInt64) { value = (value ^ word) &* 0x100_0000_01b3 }

    /// The hash of `bytes`.
    public static func hash<S: Sequence>(_ bytes: S) -> UInt64 where S.Element == UInt8 { var h = FNV1a(); h.mix(bytes); return h.value }
    public var hex: String { String(value, radix: 16) }
}
