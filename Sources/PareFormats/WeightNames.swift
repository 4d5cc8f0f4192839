/// The one translation table between Hugging Face Llama parameter names and llama.cpp's GGUF
/// names, and the q/k row permutation between their rotary layouts.
public enum WeightNames {
    /// (GGUF suffix within a block, HF suffix within a layer)
    static let layerTable: [(gguf: String, hf: String)] = [
        ("attn_norm", "input_layernorm"),
        ("attn_q", "self_attn.q_proj"), ("attn_k", "self_attn.k_proj"),
        ("attn_v", "self_attn.v_proj"), ("attn_output", "self_attn.o_proj"),
        ("attn_q_norm", "self_attn.q_norm"), ("attn_k_norm", "self_attn.k_norm"),
        ("ffn_norm", "post_attention_layernorm"),
        ("ffn_gate", "mlp.gate_proj"), ("ffn_up", "mlp.up_proj"), ("ffn_down", "mlp.down_proj"),
    ]
    /// Gemma's norms: llama.cpp's ffn_norm is the MLP's input norm (HF pre_feedforward_layernorm),
    /// and HF's post_attention_layernorm normalises the attention output (post_attention_norm).
    static let gemmaLayerTable: [(gguf: String, hf: String)] = [
        ("post_attention_norm", "post_attention_layernorm"), ("ffn_norm", "pre_feedforward_layernorm"),
        ("post_ffw_norm", "post_feedforward_layernorm"),
    ] + layerTable.filter { $0.gguf != "ffn_norm" }
    static let globalTable: [(gguf: String, hf: String)] = [
        ("token_embd", "model.embed_tokens"), ("output_norm", "model.norm"), ("output", "lm_head"),
    ]

    /// HF name → GGUF name, e.g. "model.layers.3.self_attn.q_proj.weight" → "blk.3.attn_q.weight".
    /// `gemma`: Gemma's norm names (gemmaLayerTable).
    public static func gguf(fromHF name: String, gemma: Bool = false) -> String? {
        let layerTable = gemma ? gemmaLayerTable : layerTable
        let (stem, kind) = splitKind(name)
        if let g = globalTable.first(where: { $0.hf == stem }) { return g.gguf + kind }
        guard stem.hasPrefix("model.layers.") else { return nil }
        let rest = stem.dropFirst("model.layers.".count)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]) else { return nil }
        let suffix = String(rest[rest.index(after: dot)...])
        guard let e = layerTable.first(where: { $0.hf == suffix }) else { return nil }
        return "blk.\(layer).\(e.gguf)" + kind
    }

    /// GGUF name → HF name.
    public static func hf(fromGGUF name: String, gemma: Bool = false) -> String? {
        let layerTable = gemma ? gemmaLayerTable : layerTable
        let (stem, kind) = splitKind(name)
        if let g = globalTable.first(where: { $0.gguf == stem }) { return g.hf + kind }
        guard stem.hasPrefix("blk.") else { return nil }
        let rest = stem.dropFirst(4)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]) else { return nil }
        let suffix = String(rest[rest.index(after: dot)...])
        guard let e = layerTable.first(where: { $0.gguf == suffix }) else { return nil }
        return "model.layers.\(layer).\(e.hf)" + kind
    }

    private static func splitKind(_ name: String) -> (String, String) {
        for kind in [".weight", ".bias"] where name.hasSuffix(kind) { return (String(name.dropLast(kind.count)), kind) }
        return (name, "")
    }

    /// Heads whose rows llama.cpp permutes: q_proj by query heads, k_proj by KV heads; nil for
    /// every other tensor (v and o are never permuted).
    public static func permutedHeads(hfName: String, queryHeads: Int, kvHeads: Int) -> Int? {
        if hfName.hasSuffix("self_attn.q_proj.weight") || hfName.hasSuffix("self_attn.q_proj.bias") { return queryHeads }
        if hfName.hasSuffix("self_attn.k_proj.weight") || hfName.hasSuffix("self_attn.k_proj.bias") { return kvHeads }
        return nil
    }

    /// llama.cpp rotates adjacent pairs (2j, 2j+1); HF rotates halves (j, j + hd/2). Within each
    /// head of hd rows: HF[h·hd + t·hd/2 + j] = GGUF[h·hd + 2j + t]. `rows` (heads·hd, cols).
    public static func unpermuteRows(_ x: UnsafeMutablePointer<Float>, heads: Int, rows: Int, cols: Int) {
        permute(x, heads: heads, rows: rows, cols: cols, toHF: true)
    }

    /// The inverse, for writing GGUF.
    public static func permuteRows(_ x: UnsafeMutablePointer<Float>, heads: Int, rows: Int, cols: Int) {
        permute(x, heads: heads, rows: rows, cols: cols, toHF: false)
    }

    private static func permute(_ x: UnsafeMutablePointer<Float>, heads: Int, rows: Int, cols: Int, toHF: Bool) {
        let hd = rows / heads, half = hd / 2
        var tmp = [Float](repeating: 0, count: hd * cols)
        for h in 0..<heads {
            let head = x + h * hd * cols
            tmp.withUnsafeMutableBufferPointer { t in
                for t2 in 0..<2 {
                    for j in 0..<half {
                        let hfRow = t2 * half + j, ggufRow = 2 * j + t2
                        let (dst, src) = toHF ? (hfRow, ggufRow) : (ggufRow, hfRow)
                        (t.baseAddress! + dst * cols).update(from: head + src * cols, count: cols)
                    }
                }
                head.update(from: t.baseAddress!, count: hd * cols)
            }
        }
    }
}
