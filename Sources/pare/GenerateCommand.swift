import ArgumentParser
import PareRecipes
import Foundation
import PareCore
import PareFormats
import PareModel

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text from a prompt, streaming tokens, with a KV cache.")

    @Option(help: "A .gguf file or a Hugging Face model directory.") var model: String
    @Option(help: "The prompt text.") var prompt: String
    @Flag(help: "Wrap the prompt as a user turn in the model's chat template.") var chat = false
    @Option(help: "Most tokens to generate.") var maxNewTokens = 128
    @Option(parsing: .unconditional, help: "Sampling temperature; 0 is greedy.") var temperature: Float = 0
    @Option(parsing: .unconditional, help: "Nucleus sampling: keep the smallest set of tokens with this much probability.") var topP: Float = 1
    @Option(help: "Random seed for sampling.") var seed: UInt64 = 0
    @Flag(help: "Keep generating past the end-of-sequence token (for timing a fixed length).") var ignoreEos = false
    @Option(help: "Instead of generating, write the prompt's logits (tokens × vocabulary, f32) to this .safetensors file, token ids in its metadata (for comparing with other runtimes).") var dumpLogits: String?
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        guard maxNewTokens >= 1 else { throw fail("--max-new-tokens must be at least 1, not \(maxNewTokens)") }
        guard temperature.isFinite, temperature >= 0 else { throw fail("--temperature must be a finite number ≥ 0 (0 is greedy), not \(temperature)") }
        guard topP.isFinite, topP > 0, topP <= 1 else { throw fail("--top-p must be in (0, 1] (1 keeps every token), not \(topP)") }
        try threads.apply()
        let loaded: PretrainedModel
        do { loaded = try PretrainedModel.load(model) } catch let e as FormatError { throw fail("\(e)") }
        let tok = loaded.tokenizer
        let text: String
        do { text = chat ? try tok.chatPrompt([ChatMessage(role: "user", content: prompt)]) : prompt }
        catch { throw fail("--chat: \(model) \(error)") }
        guard !tok.encode(text, parseSpecial: chat).isEmpty else { throw fail("the prompt is empty") }
        let ids = tok.encodePrompt(text, parseSpecial: chat)
        let positions = loaded.model.config.usablePositions
        guard ids.count < positions else {
            throw fail("the prompt is \(ids.count) tokens, but \(model) has \(positions) positions (\(loaded.model.config.usablePositionsKey)); shorten the prompt")
        }
        if let path = dumpLogits { return try writeLogits(loaded.model, ids: ids, to: path) }
        // Generation stops where the positions end; said before, not discovered after.
        let room = positions - ids.count
        if maxNewTokens > room {
            var err = StandardError()
            print("pare: warning: --max-new-tokens \(maxNewTokens) does not fit: the prompt's \(ids.count) token\(ids.count == 1 ? "" : "s") leave \(room) of \(model)'s \(positions) positions (\(loaded.model.config.usablePositionsKey)); generating at most \(room)", to: &err)
        }
        var sampler = Sampler(temperature: temperature, topP: topP, seed: seed)
        var stop: Set<Int32> = []
        if !ignoreEos {
            if let e = tok.eosTokenId { stop.insert(e) }
            if let e = loaded.model.config.eosTokenId { for i in e.ids { stop.insert(Int32(i)) } }
        }
        if !chat { print(prompt, terminator: "") }
        // Stream bytes, holding back an incomplete UTF-8 character until its last byte arrives.
        var pending: [UInt8] = []
        let (_, stats) = try loaded.model.generate(prompt: ids, maxNewTokens: maxNewTokens, sampler: &sampler, stop: stop) { id in
            if tok.isSpecial(id) { return }
            pending += tok.bytes(of: id)
            let cut = completeUTF8Prefix(pending)
            if cut > 0 {
                print(String(decoding: pending[0..<cut], as: UTF8.self), terminator: "")
                fflush(stdout)
                pending.removeFirst(cut)
            }
        }
        if !pending.isEmpty { print(String(decoding: pending, as: UTF8.self), terminator: "") }
        print()
        var err = StandardError()
        print(String(format: "[prompt %d tokens, prefill %.1f tokens/s; generated %d tokens, decode %.1f tokens/s%@]",
                     stats.promptTokens, stats.prefillTokensPerSecond, stats.generatedTokens, stats.decodeTokensPerSecond,
                     stats.generatedTokens >= room && maxNewTokens > room ? "; stopped at the last position" : ""), to: &err)
    }
}

/// The prompt's logits (T, V) as one f32 tensor "logits"; metadata "tokens" holds the ids.
func writeLogits(_ model: LlamaModel, ids: [Int32], to path: String) throws {
    let logits = try model.logits(tokens: ids, B: 1, T: ids.count)
    do {
        try logits.withUnsafeBufferPointer {
            try SafetensorsWriter.write(path: path, tensors: [.init(name: "logits", shape: [ids.count, model.config.vocabSize], data: $0)],
                                        dtype: .F32, metadata: ["tokens": ids.map(String.init).joined(separator: ",")])
        }
    } catch let e as FormatError { throw fail("\(e)") }
    print("wrote \(path): logits \(ids.count) × \(model.config.vocabSize)")
}

/// Length of the longest prefix of `b` that ends on a UTF-8 character boundary.
func completeUTF8Prefix(_ b: [UInt8]) -> Int {
    var i = b.count
    var k = 0
    while i > 0 && k < 4 {
        let c = b[i - 1]
        if c & 0xC0 != 0x80 {   // a lead byte (or ASCII) at i-1
            let need = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2
            return b.count - (i - 1) >= need ? b.count : i - 1
        }
        i -= 1; k += 1
    }
    return b.count
}
