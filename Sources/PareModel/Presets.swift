/// Shapes of known models, for benchmarks and random-weight tests (`random:NAME`).
extension LlamaConfig {
    public static let presets: [String: LlamaConfig] = {
        var smol = LlamaConfig(vocabSize: 49152, hiddenSize: 576, intermediateSize: 1536, numHiddenLayers: 30,
                               numAttentionHeads: 9, numKeyValueHeads: 3, headDim: 64, maxPositionEmbeddings: 8192,
                               rmsNormEps: 1e-5, ropeTheta: 100_000, tieWordEmbeddings: true)
        smol.bosTokenId = .one(1); smol.eosTokenId = .one(2)
        var llama31 = LlamaConfig(vocabSize: 128_256, hiddenSize: 4096, intermediateSize: 14336, numHiddenLayers: 32,
                                  numAttentionHeads: 32, numKeyValueHeads: 8, headDim: 128, maxPositionEmbeddings: 131_072,
                                  rmsNormEps: 1e-5, ropeTheta: 500_000,
                                  ropeScaling: RopeScaling(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192))
        llama31.bosTokenId = .one(128_000); llama31.eosTokenId = .many([128_001, 128_008, 128_009])
        let tiny = LlamaConfig(vocabSize: 256, hiddenSize: 64, intermediateSize: 160, numHiddenLayers: 2,
                               numAttentionHeads: 4, numKeyValueHeads: 2, maxPositionEmbeddings: 512)
        // Qwen2.5-Coder-0.5B-Instruct as the bundled GGUF has it (untied output).
        var qwen = LlamaConfig(vocabSize: 151_936, hiddenSize: 896, intermediateSize: 4864, numHiddenLayers: 24,
                               numAttentionHeads: 14, numKeyValueHeads: 2, headDim: 64, maxPositionEmbeddings: 32768,
                               rmsNormEps: 1e-6, ropeTheta: 1_000_000)
        qwen.modelType = "qwen2"; qwen.architectures = ["Qwen2ForCausalLM"]; qwen.useSlidingWindow = false
        qwen.bosTokenId = .one(151_643); qwen.eosTokenId = .one(151_645)
        return ["smollm2-135m": smol, "llama-3.1-8b": llama31, "qwen2.5-0.5b": qwen, "tiny": tiny]
    }()
}
