import Foundation
import Logging
import ServiceLifecycle
import SyncModel
import SyncStore
import SyncWire

/// The node's background sync loop: one round at a time, every `interval`, with exponential
/// backoff and jitter while the hub is unreachable. Sales keep working meanwhile: the loop
/// only reads and acknowledges the journal.
public actor SyncService: Service {
    public enum State: String, Sendable, Codable { case idle, syncing, backingOff, stopped }

    let store: NodeStore
    let transport: any HubTransport
    let interval: Duration
    let maxBackoff: Duration
    let logger: Logger
    public private(set) var state: State = .idle
    public private(set) var lastSummary: SyncSummary?
    public private(set) var lastError: String?
    public private(set) var consecutiveFailures = 0
    /// How long the hub asked to wait after the last failed round (`Retry-After`), if it did.
    public private(set) var hubAskedToWait: Duration?
    private var current: Task<SyncSummary, Error>?

    public init(store: NodeStore, transport: any HubTransport, interval: Duration = .seconds(5),
                maxBackoff: Duration = .seconds(60), logger: Logger) {
        self.store = store
        self.transport = transport
        self.interval = interval
        self.maxBackoff = maxBackoff
        self.logger = logger
    }

    /// Runs a round now, or waits for the one already running.
    public func syncNow() async throws -> SyncSummary {
        if let current { return try await current.value }
        let round = SyncRound(store: store, transport: transport)
        let task = Task { try await round.run() }
        current = task
        state = .syncing
        defer { current = nil }
        do {
            let summary = try await task.value
            lastSummary = summary
            lastError = nil
            consecutiveFailures = 0
            hubAskedToWait = nil
            state = .idle
            return summary
        } catch {
            lastError = String(describing: error)
            consecutiveFailures += 1
            hubAskedToWait = (error as? HubClientError)?.retryAfter
            state = .backingOff
            throw error
        }
    }

    /// The wait before the next round: `interval` after success; after failures
    /// interval * 2^failures capped at `maxBackoff`, with ±25 % jitter so nodes do not reconnect in step.
    public static func delay(interval: Duration, maxBackoff: Duration, failures: Int) -> Duration {
        guard failures > 0 else { return interval }
        let base = interval * (1 << min(failures, 16))
        let capped = min(base, maxBackoff)
        let jitter = Double.random(in: 0.75...1.25)
        return capped * jitter
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let s = try await self.syncNow()
                    if s.pushedEntries > 0 || s.pulledChanges > 0 {
                        self.logger.info("sync: pushed \(s.pushedEntries), pulled \(s.pulledChanges), renames \(s.renames.count)")
                    }
                } catch {
                    let failures = await self.consecutiveFailures
                    self.logger.warning("sync failed (\(failures) in a row): \(error)")
                }
                let failures = await self.consecutiveFailures
                // Never sooner than the hub asked (`Retry-After`), whatever the backoff says.
                let wait = max(Self.delay(interval: self.interval, maxBackoff: self.maxBackoff, failures: failures),
                               await self.hubAskedToWait ?? .zero)
                try? await Task.sleep(for: wait)
            }
        }
        state = .stopped
    }
}
