#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Softmax cross-entropy over rows of logits (N, V), fused with its gradient the llm.c way:
// the logits buffer is overwritten in place by dloss/dlogits, so a chunk of rows needs one
// (rows × V) buffer in all. Targets equal to `ignoreIndex` contribute no loss and no gradient.

public let ignoreIndex: Int32 = -100

/// Returns Σ loss over non-ignored rows and their count; losses[n] gets each row's loss
/// (0 when ignored). When `gradScale` is non-nil, logits become gradScale · (softmax − onehot).
@discardableResult
public func crossEntropyForwardBackward(
    logits: UnsafeMutablePointer<Float>, losses: UnsafeMutablePointer<Float>?, targets: UnsafePointer<Int32>,
    N: Int, V: Int, gradScale: Float?
) -> (sum: Double, count: Int) {
    let profiled = KernelProfile.begin(.loss); defer { KernelProfile.end(profiled) }
    let partial = UnsafeMutablePointer<(Double, Int)>.allocate(capacity: N)
    defer { partial.deallocate() }
    let box = UncheckedBox((logits, losses, partial))
    Parallel.forRange(N, costPerItem: V * 4) { start, end in
        let (logits, losses, partial) = box.value
        for n in start..<end {
            let row = logits + n * V
            let t = Int(targets[n])
            let ignored = targets[n] == ignoreIndex
            let lse = logSumExpRow(row, V)
            let loss = ignored ? 0 : lse - row[t]
            losses?[n] = loss
            partial[n] = (Double(loss), ignored ? 0 : 1)
            guard let g = gradScale else { continue }
            if ignored { row.update(repeating: 0, count: V); continue }
            // softmax = exp(x − lse); gradient = g · (softmax − onehot)
            let lv = F8(repeating: lse), gv = F8(repeating: g)
            var j = 0
            while j + 8 <= V { store8(exp8(load8(row + j) - lv) * gv, row + j); j += 8 }
            while j < V { row[j] = expf(row[j] - lse) * g; j += 1 }
            row[t] -= g
        }
    }
    var sum: Double = 0, count = 0
    for n in 0..<N { sum += partial[n].0; count += partial[n].1 }
    return (sum, count)
}

/// Naive twin in Double.
public func crossEntropyForwardBackwardNaive(
    logits: UnsafeMutablePointer<Float>, losses: UnsafeMutablePointer<Float>?, targets: UnsafePointer<Int32>,
    N: Int, V: Int, gradScale: Float?
) -> (sum: Double, count: Int) {
    var sum: Double = 0, count = 0
    for n in 0..<N {
        let row = logits + n * V
        let ignored = targets[n] == ignoreIndex
        var m = -Double.infinity
        for j in 0..<V { m = max(m, Double(row[j])) }
        var s: Double = 0
        for j in 0..<V { s += exp(Double(row[j]) - m) }
        let lse = m + log(s)
        let loss = ignored ? 0 : lse - Double(row[Int(targets[n])])
        losses?[n] = Float(loss)
        if !ignored { sum += loss; count += 1 }
        if let g = gradScale {
            for j in 0..<V {
                row[j] = ignored ? 0 : Float((exp(Double(row[j]) - lse) - (j == Int(targets[n]) ? 1 : 0)) * Double(g))
            }
        }
    }
    return (sum, count)
}
