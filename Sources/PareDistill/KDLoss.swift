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
    /// When set, the teacher's distribution is truncated to its k most likely tokens and
    /// renormalised (as when teacher logits are stored sparsely); the student keeps its full
    /// softmax, so mass it puts elsewhere is still penalised. Defined for forward KL and JSD;
    /// reverse and symmetric KL would divide by the zero teacher probabilities.
    public var topK: Int?
    public init(loss: KDLoss = .forwardKL, temperature: Float = 1, jsdBeta: Float = 0.5, topK: Int? = nil) {
        self.loss = loss; self.temperature = temperature; self.jsdBeta = jsdBeta; self.topK = topK
    }

    /// Why these settings cannot be used, or nil; `V` is the distilled vocabulary when the
    /// models are loaded (nil before: then k is only checked to be positive).
    public func problem(vocabulary V: Int?) -> String? {
        if !(temperature > 0) { return "\(SettingName.ref("temperature")) must be positive" }
        if !(jsdBeta > 0 && jsdBeta < 1) { return "\(SettingName.ref("jsd_beta")) must be between 0 and 1" }
        if let k = topK {
            if k < 1 { return "\(SettingName.ref("top_k_logits")) must be at least 1, not \(k)" }
            if let V, k > V { return "\(SettingName.ref("top_k_logits")) must be at most the vocabulary size (\(V)), not \(k)" }
            if loss == .reverseKL || loss == .symmetricKL {
                return "\(SettingName.ref("top_k_logits")) works with forward-kl and jsd only: \(loss.rawValue) needs the teacher's full distribution"
            }
        }
        return nil
    }
}

/// For each of N rows: the KD loss between teacher logits (row stride ldT) and student
/// logits (N, V). When `gradScale` is given, the student logits are overwritten with
/// gradScale · d(loss)/d(z_S). Rows whose `mask` is false contribute nothing (and get zero
/// gradient). Only the first V entries of each teacher row are used, so teachers with a
/// slightly larger (padded) vocabulary work on the common prefix.
/// Float SIMD inside a row (log-probabilities are formed directly, never as differences of
/// large sums), Double across rows; `kdLossForwardBackwardNaive` is the Double twin.
public func kdLossForwardBackward(student: UnsafeMutablePointer<Float>, teacher: UnsafePointer<Float>, ldT: Int,
                                  mask: UnsafePointer<Bool>?, N: Int, V: Int, settings s: KDSettings,
                                  gradScale: Float?) -> (sum: Double, count: Int) {
    kdLossForwardBackward(student: student, teacher: .dense(teacher, ld: ldT), mask: mask, N: N, V: V, settings: s, gradScale: gradScale)
}

/// The teacher's side of a KD batch: full logit rows (stride `ld`), or each row's top k as a
/// teacher cache stores them (ids in `topIndices` order and the raw logits there), which give
/// the same truncated distribution bit for bit.
public enum TeacherLogits {
    case dense(UnsafePointer<Float>, ld: Int)
    case topK(ids: UnsafePointer<Int32>, logits: UnsafePointer<Float>, k: Int)
}

