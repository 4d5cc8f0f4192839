/// `rope_scaling` from config.json. Pare implements `llama3` (Llama 3.1 and 3.2) and
/// `default`; any other type is refused rather than silently ignored.
public struct RopeScaling: Codable, Equatable, Sendable {
    public var ropeType: String
    public var factor: Double
    public var lowFreqFactor: Double
    public var highFreqFactor: Double
    public var originalMaxPositionEmbeddings: Int

    enum CodingKeys: String, CodingKey {
        case ropeType = "rope_type", factor
        case lowFreqFactor = "low_freq_factor", highFreqFactor = "high_freq_factor"
        case originalMaxPositionEmbeddings = "original_max_position_embeddings"
    }

    public init(ropeType: String = "llama3", factor: Double, lowFreqFactor: Double, highFreqFactor: Double, originalMaxPositionEmbeddings: Int) {
        self.ropeType = ropeType; self.factor = factor; self.lowFreqFactor = lowFreqFactor
        self.highFreqFactor = highFreqFactor; self.originalMaxPositionEmbeddings = originalMaxPositionEmbeddings
    }

    /// Older configs say "type", newer ones "rope_type" (which is what Pare writes).
    enum LegacyKeys: String, CodingKey { case type }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let legacy = try decoder.container(keyedBy: LegacyKeys.self)
        ropeType = try c.decodeIfPresent(String.self, forKey: .ropeType) ?? legacy.decodeIfPresent(String.self, forKey: .type) ?? "default"
        factor = try c.decodeIfPresent(Double.self, forKey: .factor) ?? 1
        lowFreqFactor = try c.decodeIfPresent(Double.self, forKey: .lowFreqFactor) ?? 1
        highFreqFactor = try c.decodeIfPresent(Double.self, forKey: .highFreqFactor) ?? 4
        originalMaxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .originalMaxPositionEmbeddings) ?? 8192
    }

    func validate() throws {
        guard ropeType == "llama3" || ropeType == "default" else {
            throw ModelError.invalidConfig("rope_scaling type \"\(ropeType)\" is not supported (Pare supports \"llama3\" and \"default\")")
        }
        guard factor > 0, highFreqFactor > lowFreqFactor else {
            throw ModelError.invalidConfig("rope_scaling needs factor > 0 and high_freq_factor > low_freq_factor")
        }
    }

    /// Llama 3.1's frequency remapping, step for step as HF's `_compute_llama3_parameters`
    /// (fp32 like torch): long wavelengths are divided by `factor`, short ones kept, and the
    /// band between interpolated smoothly.
    func llama3(_ invFreq: [Float]) -> [Float] {
        let oldContext = Float(originalMaxPositionEmbeddings)
        let factor = Float(self.factor), low = Float(lowFreqFactor), high = Float(highFreqFactor)
        let lowFreqWavelen = oldContext / low
        let highFreqWavelen = oldContext / high
        return invFreq.map { f in
            let wavelen = 2 * Float.pi / f
            if wavelen < highFreqWavelen { return f }
            if wavelen > lowFreqWavelen { return f / factor }
            let smooth = (oldContext / wavelen - low) / (high - low)
            return (1 - smooth) * f / factor + smooth * f
        }
    }
}
