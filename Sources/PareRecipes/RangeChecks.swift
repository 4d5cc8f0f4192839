import PareModel

/// `tokens` (a sequence length) must fit the model's positions: beyond them RoPE extrapolates
/// into garbage, and a KV cache or activation buffer sized by it can exhaust memory.
func checkPositions(_ tokens: Int, key: String, model config: LlamaConfig, _ path: String) throws {
    let limit = config.usablePositions
    guard tokens <= limit else {
        throw RecipeError.invalid(key, "(\(tokens)) exceeds the \(limit) positions of \(path) (\(config.usablePositionsKey)); use at most \(limit)")
    }
}
