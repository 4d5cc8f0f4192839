import PareCore
import PareModel
import PareTrain
#if canImport(Glibc)
import Glibc
#endif

/// How intermediate hidden states are compared, per token.
public enum IntermediateLossKind: String, Sendable, CaseIterable {
    case cosine   // 1 − cos(P·h_S, h_T)
    case mse      // mean over channels of (P·h_S − h_T)²
}

/// Minitron's intermediate-state loss: at mapped layers (student layer → teacher layer), the
/// student's hidden state after the norm, through one shared learned linear projection
/// P (C_T, C_S) when the hidden sizes differ, is compared with the teacher's. Summed over
/// mapped layers, summed over tokens (the trainer normalises by the global batch's tokens).
/// Its weight is dynamic: α = L_logits / L_is per micro-batch (no gradient through α), so
/// both terms carry the same magnitude.
public final class IntermediateLoss {
    public let kind: IntermediateLossKind
    public let layerMap: [(student: Int, teacher: Int)]
    /// P, when the hidden sizes differ; trained with the student.
    public let projection: AuxiliaryParameter?
    /// A fixed α; nil: α = L_logits / L_is at every step.
    public let weight: Double?
    let studentCapture: HiddenStateCapture
    let teacherCapture: HiddenStateCapture
    let CS: Int, CT: Int, N: Int
    let projected: FloatBuffer     // (N, C_T)  P·h_S for one layer
    let dOut: [FloatBuffer]        // per mapped pair: (N, C_T) d/d(P·h_S)
    let grads: [Int: FloatBuffer]   // student layer → d/d h_S (N, C_S)

    public init(kind: IntermediateLossKind, layerMap: [(student: Int, teacher: Int)], student: LlamaConfig, teacher: LlamaConfig,
                rows N: Int, seed: UInt64, weight: Double? = nil) throws {
        guard !layerMap.isEmpty else { throw DistillError.invalid("\(SettingName.ref("layer_map")) is empty") }
        for (s, t) in layerMap {
            guard s >= 0, s < student.numHiddenLayers else { throw DistillError.invalid("\(SettingName.ref("layer_map")): student layer \(s) does not exist (the student has layers 0…\(student.numHiddenLayers - 1))") }
            guard t >= 0, t < teacher.numHiddenLayers else { throw DistillError.invalid("\(SettingName.ref("layer_map")): teacher layer \(t) does not exist (the teacher has layers 0…\(teacher.numHiddenLayers - 1))") }
        }
        guard Set(layerMap.map(\.student)).count == layerMap.count else { throw DistillError.invalid("\(SettingName.ref("layer_map")) maps a student layer twice") }
        self.kind = kind; self.layerMap = layerMap; self.N = N; self.weight = weight
        CS = student.hiddenSize; CT = teacher.hiddenSize
        studentCapture = HiddenStateCapture(layers: layerMap.map(\.student), numLayers: student.numHiddenLayers, width: CS, rows: N)
        teacherCapture = HiddenStateCapture(layers: layerMap.map(\.teacher), numLayers: teacher.numHiddenLayers, width: CT, rows: N)
        projected = FloatBuffer(count: CS == CT ? 0 : N * CT)
        // Without a projection, d/d(h_S) is written straight into the layer's gradient.
        var g: [Int: FloatBuffer] = [:]
        for s in layerMap.map(\.student) { g[s] = FloatBuffer(count: N * student.hiddenSize) }
        grads = g
        let outWidth = teacher.hiddenSize
        dOut = student.hiddenSize == outWidth ? layerMap.map { g[$0.student]! } : layerMap.map { _ in FloatBuffer(count: N * outWidth) }
        if CS != CT {
            // Variance-preserving random start (std 1/√C_S): norms of P·h_S ≈ norms of h_S.
            let p = AuxiliaryParameter(name: "intermediate_projection.weight", shape: [CT, CS])
            var rng = RNG(seed: seed ^ 0x5eed_1a7e)
            let std = 1 / Float(CS).squareRoot()
            for i in 0..<p.count { p.values.pointer[i] = rng.normal() * std }
            projection = p
        } else {
            projection = nil
        }
    }

    /// Parses "S:T,S:T" (0-based layer indices).
    public static func parseLayerMap(_ text: String) throws -> [(student: Int, teacher: Int)] {
        try text.split(separator: ",").map { pair in
            let parts = pair.split(separator: ":").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard parts.count == 2, let s = parts[0], let t = parts[1] else {
                throw DistillError.invalid("\(SettingName.ref("layer_map")): '\(pair)' is not STUDENT:TEACHER (0-based layer numbers, e.g. 14:29)")
            }
            return (s, t)
        }
    }

