import PareCore
import PareFormats
import PareModel

/// What a training run minimises: the model's own LM loss (`LanguageModelObjective`), or more
/// (distillation). Its trainable tensors are registered with the trainer by construction.
public protocol TrainingObjective: AnyObject {
    /// One micro-batch: forward and backward over tokens/targets (B, T), gradients added into
    /// the model's (and the auxiliary parameters') buffers with d(loss)/d(Σ) scaled by
    /// `lossScale`. Returns Σ loss over non-ignored targets and their count, plus extra named
    /// losses to log. `firstSample` is the index of the micro-batch's first sequence in the
    /// training stream (what a teacher cache is keyed by).
    func microStep(tokens: UnsafePointer<Int32>, targets: UnsafePointer<Int32>, acts: Activations, lossScale: Float, firstSample: Int) throws
        -> (sum: Double, count: Int, extra: [(String, Double)])
    /// Trainable tensors that belong to the objective, not the model (zeroed, clipped, updated
    /// and checkpointed with it).
    var auxiliaryParameters: [AuxiliaryParameter] { get }
    /// One validation pass over the first `batches` micro-batches of `val`: the model's LM loss
    /// and the objective's extra numbers, from one forward pass of the model per micro-batch.
    func validation(of model: LlamaModel, on val: BlendedSampleStream, batches: Int, microBatch: Int, communicator: Communicator) throws -> Validation
    /// Rows of logits the model's LM head materialises at once.
    var logitChunk: Int { get }
}

/// What a validation pass measured: the mean LM loss and the objective's extra numbers.
public struct Validation {
    public var loss: Double
    public var extras: [(String, Double)]
    public init(loss: Double, extras: [(String, Double)] = []) { self.loss = loss; self.extras = extras }
}

extension TrainingObjective {
    public var logitChunk: Int { Activations.lmLossChunk }
    public var auxiliaryParameters: [AuxiliaryParameter] { [] }

    /// The LM loss alone.
    public func validation(of model: LlamaModel, on val: BlendedSampleStream, batches: Int, microBatch B: Int, communicator: Communicator) throws -> Validation {
        let acts = Activations(config: model.config, B: B, T: val.seqLength, forTraining: false)
        let sums = try validationSums(val, batches: batches, microBatch: B, communicator: communicator) { batch, _ in
            let r = try batch.withPointers { try model.loss(tokens: $0, targets: $1, acts: acts) }
            return [r.sum, Double(r.count)]
        }
        return Validation(loss: sums[0] / max(sums[1], 1))
    }
}

/// Fine-tuning: the model's own next-token loss.
public final class LanguageModelObjective: TrainingObjective {
    public let model: LlamaModel
    public init(model: LlamaModel) { self.model = model }

    public func microStep(tokens: UnsafePointer<Int32>, targets: UnsafePointer<Int32>, acts: Activations, lossScale: Float, firstSample: Int) throws
        -> (sum: Double, count: Int, extra: [(String, Double)]) {
        let r = try model.forwardBackward(tokens: tokens, targets: targets, acts: acts, lossScale: lossScale)
        return (r.sum, r.count, [])
    }
}

/// Runs `body` on this rank's share of the first `batches` micro-batches of `stream` (every
/// size-th, from its rank: the same samples at every validation, so values compare across
/// steps) and returns the element-wise sums of the `count` numbers it returns, all-reduced over
/// the ranks. `body` also gets the micro-batch's index.
public func validationSums(_ stream: BlendedSampleStream, batches: Int, microBatch B: Int, communicator: Communicator, count: Int = 2,
                           _ body: (_ batch: Batch, _ index: Int) throws -> [Double]) throws -> [Double] {
    var batch = Batch(B: B, T: stream.seqLength)
    var sums = [Double](repeating: 0, count: count)
    for k in stride(from: communicator.rank, to: batches, by: communicator.size) {
        batch.fill(from: stream, first: k * B)
        for (i, x) in try body(batch, k).enumerated() { sums[i] += x }
    }
    try communicator.allReduceSum(&sums)
    return sums
}
