import Foundation

/// A chat template (`chat_template` in tokenizer_config.json, `tokenizer.chat_template` in a
/// GGUF) parsed once and rendered as transformers' `apply_chat_template` renders it. Covers the
/// Jinja that the Llama 3, Qwen2.5, SmolLM2, Mistral and Gemma 3 templates use; anything else
/// is a `JinjaError` naming the construct, never a silently different prompt.
public struct JinjaTemplate {
    let nodes: [JinjaNode]

    public init(_ source: String) throws { nodes = try JinjaParser.parse(source) }

    /// The rendered text; `now` is what `strftime_now` reports.
    public func render(_ context: [String: JinjaValue], now: Date = Date()) throws -> String {
        var r = JinjaRenderer(context: context, now: now)
        _ = try r.render(nodes)
        return r.out
    }
}
