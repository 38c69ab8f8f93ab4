import Foundation
import GRDB
import SyncStore

/// Copies a database's write-ahead log into the database file on a connection and thread of its
/// own, so the writer's commits do not.
///
/// With SQLite's automatic checkpoint, the commit that fills the log past its limit copies
/// every page of the log into the database and syncs it before it returns: in the hub's
/// catch-up, every fourth push took half as long again. Here, after each write the store asks
/// for a passive checkpoint (`request`); it runs on a background thread at a lower priority
/// (`BackgroundThreads.checkpoints`), at most one at a time (requests while one runs are merged
/// into one more run), and never waits for or blocks the writer or readers. The writer's own automatic checkpoint stays on at the configured size as
/// the bound: it then finds the log mostly copied already, so it is short, and the log starts
/// again from its beginning after it.
public final class BackgroundCheckpointer: @unchecked Sendable {
    private let path: String
    /// Guards `running`, `again` and `failure`; signalled when a run ends.
    private let state = NSCondition()
    /// Touched only by the one run in progress: a connection of its own (GRDB, no pool: it
    /// only ever checkpoints).
    private var connection: DatabaseQueue?
    private var running = false
    private var again = false
    private var failure: String?

    /// Why the last checkpoint failed, nil after a success (for tests and diagnostics); waits
    /// for one that is running.
    public var lastError: String? {
        state.lock()
        defer { state.unlock() }
        while running { state.wait() }
        return failure
    }

    /// SQLite `synchronous` of the checkpoint's connection: the store's own (a store opened
    /// without fsyncs, as the simulator's hub, does not sync its checkpoints either).
    private let synchronous: SynchronousMode

    public init(path: String, synchronous: SynchronousMode = .full) {
        self.path = path
        self.synchronous = synchronous
    }

    /// Asks for a checkpoint soon; returns at once.
    public func request() {
        state.lock()
        defer { state.unlock() }
        if running { again = true; return }
        running = true
        BackgroundThreads.checkpoints.submit { self.run() }
    }

    /// Waits for a checkpoint that is running or asked for (tests; a hub that shuts down).
    public func drain() {
        state.lock()
        while running { state.wait() }
        state.unlock()
    }

    /// Waits for a running checkpoint and closes the connection (a hub that shuts down).
    public func close() {
        state.lock()
        while running { state.wait() }
        try? connection?.close()
        connection = nil
        state.unlock()
    }

    private func run() {
        while true {
            let outcome = checkpoint()
            state.lock()
            failure = outcome
            if again {
                again = false
                state.unlock()
                continue
            }
            running = false
            state.broadcast()
            state.unlock()
            return
        }
    }

    /// One passive checkpoint: copies what no reader still needs, waits for nobody. Returns
    /// why it failed, nil after a success.
    private func checkpoint() -> String? {
        do {
            if connection == nil {
                var config = Configuration()
                let synchronous = self.synchronous
                config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = \(synchronous.rawValue)") }
                let queue = try DatabaseQueue(path: path, configuration: config)
                // A connection finds the database in WAL mode only once it has read it.
                _ = try queue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM sqlite_master") }
                connection = queue
            }
            // Passive: copies what no reader still needs and waits for nobody; a busy log
            // (SQLITE_BUSY) is left for the next run.
            try connection?.writeWithoutTransaction { db in
                do { _ = try db.checkpoint(.passive) } catch let e as DatabaseError where e.resultCode == .SQLITE_BUSY {}
            }
            return nil
        } catch {
            return "checkpoint of \(path) failed: \(error)"
        }
    }
}
