/// The evaluation slice used for the teacher's perplexity: the last `fraction` of documents,
/// each tokenized without special tokens and followed by EOS, concatenated.
public enum CorpusSlice {
    public static func tailStream(documents: [String], fraction: Double, tokenizer: Tokenizer, eos: Int32) -> (stream: [Int32], documents: Int) {
        let start = Int(Double(documents.count) * (1 - fraction))
        var enc = TokenEncoder(tokenizer)
        var stream: [Int32] = []
        for d in documents[start...] {
            stream += enc.encode(d)
            stream.append(eos)
        }
        return (stream, documents.count - start)
    }
}
