import Foundation
import Prometheus

/// The hub's metrics, typed, in a Prometheus registry of their own (swift-prometheus), exposed
/// at `GET /metrics`. `poshub serve` also bootstraps swift-metrics with this registry, so
/// Hummingbird's `MetricsMiddleware` adds the HTTP requests by route and status.
public final class HubMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()

    public let pushRequests: Counter
    public let pushRefused: Counter
    public let pushShed: Counter
    public let pushAdmissionWaits: Counter
    public let entriesApplied: Counter
    public let entriesDuplicate: Counter
    public let entriesRenamed: Counter
    public let entriesRejected: Counter
    public let pullRequests: Counter
    public let snapshotRequests: Counter
    public let bytesReceived: Counter
    public let bytesSent: Counter
    public let authFailures: Counter
    public let feedRowsSwept: Counter
    public let slowRequestsClosed: Counter
    /// Unauthenticated connections refused (their address held its share) and closed (the
    /// oldest, for a new one; or no request head in time).
    public let unauthenticatedRefused: Counter
    public let unauthenticatedClosed: Counter

    /// Decoding and preparing a pushed batch (beside the push being applied).
    public let pushDecode: DurationHistogram
    /// A push with the single writer: waiting for it (a sweep step, a move) and applying.
    public let pushApply: DurationHistogram
    public let pull: DurationHistogram
    public let snapshot: DurationHistogram

    public let receivingBytes: Gauge
    public let receivingBytesPeak: Gauge

    /// From 1 ms to 30 s: a small push takes milliseconds, a 7,500-entry one about a second.
    static let buckets: [Duration] = [.milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                                      .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500),
                                      .seconds(5), .seconds(10), .seconds(30)]

    public init() {
        let r = registry
        pushRequests = r.makeCounter(name: "poshub_push_requests_total", help: "Push requests received.")
        pushRefused = r.makeCounter(name: "poshub_push_refused_total", help: "Push requests refused (auth, format, limits, sequence).")
        pushShed = r.makeCounter(name: "poshub_push_shed_total",
                                 help: "Pushes answered 503 because the hub held as many body bytes as --max-receiving-bytes allows.")
        pushAdmissionWaits = r.makeCounter(name: "poshub_push_admission_waits_total",
                                           help: "Pushes that waited for a place among the pushes the hub holds at once (two, of all nodes).")
        entriesApplied = r.makeCounter(name: "poshub_entries_applied_total", help: "Journal entries applied.")
        entriesDuplicate = r.makeCounter(name: "poshub_entries_duplicate_total", help: "Journal entries recognised as already applied.")
        entriesRenamed = r.makeCounter(name: "poshub_entries_renamed_total", help: "Partners renamed by the store-prefix rule.")
        entriesRejected = r.makeCounter(name: "poshub_entries_rejected_total", help: "Journal entries rejected with a reason.")
        pullRequests = r.makeCounter(name: "poshub_pull_requests_total", help: "Pull requests served.")
        snapshotRequests = r.makeCounter(name: "poshub_snapshot_requests_total", help: "Snapshots served.")
        bytesReceived = r.makeCounter(name: "poshub_bytes_received_total", help: "Compressed batch bytes received.")
        bytesSent = r.makeCounter(name: "poshub_bytes_sent_total", help: "Compressed batch bytes sent.")
        authFailures = r.makeCounter(name: "poshub_auth_failures_total", help: "Requests refused for a missing, unknown or mismatched token.")
        feedRowsSwept = r.makeCounter(name: "poshub_feed_rows_swept_total", help: "Superseded feed log rows removed while no push came.")
        slowRequestsClosed = r.makeCounter(name: "poshub_slow_requests_closed_total",
                                           help: "Connections closed because a request had not arrived within --request-timeout.")
        unauthenticatedRefused = r.makeCounter(name: "poshub_unauthenticated_refused_total",
                                               help: "Connections closed at once: their address held --max-unauthenticated-per-address connections without a valid token.")
        unauthenticatedClosed = r.makeCounter(name: "poshub_unauthenticated_closed_total",
                                              help: "Connections without a valid token closed: no request head within --head-timeout, or the oldest beyond --max-unauthenticated.")
        pushDecode = r.makeDurationHistogram(name: "poshub_push_decode_seconds", buckets: Self.buckets,
                                             help: "Decoding and preparing a pushed batch, beside the push being applied.")
        pushApply = r.makeDurationHistogram(name: "poshub_push_apply_seconds", buckets: Self.buckets,
                                            help: "A push with the single writer: waiting for it (a sweep step, a move) and applying.")
        pull = r.makeDurationHistogram(name: "poshub_pull_seconds", buckets: Self.buckets, help: "Reading a feed page for a pull.")
        snapshot = r.makeDurationHistogram(name: "poshub_snapshot_seconds", buckets: Self.buckets, help: "Reading a snapshot page.")
        receivingBytes = r.makeGauge(name: "poshub_receiving_bytes",
                                     help: "Bytes of push bodies reserved by pushes being received or applied (bounded by --max-receiving-bytes).")
        receivingBytesPeak = r.makeGauge(name: "poshub_receiving_bytes_peak", help: "The most bytes of push bodies reserved at once since the hub started.")
    }

    /// Stores by their state (`StoreStatus.State`), as the console lists them.
    public func stores(state: String) -> Gauge {
        registry.makeGauge(name: "poshub_stores", labels: [("state", state)],
                           help: "Stores by state: not-seen, behind, revoked, in-sync (poshub node status, the console).")
    }

    /// Each node's wall clock minus the hub's at its last push (`X-Node-Clock`), seconds.
    public func nodeClockOffset(node: String) -> Gauge {
        registry.makeGauge(name: "poshub_node_clock_offset_seconds", labels: [("node", node)],
                           help: "Each node's wall clock minus the hub's, at its last push (X-Node-Clock).")
    }

    /// The journal entries a node still had to send after its last push (`X-Pending-Entries`):
    /// a backlog that does not drain shows here.
    public func nodePendingEntries(node: String) -> Gauge {
        registry.makeGauge(name: "poshub_node_pending_entries", labels: [("node", node)],
                           help: "Journal entries a node reported as still to send after its last push.")
    }

    /// The exposition text.
    public func text() -> String { registry.emitToString() }
}