public func kdLossForwardBackward(student: UnsafeMutablePointer<Float>, teacher: TeacherLogits,
                                  mask: UnsafePointer<Bool>?, N: Int, V: Int, settings s: KDSettings,
                                  gradScale: Float?) -> (sum: Double, count: Int) {
    let profiled = KernelProfile.begin(.loss); defer { KernelProfile.end(profiled) }
    if case .topK(_, _, let k) = teacher { precondition(s.topK == k && k < V, "a cached teacher's k is the settings' top_k_logits, below V") }
    let partial = UnsafeMutablePointer<(Double, Int)>.allocate(capacity: N)
    defer { partial.deallocate() }
    let box = UncheckedBox((student, partial))
    Parallel.forRange(N, costPerItem: V * 6) { r0, r1 in
        let (student, partial) = box.value
        let ls = UnsafeMutablePointer<Float>.allocate(capacity: V), lt = UnsafeMutablePointer<Float>.allocate(capacity: V)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: V)   // JSD's ∂/∂p_S
        defer { ls.deallocate(); lt.deallocate(); scratch.deallocate() }
        var top: [Int] = [], values: [Float] = []
        for n in r0..<r1 {
            let zs = student + n * V
            if let mask, !mask[n] {
                partial[n] = (0, 0)
                if gradScale != nil { zs.update(repeating: 0, count: V) }
                continue
            }
            logSoftmaxRow(out: ls, zs, V, scale: 1 / s.temperature)
            switch teacher {
            case let .dense(t, ld):
                let zt = t + n * ld
                if let k = s.topK, k < V {
                    topIndices(zt, V, k, &top)
                    values.removeAll(keepingCapacity: true)
                    for j in top { values.append(zt[j]) }
                    truncatedLogSoftmax(top, values, V, 1 / s.temperature, lt)
                } else {
                    top.removeAll(keepingCapacity: true)
                    logSoftmaxRow(out: lt, zt, V, scale: 1 / s.temperature)
                }
            case let .topK(ids, logits, k):
                top.removeAll(keepingCapacity: true); values.removeAll(keepingCapacity: true)
                for i in (n * k)..<((n + 1) * k) { top.append(Int(ids[i])); values.append(logits[i]) }
                truncatedLogSoftmax(top, values, V, 1 / s.temperature, lt)
            }
            let k = gradScale.map { $0 / s.temperature }
            let loss: Double
            switch s.loss {
            case .forwardKL where !top.isEmpty: loss = forwardKLSparse(lt, ls, top, V, zs, k)
            case .forwardKL, .reverseKL, .symmetricKL:
                let wf: Float = s.loss == .forwardKL ? 1 : s.loss == .symmetricKL ? 0.5 : 0
                loss = klDense(lt, ls, V, wf: wf, wr: 1 - wf, zs, k)
            case .jsd: loss = jsdRow(lt, ls, V, s.jsdBeta, zs, k, scratch: scratch)
            }
            partial[n] = (loss, 1)
        }
    }
    var sum = 0.0, count = 0
    for n in 0..<N { sum += partial[n].0; count += partial[n].1 }
    return (sum, count)
}

/// Indices of the k largest entries of z (ties broken by lower index), via a min-heap.
func topIndices(_ z: UnsafePointer<Float>, _ V: Int, _ k: Int, _ out: inout [Int]) {
    out.removeAll(keepingCapacity: true)
    func less(_ a: Int, _ b: Int) -> Bool { z[a] < z[b] || (z[a] == z[b] && a > b) }   // "worse"
    func siftDown(_ i0: Int) {
        var i = i0
        while true {
            let l = 2 * i + 1, r = l + 1
            var w = i
            if l < out.count && less(out[l], out[w]) { w = l }
            if r < out.count && less(out[r], out[w]) { w = r }
            if w == i { return }
            out.swapAt(i, w); i = w
        }
    }
    for j in 0..<V {
        if out.count < k {
            out.append(j)
            var i = out.count - 1
            while i > 0 && less(out[i], out[(i - 1) / 2]) { out.swapAt(i, (i - 1) / 2); i = (i - 1) / 2 }
        } else if less(out[0], j) {
            out[0] = j; siftDown(0)
        }
    }
}

/// lt = log of the teacher's distribution truncated to `top` (whose logits are `values`) and
/// renormalised: −∞ (p_T = 0) outside `top`.
func truncatedLogSoftmax(_ top: [Int], _ values: [Float], _ V: Int, _ invT: Float, _ lt: UnsafeMutablePointer<Float>) {
    lt.update(repeating: -.infinity, count: V)
    var m = -Float.infinity
    for z in values { m = max(m, z) }
    var sum = 0.0
    for z in values { sum += Double(expf((z - m) * invT)) }
    let lse = m * invT + Float(log(sum))
    for (j, z) in zip(top, values) { lt[j] = z * invT - lse }
}

