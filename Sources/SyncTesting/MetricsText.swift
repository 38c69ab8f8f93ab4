/// Reads samples out of the Prometheus text exposition format (`GET /metrics`), so tests assert
/// on a metric's value and not on the text around it.
public struct MetricsText: Sendable {
    /// Sample name with its labels as written (`poshub_x{node="A"}`) → value.
    public let samples: [String: Double]

    public init(_ text: String) {
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            // name[{labels}] value [timestamp]; label values here hold no spaces.
            let fields = line.split(separator: " ")
            guard fields.count >= 2, let value = Double(fields[1]) else { continue }
            samples[String(fields[0])] = value
        }
        self.samples = samples
    }

    /// The value of `name` with the given labels (none: the sample without labels).
    public func value(_ name: String, labels: [String: String] = [:]) -> Double? {
        if labels.isEmpty { return samples[name] }
        let rendered = labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: ",")
        return samples["\(name){\(rendered)}"]
    }
}
