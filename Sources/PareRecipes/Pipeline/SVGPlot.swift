import Foundation

/// A small line chart as standalone SVG: series of (x, y) points, axes with ticks, a legend.
struct SVGPlot {
    var title: String, xLabel: String, yLabel: String
    var series: [(name: String, points: [(Double, Double)])]

    static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]

    func render(width: Double = 640, height: Double = 400) -> String {
        let l = 70.0, r = 20.0, t = 40.0, b = 50.0
        let all = series.flatMap(\.points).filter { $0.1.isFinite }
        guard !all.isEmpty else { return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"40\"><text x=\"10\" y=\"25\">\(esc(title)): no data</text></svg>" }
        var (x0, x1) = (all.map(\.0).min()!, all.map(\.0).max()!)
        var (y0, y1) = (all.map(\.1).min()!, all.map(\.1).max()!)
        if x1 == x0 { x1 = x0 + 1 }
        if y1 == y0 { y1 = y0 + 1 }
        let pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad
        x0 = min(x0, 0)
        func px(_ x: Double) -> Double { l + (x - x0) / (x1 - x0) * (width - l - r) }
        func py(_ y: Double) -> Double { height - b - (y - y0) / (y1 - y0) * (height - t - b) }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(width / 2)\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">\(esc(title))</text>\n"
        s += "<line x1=\"\(l)\" y1=\"\(height - b)\" x2=\"\(width - r)\" y2=\"\(height - b)\" stroke=\"black\"/>\n"
        s += "<line x1=\"\(l)\" y1=\"\(t)\" x2=\"\(l)\" y2=\"\(height - b)\" stroke=\"black\"/>\n"
        for i in 0...5 {
            let x = x0 + (x1 - x0) * Double(i) / 5, y = y0 + (y1 - y0) * Double(i) / 5
            s += "<text x=\"\(px(x))\" y=\"\(height - b + 16)\" text-anchor=\"middle\">\(fmt(x))</text>\n"
            s += "<text x=\"\(l - 6)\" y=\"\(py(y) + 4)\" text-anchor=\"end\">\(fmt(y))</text>\n"
            s += "<line x1=\"\(l)\" y1=\"\(py(y))\" x2=\"\(width - r)\" y2=\"\(py(y))\" stroke=\"#ddd\"/>\n"
        }
        s += "<text x=\"\(width / 2)\" y=\"\(height - 12)\" text-anchor=\"middle\">\(esc(xLabel))</text>\n"
        s += "<text transform=\"translate(16 \(height / 2)) rotate(-90)\" text-anchor=\"middle\">\(esc(yLabel))</text>\n"
        for (i, se) in series.enumerated() {
            let c = SVGPlot.colors[i % SVGPlot.colors.count]
            let pts = se.points.filter { $0.1.isFinite }.map { "\(px($0.0)),\(py($0.1))" }.joined(separator: " ")
            s += "<polyline fill=\"none\" stroke=\"\(c)\" stroke-width=\"2\" points=\"\(pts)\"/>\n"
            for p in se.points where p.1.isFinite { s += "<circle cx=\"\(px(p.0))\" cy=\"\(py(p.1))\" r=\"3\" fill=\"\(c)\"/>\n" }
            s += "<rect x=\"\(width - r - 150)\" y=\"\(t + 6 + Double(i) * 18)\" width=\"12\" height=\"12\" fill=\"\(c)\"/>"
            s += "<text x=\"\(width - r - 132)\" y=\"\(t + 16 + Double(i) * 18)\">\(esc(se.name))</text>\n"
        }
        return s + "</svg>\n"
    }

    func fmt(_ v: Double) -> String { abs(v) >= 100 ? String(format: "%.0f", v) : String(format: "%.2f", v) }
    func esc(_ s: String) -> String { s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;") }
}
