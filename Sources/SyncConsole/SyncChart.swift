import Foundation
import SyncHub

/// A store's sync rounds over the last day as an SVG the hub draws itself (no script, no
/// resource from elsewhere): the backlog at each round (bars, left axis) and the round's time
/// (dots, right axis).
enum SyncChart {
    static func svg(_ rounds: [SyncRoundRecord], now: Double, width: Int = 900, height: Int = 220) -> String {
        let left = 50.0, right = 50.0, top = 14.0, bottom = 26.0
        let w = Double(width) - left - right, h = Double(height) - top - bottom
        let start = now - 86_400
        let maxBacklog = max(1, rounds.map(\.backlog).max() ?? 1)
        let maxSeconds = max(0.001, rounds.map(\.seconds).max() ?? 0.001)
        func x(_ at: Double) -> Double { left + (at - start) / 86_400 * w }
        var parts: [String] = []
        parts.append(##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \##(width) \##(height)" width="\##(width)" height="\##(height)" role="img" aria-label="Backlog and round time over the last day" id="chart">"##)
        parts.append(##"<line x1="\##(left)" y1="\##(top + h)" x2="\##(left + w)" y2="\##(top + h)" stroke="#999"/>"##)
        for hour in stride(from: 0, through: 24, by: 6) {
            let px = left + Double(hour) / 24 * w
            parts.append(##"<line x1="\##(f(px))" y1="\##(top)" x2="\##(f(px))" y2="\##(top + h)" stroke="#eee"/>"##)
            parts.append(##"<text x="\##(f(px))" y="\##(Double(height) - 8)" font-size="11" text-anchor="middle" fill="#555">\##(hour == 24 ? "now" : "-\(24 - hour) h")</text>"##)
        }
        parts.append(##"<text x="4" y="\##(top + 10)" font-size="11" fill="#a15c00">\##(maxBacklog)</text>"##)
        parts.append(##"<text x="\##(Double(width) - 46)" y="\##(top + 10)" font-size="11" fill="#1f3a5f">\##(String(format: "%.2f s", maxSeconds))</text>"##)
        for r in rounds where r.at >= start {
            let bh = Double(r.backlog) / Double(maxBacklog) * h
            if bh > 0 { parts.append(##"<rect x="\##(f(x(r.at)))" y="\##(f(top + h - bh))" width="2" height="\##(f(bh))" fill="#e0a100" class="backlog"/>"##) }
            parts.append(##"<circle cx="\##(f(x(r.at)))" cy="\##(f(top + h - r.seconds / maxSeconds * h))" r="2" fill="#1f3a5f" class="round"/>"##)
        }
        if rounds.isEmpty {
            parts.append(##"<text x="\##(f(left + w / 2))" y="\##(f(top + h / 2))" font-size="13" text-anchor="middle" fill="#555">No sync rounds in the last day</text>"##)
        }
        parts.append(##"<text x="\##(left)" y="\##(top - 3)" font-size="11" fill="#a15c00">backlog (entries)</text>"##)
        parts.append(##"<text x="\##(left + w)" y="\##(top - 3)" font-size="11" fill="#1f3a5f" text-anchor="end">round time</text>"##)
        parts.append("</svg>")
        return parts.joined(separator: "\n")
    }

    static func f(_ v: Double) -> String { String(format: "%.1f", v) }
}
