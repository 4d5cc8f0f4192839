import Foundation

extension Tokenizer {
    /// Meta's Llama 3 `tokenizer.model`: tiktoken's format, one `base64(bytes) rank` line per
    /// token (the rank is the id and the merge priority), split by the Llama 3 pattern. The
    /// file holds no special tokens; Llama 3's 256 follow the ranks (ids 128000–128255), named
    /// as in Meta's `llama_models/llama3/tokenizer.py`. A text starts with <|begin_of_text|>,
    /// as Meta's `encode(bos=True)` and the Hugging Face tokenizer's post-processor give it.
    public convenience init(tiktokenModel path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FormatError.io(path: path, message: "cannot read the tiktoken tokenizer.model")
        }
        var ranked: [[UInt8]] = []
        ranked.reserveCapacity(128_000)
        for (n, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true).enumerated() {
            guard let space = line.firstIndex(of: UInt8(ascii: " ")),
                  let bytes = Data(base64Encoded: Data(line[line.startIndex..<space])),
                  let rank = Int(String(decoding: line[(space + 1)...], as: UTF8.self).trimmingCharacters(in: .whitespaces)) else {
                throw FormatError.corrupt(path: path, message: "line \(n + 1) is not \"BASE64 RANK\" (a tiktoken file has one token per line)")
            }
            guard rank == ranked.count else {
                throw FormatError.corrupt(path: path, message: "line \(n + 1) has rank \(rank), expected \(ranked.count) (ranks must run 0, 1, 2, … in order)")
            }
            ranked.append(Array(bytes))
        }
        guard ranked.count == 128_000 else {
            throw FormatError.unsupported(path: path, message: "holds \(ranked.count) ranks; Pare knows the special tokens of Llama 3's tiktoken file (128,000 ranks) only. Use the model's tokenizer.json instead")
        }
        let model: BPEModel
        do { model = try BPEModel(tiktokenRanks: ranked) } catch { throw FormatError.corrupt(path: path, message: "\(error)") }
        let named = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
                     "<|finetune_right_pad_id|>", "<|step_id|>", "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>",
                     "<|eot_id|>", "<|python_tag|>", "<|image|>"]
        let specials = named + (0..<(256 - named.count)).map { "<|reserved_special_token_\($0 + 2)|>" }
        let added = specials.enumerated().map { AddedToken(id: Int32(128_000 + $0.offset), content: $0.element, special: true) }
        self.init(model: model.appending(added.map(\.content)), preTokenizer: .llama3, addedTokens: added, bos: 128_000, eos: 128_001, unk: nil, pad: 128_004,
                  chatTemplate: nil, addsBos: true)
    }
}
