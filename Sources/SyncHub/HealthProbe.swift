import Foundation
import GRDB
import SyncStore

/// Whether the hub can do its work: `GET /health` answers 503 with the reason while the store
/// cannot be written (a read-only file or file system, a full disk), when every push would
/// fail. The store is probed with a one-row write at most every `interval` (a probe costs a
/// commit); callers in between get the last verdict.
public actor HealthProbe {
    let store: HubStore
    let interval: Duration
    private var last: (at: ContinuousClock.Instant, problem: String?)?

    public init(store: HubStore, interval: Duration = .seconds(2)) {
        self.store = store
        self.interval = interval
    }

    /// Nil when healthy, else why not (never SQL text).
    public func problem() async -> String? {
        let now = ContinuousClock.now
        if let last, now - last.at < interval { return last.problem }
        let store = self.store
        let problem: String?
        do {
            try await offload { try store.probeWrite() }
            problem = nil
        } catch let e as DatabaseError {
            problem = "the hub's store cannot be written (\(e.resultCode): \(e.message ?? "no message")); pushes fail until it can"
        } catch {
            problem = "the hub's store cannot be written (\(type(of: error))); pushes fail until it can"
        }
        last = (now, problem)
        return problem
    }
}
