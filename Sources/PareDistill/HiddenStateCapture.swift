import PareCore
import PareModel

/// Copies hidden states out of a forward pass. The hidden state after layer l is taken
/// "after the norm": the output of the RMSNorm that reads the residual stream leaving layer l
/// — layer l+1's input norm, or the final norm for the last layer — so it is what the rest of
/// the model sees, and works with inference-only activations that reuse one layer's buffers.
final class HiddenStateCapture: ForwardObserver {
    let numLayers: Int
    let width: Int                       // C
    private(set) var states: [Int: FloatBuffer] = [:]   // layer → (N, C)

    init(layers: [Int], numLayers: Int, width: Int, rows N: Int) {
        self.numLayers = numLayers; self.width = width
        for l in layers { states[l] = FloatBuffer(count: N * width) }
    }

    func observe(_ site: ActivationSite, layer: Int, values: UnsafePointer<Float>, B: Int, T: Int, width: Int) {
        guard site == .inputNorm, layer > 0, let s = states[layer - 1] else { return }
        s.pointer.update(from: values, count: B * T * width)
    }

    /// The last layer's state is the final norm's output, which the activations keep.
    func finish(_ acts: Activations) {
        if let s = states[numLayers - 1] { s.pointer.update(from: acts.finalHidden, count: acts.N * width) }
    }

    func state(_ l: Int) -> UnsafePointer<Float> { UnsafePointer(states[l]!.pointer) }
}
