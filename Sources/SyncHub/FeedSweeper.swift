import Foundation
import SyncStore

/// Sweeps the hub's feed log (`HubStore.sweepFeed`) while no push comes: a store catching up
/// appends at full speed and the rows its edits superseded are removed afterwards, a step at
/// a time, so a push that arrives waits for one step at most. Once a whole pass has found
/// the log's end where it was, it waits for new pushes.
public struct FeedSweeper: Sendable {
    public var store: HubStore
    /// How long no push must have ended before a step runs.
    public var idleSeconds: Double
    /// Log rows read per step (one write transaction each).
    public var step: Int
    /// How often it looks.
    public var interval: Duration
    /// Counts the rows removed (`poshub_feed_rows_swept_total`).
    public var metrics: HubMetrics?

    public init(store: HubStore, metrics: HubMetrics? = nil, idleSeconds: Double = 1, step: Int = 5000, interval: Duration = .milliseconds(250)) {
        self.store = store
        self.metrics = metrics
        self.idleSeconds = idleSeconds
        self.step = step
        self.interval = interval
    }

    /// Runs until the task is cancelled. A failed step is tried again at the next look.
    public func run() async {
        let store = self.store, step = self.step
        var sweptEnd: Int64 = -1          // the log's end when the last whole pass began
        var pass: (end: Int64, sawBeginning: Bool)?
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            guard store.idle(for: idleSeconds), let end = try? store.feedEnd() else { continue }
            if pass == nil {
                guard end != sweptEnd else { continue }
                pass = (end, false)
            }
            while store.idle(for: idleSeconds), !Task.isCancelled, var current = pass,
                  let s = try? await offload({ try store.sweepFeed(maxRows: step) }) {
                if s.removed > 0 { metrics?.add("poshub_feed_rows_swept_total", Int64(s.removed)) }
                current.sawBeginning = current.sawBeginning || s.startedAfter == 0
                if s.wrapped && current.sawBeginning {
                    sweptEnd = current.end
                    pass = nil
                    break
                }
                if s.wrapped { current.sawBeginning = true }
                pass = current
            }
        }
    }
}
