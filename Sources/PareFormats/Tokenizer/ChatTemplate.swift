import Foundation

/// One turn of a conversation.
public struct ChatMessage: Sendable, Equatable {
    public var role: String
    public var content: String
    public init(role: String, content: String) { self.role = role; self.content = content }
}

/// Why `--chat` cannot build a prompt for a model.
public enum ChatTemplateError: Error, CustomStringConvertible {
    case none
    case unrenderable(JinjaError)
    case refused(String)

    public var description: String {
        switch self {
        case .none:
            return "has no chat template (tokenizer_config.json \"chat_template\" or the GGUF's tokenizer.chat_template); it is a base model or its template was not kept: write the prompt in the form the model expects, without --chat"
        case .unrenderable(let e):
            return "has a chat template Pare cannot render (\(e.message)); write the prompt in the form the model expects, without --chat"
        case .refused(let m):
            return "has a chat template that refuses the conversation: \(m)"
        }
    }
}

extension Tokenizer {
    /// The prompt text for `messages`, rendered with the model's own chat template as
    /// transformers' apply_chat_template renders it (encode it with parseSpecial: true). The
    /// template's variables: messages, add_generation_prompt, bos_token, eos_token and the
    /// functions raise_exception and strftime_now (Llama 3 writes today's date with it).
    public func chatPrompt(_ messages: [ChatMessage], addGenerationPrompt: Bool = true, now: Date = Date()) throws -> String {
        guard let source = chatTemplate, !source.isEmpty else { throw ChatTemplateError.none }
        let template: JinjaTemplate
        do { template = try JinjaTemplate(source) } catch let e as JinjaError { throw ChatTemplateError.unrenderable(e) }
        var context: [String: JinjaValue] = [
            "messages": .list(messages.map { .dict(JinjaDict([("role", .string($0.role)), ("content", .string($0.content))])) }),
            "add_generation_prompt": .bool(addGenerationPrompt),
        ]
        if let b = bosTokenId { context["bos_token"] = .string(String(decoding: bytes(of: b), as: UTF8.self)) }
        if let e = eosTokenId { context["eos_token"] = .string(String(decoding: bytes(of: e), as: UTF8.self)) }
        do { return try template.render(context, now: now) }
        catch let e as JinjaError { throw e.raisedByTemplate ? ChatTemplateError.refused(e.message) : ChatTemplateError.unrenderable(e) }
    }
}