/// wf · KL(p_T‖p_S) + wr · KL(p_S‖p_T) over a dense row; with k, z becomes k · ∂/∂(z/τ):
/// forward p_S − p_T; reverse p_S (log p_S − log p_T − KL(p_S‖p_T)).
@inline(__always)
func klDense(_ lt: UnsafePointer<Float>, _ ls: UnsafePointer<Float>, _ V: Int, wf: Float, wr: Float,
             _ z: UnsafeMutablePointer<Float>, _ k: Float?) -> Double {
    var fv = F8(), rv = F8()
    var fkl = 0.0, rkl = 0.0
    var j = 0
    while j + 8 <= V {
        let a = load8(lt + j), b = load8(ls + j)
        let d = a - b
        fv = fv.addingProduct(exp8(a), d)
        rv = rv.addingProduct(exp8(b), -d)
        j += 8
    }
    while j < V {
        let d = lt[j] - ls[j]
        fkl += Double(expf(lt[j]) * d); rkl -= Double(expf(ls[j]) * d)
        j += 1
    }
    fkl += Double(fv.sum()); rkl += Double(rv.sum())
    guard let k else { return Double(wf) * fkl + Double(wr) * rkl }
    let kv = F8(repeating: k), wfv = F8(repeating: wf), wrv = F8(repeating: wr), rk = F8(repeating: Float(rkl))
    j = 0
    while j + 8 <= V {
        let a = load8(lt + j), b = load8(ls + j)
        let pt = exp8(a), ps = exp8(b)
        let g = wfv * (ps - pt) + wrv * ps * (b - a - rk)
        store8(g * kv, z + j)
        j += 8
    }
    while j < V {
        let pt = expf(lt[j]), ps = expf(ls[j])
        z[j] = k * (wf * (ps - pt) + wr * ps * (ls[j] - lt[j] - Float(rkl)))
        j += 1
    }
    return Double(wf) * fkl + Double(wr) * rkl
}

/// Forward KL against a teacher truncated to `top`: Σ_top p_T (log p_T − log p_S);
/// gradient p_S − p_T with p_T zero outside `top`.
func forwardKLSparse(_ lt: UnsafePointer<Float>, _ ls: UnsafePointer<Float>, _ top: [Int], _ V: Int,
                     _ z: UnsafeMutablePointer<Float>, _ k: Float?) -> Double {
    var loss = 0.0
    for j in top { loss += Double(expf(lt[j]) * (lt[j] - ls[j])) }
    guard let k else { return loss }
    let kv = F8(repeating: k)
    var j = 0
    while j + 8 <= V { store8(exp8(load8(ls + j)) * kv, z + j); j += 8 }
    while j < V { z[j] = expf(ls[j]) * k; j += 1 }
    for j in top { z[j] -= expf(lt[j]) * k }
    return loss
}

/// Generalised JSD: β KL(p_T‖M) + (1 − β) KL(p_S‖M), M = β p_T + (1 − β) p_S (p_T is zero
/// where lt is −∞, as for a truncated teacher). ∂/∂p_S = (1 − β) log(p_S / M); through the
/// softmax p_S (g − Σ p_S g). `scratch` holds V floats.
func jsdRow(_ lt: UnsafePointer<Float>, _ ls: UnsafePointer<Float>, _ V: Int, _ beta: Float,
            _ z: UnsafeMutablePointer<Float>, _ k: Float?, scratch gq: UnsafeMutablePointer<Float>) -> Double {
    let b = Double(beta)
    var loss = 0.0, dot = 0.0
    for j in 0..<V {
        let pt = Double(expf(lt[j])), ps = Double(expf(ls[j]))
        let logM = log(max(b * pt + (1 - b) * ps, 1e-300))
        if pt > 0 { loss += b * pt * (Double(lt[j]) - logM) }
        if ps > 0 { loss += (1 - b) * ps * (Double(ls[j]) - logM) }
        let g = (1 - b) * (Double(ls[j]) - logM)
        gq[j] = Float(g)
        dot += ps * g
    }
    if let k { for j in 0..<V { z[j] = k * expf(ls[j]) * (gq[j] - Float(dot)) } }
    return loss
}

/// The Double twin of `kdLossForwardBackward` (full teacher distribution only), for tests.
public func kdLossForwardBackwardNaive(student: UnsafeMutablePointer<Float>, teacher: UnsafePointer<Float>, ldT: Int,
                                       mask: UnsafePointer<Bool>?, N: Int, V: Int, settings s: KDSettings,
                                       gradScale: Float?) -> (sum: Double, count: Int) {
    precondition(s.topK == nil, "the naive twin has no top-k")
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
