/// ChatML, the chat format of SmolLM2 (and its GGUF's `tokenizer.chat_template`):
///   <|im_start|>{role}\n{content}<|im_end|>\n … then "<|im_start|>assistant\n" to generate.
/// SmolLM2's template inserts a default system message when the first message is not one.
public struct ChatMessage: Sendable, Equatable {
    public var role: String
    public var content: String
    public init(role: String, content: String) { self.role = role; self.content = content }
}

extension Tokenizer {
    public static let smolLM2DefaultSystem = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"

    /// The prompt text for `messages` (encode it with parseSpecial: true).
    public func chatPrompt(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) -> String {
        var all = messages
        // Mirror the bundled template: a default system turn when none is given.
        if let t = chatTemplate, t.contains(Tokenizer.smolLM2DefaultSystem), all.first?.role != "system" {
            all.insert(ChatMessage(role: "system", content: Tokenizer.smolLM2DefaultSystem), at: 0)
        }
        var s = ""
        for m in all { s += "<|im_start|>\(m.role)\n\(m.content)<|im_end|>\n" }
        if addGenerationPrompt { s += "<|im_start|>assistant\n" }
        return s
    }
}
