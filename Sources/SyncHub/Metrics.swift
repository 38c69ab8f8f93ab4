import Foundation

/// Hub counters, exposed at `GET /metrics` in the Prometheus text format.
public final class HubMetrics: @unchecked Sendable {
    private let lock = NSLock()
    private var counters: [String: Int64] = [:]
    /// Gauges by name, then by node.
    private var nodeGauges: [String: [String: Double]] = [:]
    /// Gauges without labels.
    private var gauges: [String: Double] = [:]
    private static let gaugeHelp: [String: String] = [
        "poshub_node_clock_offset_seconds": "Each node's wall clock minus the hub's, at its last push (X-Node-Clock).",
        "poshub_receiving_bytes": "Bytes of push bodies reserved by pushes being received or applied (bounded by --max-receiving-bytes).",
        "poshub_receiving_bytes_peak": "The most bytes of push bodies reserved at once since the hub started.",
    ]
    private static let help: [String: String] = [
        "poshub_push_requests_total": "Push requests received.",
        "poshub_push_refused_total": "Push requests refused (auth, format, limits, sequence).",
        "poshub_entries_applied_total": "Journal entries applied.",
        "poshub_entries_duplicate_total": "Journal entries recognised as already applied.",
        "poshub_entries_renamed_total": "Partners renamed by the store-prefix rule.",
        "poshub_entries_rejected_total": "Journal entries rejected with a reason.",
        "poshub_pull_requests_total": "Pull requests served.",
        "poshub_snapshot_requests_total": "Snapshots served.",
        "poshub_bytes_received_total": "Compressed batch bytes received.",
        "poshub_bytes_sent_total": "Compressed batch bytes sent.",
        "poshub_auth_failures_total": "Requests refused for a missing, unknown or mismatched token.",
        "poshub_feed_rows_swept_total": "Superseded feed log rows removed while no push came.",
        "poshub_push_decode_microseconds_total": "Time spent decoding and preparing pushed batches (beside the writer).",
        "poshub_push_apply_microseconds_total": "Time pushes spent with the single writer: waiting for it (a sweep step, a move) and applying.",
        "poshub_push_admission_waits_total": "Pushes that waited for a place among the pushes the hub holds at once (two, of all nodes).",
        "poshub_push_shed_total": "Pushes answered 503 because the hub held as many body bytes as --max-receiving-bytes allows.",
        "poshub_slow_requests_closed_total": "Connections closed because a request had not arrived within --request-timeout.",
    ]

    public init() {
        for name in Self.help.keys { counters[name] = 0 }
    }

    public func add(_ name: String, _ value: Int64 = 1) {
        lock.lock(); counters[name, default: 0] += value; lock.unlock()
    }

    public func value(_ name: String) -> Int64 {
        lock.lock(); defer { lock.unlock() }; return counters[name] ?? 0
    }

    /// Sets a gauge of one node (`name{node="..."}`).
    public func setGauge(_ name: String, node: String, _ value: Double) {
        lock.lock(); nodeGauges[name, default: [:]][node] = value; lock.unlock()
    }

    /// Sets a gauge without labels.
    public func setGauge(_ name: String, _ value: Double) {
        lock.lock(); gauges[name] = value; lock.unlock()
    }

    public func gauge(_ name: String, node: String) -> Double? {
        lock.lock(); defer { lock.unlock() }; return nodeGauges[name]?[node]
    }

    public func prometheusText() -> String {
        lock.lock(); let snapshot = counters, nodeGauges = self.nodeGauges, plain = self.gauges; lock.unlock()
        var out = ""
        for (name, value) in snapshot.sorted(by: { $0.key < $1.key }) {
            out += "# HELP \(name) \(Self.help[name] ?? name)\n# TYPE \(name) counter\n\(name) \(value)\n"
        }
        for (name, value) in plain.sorted(by: { $0.key < $1.key }) {
            out += "# HELP \(name) \(Self.gaugeHelp[name] ?? name)\n# TYPE \(name) gauge\n\(name) \(value)\n"
        }
        for (name, byNode) in nodeGauges.sorted(by: { $0.key < $1.key }) {
            out += "# HELP \(name) \(Self.gaugeHelp[name] ?? name)\n# TYPE \(name) gauge\n"
            // Node ids are letters, digits, '-' and '_' (`NodeIdentity`): nothing to escape.
            for (node, value) in byNode.sorted(by: { $0.key < $1.key }) { out += "\(name){node=\"\(node)\"} \(value)\n" }
        }
        return out
    }
}
