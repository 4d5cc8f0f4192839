import PareCore
import PareModel

/// What `precision` means, for every command's help.
public let precisionHelp = "fp32, or bf16 mixed precision (bf16 matmul inputs, f32 accumulation, f32 master weights, norms, softmax and losses; needs a CPU with AVX512_BF16 or AMX, refused on others), or auto (bf16 where the CPU has it)"

/// The `precision` key of finetune, distill, prune calibration and eval (`--precision`, and the
/// pipeline's top-level `precision:`): fp32, bf16 mixed precision where the CPU has it, or
/// auto (bf16 where the CPU has it, else fp32).
public enum PrecisionSetting {
    /// The parsed value; an unknown name, or bf16 on a machine without it, names the key.
    public static func parse(_ value: String) throws -> Precision {
        if let problem = problem(value) { throw RecipeError.invalid("precision", problem) }
        if value == "auto" { return GEMM.bf16Unavailability == nil ? .bf16 : .fp32 }
        return Precision(rawValue: value)!
    }

    /// What is wrong with `value` (after the key's name), or nil.
    public static func problem(_ value: String) -> String? {
        if value == "auto" { return nil }
        guard let p = Precision(rawValue: value) else { return "must be fp32, bf16 or auto, not \"\(value)\"" }
        do { try GEMM.check(p) } catch { return ": \(error)" }
        return nil
    }

    /// Sets every model's matmul precision.
    static func apply(_ value: String, to models: LlamaModel...) throws {
        let p = try parse(value)
        for m in models { try m.setPrecision(p) }
    }
}
