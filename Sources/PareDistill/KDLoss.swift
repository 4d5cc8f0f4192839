import PareCore
#if canImport(Glibc)
import Glibc
#endif

/// Logit distillation losses, per token over the vocabulary, at temperature τ:
/// p_T = softmax(z_T/τ), p_S = softmax(z_S/τ).
///   forward-kl    KL(p_T ‖ p_S) = Σ p_T (log p_T − log p_S)    (Minitron's best single loss)
///   reverse-kl    KL(p_S ‖ p_T)
///   symmetric-kl  ½ (forward + reverse)
///   jsd           β KL(p_T ‖ M) + (1 − β) KL(p_S ‖ M), M = β p_T + (1 − β) p_S
/// No τ² factor (NeMo / Model Optimizer's LogitsKLLoss has none either); τ = 1 is the default.
public enum KDLoss: String, Codable, Sendable, CaseIterable {
    case forwardKL = "forward-kl", reverseKL = "reverse-kl", symmetricKL = "symmetric-kl", jsd
}

public struct KDSettings: Sendable {
    public var loss: KDLoss = .forwardKL
    public var temperature: Float = 1
    public var jsdBeta: Float = 0.5
    public init(loss: KDLoss = .forwardKL, temperature: Float = 1, jsdBeta: Float = 0.5) {
        self.loss = loss; self.temperature = temperature; self.jsdBeta = jsdBeta
    }
}

/// For each of N rows: the KD loss between teacher logits (row stride ldT) and student
/// logits (N, V), computed in Double per row. When `gradScale` is given, the student logits
/// are overwritten with gradScale · d(loss)/d(z_S). Rows whose `mask` is false contribute
/// nothing (and get zero gradient). Only the first V entries of each teacher row are used,
/// so teachers with a slightly larger (padded) vocabulary work on the common prefix.
public func kdLossForwardBackward(student: UnsafeMutablePointer<Float>, teacher: UnsafePointer<Float>, ldT: Int,
                                  mask: UnsafePointer<Bool>?, N: Int, V: Int, settings s: KDSettings,
                                  gradScale: Float?) -> (sum: Double, count: Int) {
    let partial = UnsafeMutablePointer<(Double, Int)>.allocate(capacity: N)
    defer { partial.deallocate() }
    let box = UncheckedBox((student, partial))
    Parallel.forRange(N, costPerItem: V * 12) { r0, r1 in
        let (student, partial) = box.value
        var logPT = [Double](repeating: 0, count: V), logPS = logPT
        var g = [Double](repeating: 0, count: V), gq = g   // d loss / d z_S (before 1/τ); JSD's ∂/∂p_S
        for n in r0..<r1 {
            let zs = student + n * V, zt = teacher + n * ldT
            if let mask, !mask[n] {
                partial[n] = (0, 0)
                if gradScale != nil { zs.update(repeating: 0, count: V) }
                continue
            }
            logSoftmax(zt, V, s.temperature, &logPT)
            logSoftmax(UnsafePointer(zs), V, s.temperature, &logPS)
            var loss = 0.0
            switch s.loss {
            case .forwardKL, .reverseKL, .symmetricKL:
                var fkl = 0.0, rkl = 0.0
                for j in 0..<V {
                    let pt = exp(logPT[j]), ps = exp(logPS[j])
                    fkl += pt * (logPT[j] - logPS[j])
                    rkl += ps * (logPS[j] - logPT[j])
                }
                let wf = s.loss == .forwardKL ? 1.0 : s.loss == .symmetricKL ? 0.5 : 0
                let wr = s.loss == .reverseKL ? 1.0 : s.loss == .symmetricKL ? 0.5 : 0
                loss = wf * fkl + wr * rkl
                if gradScale != nil {
                    // forward: p_S − p_T;  reverse: p_S (log p_S − log p_T − KL(p_S‖p_T))
                    for j in 0..<V {
                        let pt = exp(logPT[j]), ps = exp(logPS[j])
                        g[j] = wf * (ps - pt) + wr * ps * (logPS[j] - logPT[j] - rkl)
                    }
                }
            case .jsd:
                let b = Double(s.jsdBeta)
                var dot = 0.0
                for j in 0..<V {
                    let pt = exp(logPT[j]), ps = exp(logPS[j])
                    let m = b * pt + (1 - b) * ps
                    let logM = log(max(m, 1e-300))
                    if pt > 0 { loss += b * pt * (logPT[j] - logM) }
                    if ps > 0 { loss += (1 - b) * ps * (logPS[j] - logM) }
                    // ∂JSD/∂p_S = (1 − β) log(p_S / M); through the softmax: p_S (g − Σ p_S g)
                    gq[j] = (1 - b) * (logPS[j] - logM)
                    dot += ps * gq[j]
                }
                if gradScale != nil { for j in 0..<V { g[j] = exp(logPS[j]) * (gq[j] - dot) } }
            }
            partial[n] = (loss, 1)
            if let gs = gradScale {
                let k = Double(gs) / Double(s.temperature)
                for j in 0..<V { zs[j] = Float(g[j] * k) }
            }
        }
    }
    var sum = 0.0, count = 0
    for n in 0..<N { sum += partial[n].0; count += partial[n].1 }
    return (sum, count)
}

/// log softmax(z / τ) in Double.
@inline(__always)
func logSoftmax(_ z: UnsafePointer<Float>, _ V: Int, _ tau: Float, _ out: inout [Double]) {
    let t = Double(tau)
    var m = -Double.infinity
    for j in 0..<V { m = max(m, Double(z[j]) / t) }
    var s = 0.0
    for j in 0..<V { s += exp(Double(z[j]) / t - m) }
    let lse = m + log(s)
    for j in 0..<V { out[j] = Double(z[j]) / t - lse }
}
