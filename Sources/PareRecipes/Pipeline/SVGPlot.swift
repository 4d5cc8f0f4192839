import Foundation

/// A line chart as standalone SVG: series of (x, y) points, round-numbered ticks (whole
/// numbers on a step axis), optional dashed reference lines (e.g. the teacher's loss), and a
/// legend sized to its text beside the plot.
struct SVGPlot {
    var title: String, xLabel: String, yLabel: String
    var series: [(name: String, points: [(Double, Double)])]
    /// Horizontal dashed lines, each with its legend entry.
    var references: [(name: String, value: Double)] = []
    /// Whether x counts something (steps): then its ticks are whole numbers.
    var integerX = true

    static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]

    func render(width: Double = 640, height: Double = 400) -> String {
        let all = series.flatMap(\.points).filter { $0.0.isFinite && $0.1.isFinite }
        guard !all.isEmpty else { return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"40\"><text x=\"10\" y=\"25\">\(svgEscape(title)): no data</text></svg>" }
        let refs = references.filter { $0.value.isFinite }
        let names = series.map(\.name) + refs.map(\.name)
        let legendW = (names.map { svgTextWidth($0) }.max() ?? 0) + 34
        let l = 64.0, r = legendW + 16, t = 40.0, b = 50.0
        let canvasW = width + legendW   // the plot keeps its width whatever the legend holds
        let xr = SVGAxis.padded(all.map(\.0)), yr = SVGAxis.padded(all.map(\.1) + refs.map(\.value))
        let xa = SVGAxis(low: xr.0, high: xr.1, integers: integerX), ya = SVGAxis(low: yr.0, high: yr.1)
        let plotRight = canvasW - r
        func px(_ x: Double) -> Double { l + (x - xa.low) / (xa.high - xa.low) * (plotRight - l) }
        func py(_ y: Double) -> Double { height - b - (y - ya.low) / (ya.high - ya.low) * (height - t - b) }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(canvasW))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\((l + plotRight) / 2)\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">\(svgEscape(title))</text>\n"
        for y in ya.ticks {
            s += "<line x1=\"\(l)\" y1=\"\(py(y))\" x2=\"\(plotRight)\" y2=\"\(py(y))\" stroke=\"#ddd\"/>\n"
            s += "<line x1=\"\(l - 4)\" y1=\"\(py(y))\" x2=\"\(l)\" y2=\"\(py(y))\" stroke=\"black\"/>\n"
            s += "<text x=\"\(l - 7)\" y=\"\(py(y) + 4)\" text-anchor=\"end\">\(ya.label(y))</text>\n"
        }
        for x in xa.ticks {
            s += "<line x1=\"\(px(x))\" y1=\"\(height - b)\" x2=\"\(px(x))\" y2=\"\(height - b + 4)\" stroke=\"black\"/>\n"
            s += "<text x=\"\(px(x))\" y=\"\(height - b + 17)\" text-anchor=\"middle\">\(xa.label(x))</text>\n"
        }
        s += "<rect x=\"\(l)\" y=\"\(t)\" width=\"\(plotRight - l)\" height=\"\(height - t - b)\" fill=\"none\" stroke=\"black\"/>\n"
        s += "<text x=\"\((l + plotRight) / 2)\" y=\"\(height - 12)\" text-anchor=\"middle\">\(svgEscape(xLabel))</text>\n"
        s += "<text transform=\"translate(16 \(t + (height - t - b) / 2)) rotate(-90)\" text-anchor=\"middle\">\(svgEscape(yLabel))</text>\n"
        for (i, se) in series.enumerated() {
            let c = SVGPlot.colors[i % SVGPlot.colors.count]
            let points = se.points.filter { $0.0.isFinite && $0.1.isFinite }
            s += "<polyline fill=\"none\" stroke=\"\(c)\" stroke-width=\"2\" points=\"\(points.map { "\(px($0.0)),\(py($0.1))" }.joined(separator: " "))\"/>\n"
            for p in points { s += "<circle cx=\"\(px(p.0))\" cy=\"\(py(p.1))\" r=\"3\" fill=\"\(c)\"/>\n" }
        }
        for ref in refs {
            s += "<line x1=\"\(l)\" y1=\"\(py(ref.value))\" x2=\"\(plotRight)\" y2=\"\(py(ref.value))\" stroke=\"black\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n"
        }
        // The legend, right of the plot, as wide as its longest entry.
        let lx = plotRight + 12
        for (i, name) in names.enumerated() {
            let y = t + 6 + Double(i) * 20
            if i < series.count {
                s += "<rect x=\"\(lx)\" y=\"\(y)\" width=\"14\" height=\"12\" fill=\"\(SVGPlot.colors[i % SVGPlot.colors.count])\"/>"
            } else {
                s += "<line x1=\"\(lx)\" y1=\"\(y + 6)\" x2=\"\(lx + 14)\" y2=\"\(y + 6)\" stroke=\"black\" stroke-width=\"1.5\" stroke-dasharray=\"4 2\"/>"
            }
            s += "<text x=\"\(lx + 20)\" y=\"\(y + 11)\">\(svgEscape(name))</text>\n"
        }
        return s + "</svg>\n"
    }
}
