import Foundation

extension Tokenizer {
    /// A tokenizer from whatever a user points at: a GGUF (its metadata), a Hugging Face
    /// directory or its `tokenizer.json`, or a tiktoken `tokenizer.model` (Llama 3).
    public convenience init(path: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw FormatError.io(path: path, message: "no such file or directory; give a .gguf, a model directory with tokenizer.json, a tokenizer.json file, or a tiktoken tokenizer.model")
        }
        if isDir.boolValue { try self.init(directory: path); return }
        if path.hasSuffix(".gguf") { try self.init(gguf: GGUFFile(path: path)); return }
        if path.hasSuffix(".json") { try self.init(tokenizerJSON: path, configDirectory: (path as NSString).deletingLastPathComponent); return }
        try self.init(tiktokenModel: path)
    }
}
