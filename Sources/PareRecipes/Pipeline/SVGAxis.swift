import Foundation

/// Axis ticks as matplotlib's default locator places them: round steps of 1, 2, 2.5 or 5
/// times a power of ten, about five to an axis, labelled with just the decimals the step
/// needs; an axis of whole numbers (training steps) gets whole-number steps.
struct SVGAxis {
    let low: Double, high: Double
    let ticks: [Double]
    let decimals: Int

    /// Ticks over [low, high]; `integers` for counts such as steps.
    init(low: Double, high: Double, integers: Bool = false, target: Int = 5) {
        var lo = low, hi = high
        if hi <= lo { (lo, hi) = (lo - 0.5, lo + 0.5) }
        self.low = lo; self.high = hi
        let step = SVGAxis.niceStep((hi - lo) / Double(target), integers: integers)
        let first = (lo / step).rounded(.up), last = (hi / step).rounded(.down)
        ticks = first <= last ? stride(from: first, through: last, by: 1).map { $0 * step } : []
        decimals = integers ? 0 : max(0, Int((-log10(step)).rounded(.up)) + (SVGAxis.needsExtraDigit(step) ? 1 : 0))
    }

    /// The smallest of 1, 2, 2.5, 5, 10 × 10^k at least `raw` (whole numbers ≥ 1 for integer axes).
    static func niceStep(_ raw: Double, integers: Bool) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        let p = pow(10, (log10(raw)).rounded(.down))
        let m = [1, 2, 2.5, 5, 10].first { $0 * p >= raw * (1 - 1e-9) }! * p
        if integers { return max(1, m == 2.5 * p && p < 10 ? 5 * p : m.rounded()) }
        return m
    }

    /// 2.5 × 10^k needs one digit more than its power (0.25, not 0.2).
    static func needsExtraDigit(_ step: Double) -> Bool {
        let p = pow(10, (log10(step)).rounded(.down))
        return abs(step / p - 2.5) < 1e-9 && p < 10
    }

    func label(_ v: Double) -> String {
        let s = String(format: "%.\(decimals)f", v)
        return s == "-0" || s.hasPrefix("-0.") && Double(s) == 0 ? String(s.dropFirst()) : s
    }

    /// The data range with matplotlib's 5% margin on both sides.
    static func padded(_ values: [Double], margin: Double = 0.05) -> (Double, Double) {
        guard let lo = values.min(), let hi = values.max() else { return (0, 1) }
        let span = hi > lo ? hi - lo : max(abs(lo), 1)
        return (lo - span * margin, hi + span * margin)
    }
}

/// Text widths for laying out legends (the SVG has no text metrics): sans-serif at `size`
/// averages about 0.6 em per character, so a legend box sized by this never clips its text.
func svgTextWidth(_ s: String, size: Double = 12) -> Double { Double(s.count) * size * 0.62 }

func svgEscape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
}
