import Foundation

/// Grouped bars as standalone SVG: one group per category (a task), one bar per series (a
/// model), values in [0, 1]. The first series is the reference (the teacher): its value is
/// also drawn across each group as a dashed line, so a student's gap is read directly.
struct SVGBarChart {
    var title: String, yLabel: String
    var categories: [String]
    var series: [(name: String, values: [Double?])]   // values[i] belongs to categories[i]

    func render(width: Double = 760, height: Double = 420) -> String {
        // The legend sits right of the bars, as wide as its longest entry (it was clipped at 200 px).
        let legendW = (series.enumerated().map { svgTextWidth($0.element.name + ($0.offset == 0 ? " (dashed line)" : "")) }.max() ?? 0) + 34
        let l = 60.0, r = legendW + 12, t = 40.0, b = 50.0
        let width = max(width, l + r + 80 * Double(max(categories.count, 1)))
        let plotW = width - l - r, plotH = height - t - b
        func py(_ y: Double) -> Double { height - b - y * plotH }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(width / 2)\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">\(svgEscape(title))</text>\n"
        for i in 0...5 {
            let y = Double(i) / 5
            s += "<line x1=\"\(l)\" y1=\"\(py(y))\" x2=\"\(l + plotW)\" y2=\"\(py(y))\" stroke=\"#ddd\"/>\n"
            s += "<text x=\"\(l - 6)\" y=\"\(py(y) + 4)\" text-anchor=\"end\">\(String(format: "%.1f", y))</text>\n"
        }
        s += "<line x1=\"\(l)\" y1=\"\(py(0))\" x2=\"\(l + plotW)\" y2=\"\(py(0))\" stroke=\"black\"/>\n"
        s += "<text transform=\"translate(16 \(t + plotH / 2)) rotate(-90)\" text-anchor=\"middle\">\(svgEscape(yLabel))</text>\n"
        let groupW = plotW / Double(max(categories.count, 1))
        let barW = groupW * 0.8 / Double(max(series.count, 1))
        for (c, name) in categories.enumerated() {
            let g0 = l + Double(c) * groupW + groupW * 0.1
            for (k, se) in series.enumerated() {
                guard c < se.values.count, let v = se.values[c], v.isFinite else { continue }
                let x = g0 + Double(k) * barW, y = py(min(max(v, 0), 1))
                s += "<rect x=\"\(x)\" y=\"\(y)\" width=\"\(barW * 0.9)\" height=\"\(py(0) - y)\" fill=\"\(SVGPlot.colors[k % SVGPlot.colors.count])\"><title>\(svgEscape(se.name)): \(String(format: "%.3f", v))</title></rect>\n"
            }
            if let ref = series.first, c < ref.values.count, let v = ref.values[c], v.isFinite {
                s += "<line x1=\"\(g0)\" y1=\"\(py(v))\" x2=\"\(g0 + groupW * 0.8)\" y2=\"\(py(v))\" stroke=\"black\" stroke-dasharray=\"4 3\"/>\n"
            }
            s += "<text x=\"\(g0 + groupW * 0.4)\" y=\"\(height - b + 16)\" text-anchor=\"middle\">\(svgEscape(name))</text>\n"
        }
        for (k, se) in series.enumerated() {
            s += "<rect x=\"\(width - r + 12)\" y=\"\(t + 6 + Double(k) * 18)\" width=\"12\" height=\"12\" fill=\"\(SVGPlot.colors[k % SVGPlot.colors.count])\"/>"
            s += "<text x=\"\(width - r + 30)\" y=\"\(t + 16 + Double(k) * 18)\">\(svgEscape(se.name))\(k == 0 ? " (dashed line)" : "")</text>\n"
        }
        return s + "</svg>\n"
    }

}
