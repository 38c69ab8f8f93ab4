import Foundation
import Logging
import ServiceLifecycle
import SyncStore

/// Sweeps the hub's feed log (`HubStore.sweepFeed`): a store catching up appends at full speed
/// and the rows its edits superseded are removed afterwards, a step at a time, so a push that
/// arrives waits for one step at most. Steps run back to back while no push, pull or
/// snapshot page has come for `idleSeconds`; on a hub that is never that idle (many stores
/// syncing every few seconds),
/// one step every `busyInterval`, so the log cannot grow without bound. A new pass over the
/// log starts once it has grown by a tenth (at least one step) since the last pass began.
public struct FeedSweeper: Service {
    public var store: HubStore
    /// How long no push or feed read must have ended before steps run back to back.
    public var idleSeconds: Double
    /// Log rows read per step (one write transaction each).
    public var step: Int
    /// How often it looks.
    public var interval: Duration
    /// How often a step runs while pushes keep coming.
    public var busyInterval: Duration
    /// Counts the rows removed (`poshub_feed_rows_swept_total`).
    public var metrics: HubMetrics?

    public init(store: HubStore, metrics: HubMetrics? = nil, idleSeconds: Double = 1, step: Int = 5000,
                interval: Duration = .milliseconds(250), busyInterval: Duration = .seconds(2)) {
        self.store = store
        self.metrics = metrics
        self.idleSeconds = idleSeconds
        self.step = step
        self.interval = interval
        self.busyInterval = busyInterval
    }

    /// Whether a pass should start when the last one began at `lastStart` (-1: none yet) and
    /// the log now ends at `end`.
    static func passDue(lastStart: Int64, end: Int64, step: Int) -> Bool {
        lastStart < 0 ? end > 0 : end - lastStart >= max(Int64(step), lastStart / 10)
    }

    /// Runs until the task is cancelled or the service group shuts down (`poshub serve` on
    /// SIGTERM: after the server has answered its last request). A failed step is tried again
    /// at the next look.
    public func run() async {
        let store = self.store, step = self.step
        var lastStart: Int64 = -1          // the log's end when the last pass began
        var pass: (end: Int64, sweep: HubStore.SweepPass)?
        var lastStep = ContinuousClock.now
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: interval)
            let idle = store.idle(for: idleSeconds)
            guard idle || lastStep.duration(to: .now) >= busyInterval, let end = try? store.feedEnd() else { continue }
            if pass == nil {
                guard Self.passDue(lastStart: lastStart, end: end, step: step) else { continue }
                pass = (end, HubStore.SweepPass())
            }
            repeat {
                guard !Task.isCancelled, !Task.isShuttingDownGracefully, var current = pass,
                      let s = try? await offload({ try store.sweepFeed(maxRows: step) }) else { break }
                lastStep = .now
                if s.removed > 0 { metrics?.feedRowsSwept.increment(by: Int64(s.removed)) }
                if current.sweep.complete(after: s) {
                    lastStart = current.end
                    pass = nil
                    break
                }
                pass = current
            } while store.idle(for: idleSeconds)
        }
    }
}

/// Closes the hub's store when `poshub serve` shuts down, after the server and the sweeper
/// (the service group stops its services in reverse order): the push in flight has been
/// answered, the background checkpoint drained, the log emptied (`HubStore.close`).
public struct HubStoreCloser: Service {
    public var store: HubStore
    public var logger: Logger

    public init(store: HubStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    public func run() async throws {
        // Returns when shutdown begins (or the group is cancelled).
        try? await gracefulShutdown()
        do {
            try store.close()
            logger.info("hub store closed")
        } catch {
            logger.error("hub store not closed cleanly", metadata: ["error": "\(error)"])
        }
    }
}
