/// The one UTF-8 decoder of the tokenizers' byte loops (pre-tokenizer, SentencePiece,
/// added-token whitespace), which walk raw bytes rather than Swift Strings for speed.
enum UTF8Scalar {
    /// The scalar starting at byte i and its length in bytes. Text from a Swift String is valid
    /// UTF-8; a stray continuation byte or a sequence cut by the buffer's end (not reachable
    /// from a String) reads as U+FFFD of one byte rather than trapping.
    @inline(__always)
    static func decode(_ b: UnsafeBufferPointer<UInt8>, at i: Int) -> (value: UInt32, length: Int) {
        let b0 = UInt32(b[i])
        if b0 < 0x80 { return (b0, 1) }
        let n = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : b0 >= 0xC0 ? 2 : 0
        guard n > 0, i + n <= b.count else { return (0xFFFD, 1) }
        switch n {
        case 2: return ((b0 & 0x1F) << 6 | UInt32(b[i + 1] & 0x3F), 2)
        case 3: return ((b0 & 0x0F) << 12 | UInt32(b[i + 1] & 0x3F) << 6 | UInt32(b[i + 2] & 0x3F), 3)
        default:
            return ((b0 & 0x07) << 18 | UInt32(b[i + 1] & 0x3F) << 12 | UInt32(b[i + 2] & 0x3F) << 6
                | UInt32(b[i + 3] & 0x3F), 4)
        }
    }
}