    /// Σ over mapped layers and unmasked tokens of the per-token loss, with α·scale·gradients
    /// written for the student's backward (`grads`) and added into P's gradient.
    /// `logitLoss` is the logit loss summed over the same tokens, which sets α.
    func lossAndGradients(mask: [Bool], logitLoss: Double, scale: Float) -> (sum: Double, alpha: Double) {
        // Pass 1: the loss, and d/d(P·h_S) per mapped pair (scaled once α is known).
        var total = 0.0
        for ((s, t), d) in zip(layerMap, dOut) {
            let hS = studentCapture.state(s), hT = teacherCapture.state(t)
            let out: UnsafePointer<Float>
            if let P = projection {
                // (N, C_T) = h_S (N, C_S) · Pᵀ
                GEMM.gemm(transA: false, transB: true, M: N, N: CT, K: CS, A: hS, lda: CS, B: P.values.pointer, ldb: CS,
                          beta: 0, C: projected.pointer, ldc: CT)
                out = UnsafePointer(projected.pointer)
            } else {
                out = hS
            }
            total += stateLoss(out, hT, d.pointer, mask)
        }
        // α = L_logits / L_is (unless fixed), with L_is floored at 1e-3 per token and layer: a mapped layer that
        // already matches (e.g. an unpruned early layer) must not blow α up.
        let tokens = Double(mask.lazy.filter { $0 }.count * layerMap.count)
        let alpha = weight ?? (tokens > 0 ? logitLoss / max(total, 1e-3 * tokens) : 0)
        let k = Float(alpha) * scale
        // Pass 2: scale, and send the gradients back through P.
        for ((s, _), d) in zip(layerMap, dOut) {
            PareCore.scale(d.pointer, by: k, count: d.count)
            guard let P = projection else { continue }   // d is the layer's gradient already
            // dh_S (N, C_S) = dOut (N, C_T) · P (C_T, C_S);  dP (C_T, C_S) += dOutᵀ · h_S
            GEMM.gemm(transA: false, transB: false, M: N, N: CS, K: CT, A: d.pointer, lda: CT, B: P.values.pointer, ldb: CS,
                      beta: 0, C: grads[s]!.pointer, ldc: CS)
            GEMM.gemm(transA: true, transB: false, M: CT, N: CS, K: N, A: d.pointer, lda: CT, B: studentCapture.state(s), ldb: CS,
                      beta: 1, C: P.grads.pointer, ldc: CS)
        }
        return (total, alpha)
    }

    /// Σ over unmasked rows of the per-token loss between `out` (N, C_T) and `target`; dOut
    /// gets d(Σ)/d(out) (zero on masked rows).
    func stateLoss(_ out: UnsafePointer<Float>, _ target: UnsafePointer<Float>, _ dOut: UnsafeMutablePointer<Float>, _ mask: [Bool]) -> Double {
        var sum = 0.0
        let C = CT
        for n in 0..<N {
            let u = out + n * C, v = target + n * C, du = dOut + n * C
            guard mask[n] else { du.update(repeating: 0, count: C); continue }   // no loss, no gradient
            switch kind {
            case .cosine:
                let uv = Double(dot(u, v, C)), uu = Double(dot(u, u, C)), vv = Double(dot(v, v, C))
                let nu = max(uu.squareRoot(), 1e-8), nv = max(vv.squareRoot(), 1e-8)
                let cos = uv / (nu * nv)
                sum += 1 - cos
                // d(1 − cos)/du = −(v / (|u||v|) − cos · u / |u|²)
                let a = Float(-1 / (nu * nv)), b = Float(cos / (nu * nu))
                for c in 0..<C { du[c] = a * v[c] + b * u[c] }
            case .mse:
                var e = 0.0
                for c in 0..<C {
                    let diff = u[c] - v[c]
                    e += Double(diff * diff)
                    du[c] = 2 * diff / Float(C)
                }
                sum += e / Double(C)
            }
        }
        return sum
    }

    /// The gradients `backward` adds at the student's mapped layers.
    func hiddenGradients() -> [Int: UnsafePointer<Float>] {
        grads.mapValues { UnsafePointer($0.pointer) }
    }
}
