import XCTest
import PareTestSupport
import PareCore
import PareModel

final class DecodeAndAccumulationTests: XCTestCase {
    override func setUp() { Parallel.configure(threads: 2) }

    /// Prefill of a prefix, then one token at a time, reproduces the full-sequence logits.
    func testKVCacheDecodingMatchesFullSequence() throws {
        for name in Fixture.names {
            let f = try Fixture(name)
            let model = try f.model()
            let seq = Array(f.tokens[0..<f.T])
            let full = try model.logits(tokens: seq, B: 1, T: f.T)
            let V = f.config.vocabSize
            let cache = KVCache(config: f.config, maxTokens: f.T)
            var got = try model.forwardCached(tokens: Array(seq[0..<4]), cache: cache, allLogits: true)
            for t in 4..<f.T { got += try model.forwardCached(tokens: [seq[t]], cache: cache) }
            assertClose(got, full, atol: 1e-4, rtol: 0, "\(name) KV-cache logits")
            print("\(name): KV-cache decode vs full max |diff| \(maxAbsDiff(got, full))")
            XCTAssertEqual(got.count, f.T * V)
            XCTAssertThrowsError(try model.forwardCached(tokens: [1], cache: cache), "a full cache must refuse more tokens")
        }
    }

    /// Four micro-batches of 1 sequence give the same gradient as one batch of 4 when the
    /// loss is normalised by the global batch's target count.
    func testGradientAccumulationEqualsFullBatch() throws {
        let config = LlamaConfig(vocabSize: 97, hiddenSize: 32, intermediateSize: 48, numHiddenLayers: 2,
                                 numAttentionHeads: 4, numKeyValueHeads: 2, tieWordEmbeddings: true)
        let model = try LlamaModel(config: config)
        model.initializeRandom(seed: 7, std: 0.1)
        let B = 4, T = 12
        var rng = RNG(seed: 3)
        let tokens = (0..<B * T).map { _ in Int32(rng.next() % 97) }
        var targets = (0..<B * T).map { _ in Int32(rng.next() % 97) }
        targets[5] = ignoreIndex; targets[30] = ignoreIndex; targets[31] = ignoreIndex
        let count = targets.filter { $0 != ignoreIndex }.count
        let scale = 1 / Float(count)

        model.zeroGradients()
        let full = Activations(config: config, B: B, T: T)
        let r1 = try tokens.withUnsafeBufferPointer { t in try targets.withUnsafeBufferPointer { try model.forwardBackward(tokens: t.baseAddress!, targets: $0.baseAddress!, acts: full, lossScale: scale) } }
        let g1 = model.grads!.toArray()

        model.zeroGradients()
        let micro = Activations(config: config, B: 1, T: T)
        var sum: Double = 0
        for b in 0..<B {
            sum += try tokens.withUnsafeBufferPointer { t in try targets.withUnsafeBufferPointer {
                try model.forwardBackward(tokens: t.baseAddress! + b * T, targets: $0.baseAddress! + b * T, acts: micro, lossScale: scale).sum } }
        }
        let g2 = model.grads!.toArray()
        XCTAssertEqual(sum, r1.sum, accuracy: 1e-5 * abs(r1.sum))
        let norm = g1.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let diff = zip(g1, g2).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
        XCTAssertLessThanOrEqual(diff / norm, 1e-5, "relative gradient difference \(diff / norm)")
        assertClose(g2, g1, atol: 1e-7, rtol: 1e-4, "accumulated gradient")
        print("grad accumulation 4x1 vs 1x4: relative L2 difference \(diff / norm)")
    }

    func testConfigRoundTripsThroughJSON() throws {
        let json = """
        {"architectures":["LlamaForCausalLM"],"model_type":"llama","vocab_size":128256,"hidden_size":4096,
         "intermediate_size":14336,"num_hidden_layers":32,"num_attention_heads":32,"num_key_value_heads":8,
         "max_position_embeddings":131072,"rms_norm_eps":1e-05,"rope_theta":500000.0,
         "rope_scaling":{"factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192,"rope_type":"llama3"},
         "hidden_act":"silu","tie_word_embeddings":false,"attention_bias":false,"mlp_bias":false,
         "bos_token_id":128000,"eos_token_id":[128001,128008,128009],"torch_dtype":"bfloat16","use_cache":true,"pretraining_tp":1}
        """
        let c = try JSONDecoder().decode(LlamaConfig.self, from: Data(json.utf8))
        XCTAssertEqual(c.headDim, 128)
        XCTAssertEqual(c.eosTokenId?.ids, [128001, 128008, 128009])
        XCTAssertEqual(c.ropeScaling?.ropeType, "llama3")
        let back = try JSONDecoder().decode(LlamaConfig.self, from: JSONEncoder().encode(c))
        XCTAssertEqual(back, c)
        XCTAssertNoThrow(try c.validate())
        var bad = c
        bad.numKeyValueHeads = 5
        XCTAssertThrowsError(try bad.validate())
        bad = c
        bad.ropeScaling?.ropeType = "yarn"
        XCTAssertThrowsError(try bad.validate())
    }
}
