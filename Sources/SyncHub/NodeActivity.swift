import Foundation
import GRDB
import ServiceLifecycle
import Synchronization
import SyncModel
import SyncStore

/// What each store's syncing looks like from the hub: its backlog (`X-Pending-Entries`), its
/// feed cursor, its clock offset, refused entries, its last error and its recent rounds.
/// Noted in memory on the request paths and written to the store (`hub_node_activity`,
/// `hub_sync_round`) by `NodeActivityFlusher` every few seconds, off the pushes' transactions;
/// the operator console and `poshub node status` read it from there (`HubStore.storeOverview`).
public final class NodeActivity: Sendable {
    struct Round: Sendable { var at: Double; var kind: String; var seconds: Double; var backlog: Int64 }
    struct Entry: Sendable {
        var pending: Int64?
        var cursor: Int64?
        var clockOffsetMillis: Int64?
        var refused: Int64 = 0
        var lastError: String?
        var lastErrorAt: String?
        var rounds: [Round] = []
    }

    let state = Mutex<[String: Entry]>([:])
    /// One flush at a time: a later snapshot is never written before an earlier one.
    let flushing = Mutex<Void>(())

    public init() {}

    /// A push of `node` answered: its backlog after it, clock offset, refused entries, time.
    public func pushed(node: String, pending: Int64?, clockOffsetMillis: Int64?, refused: Int64, seconds: Double) {
        state.withLock { s in
            var e = s[node] ?? Entry()
            if let pending { e.pending = pending }
            if let clockOffsetMillis { e.clockOffsetMillis = clockOffsetMillis }
            e.refused += refused
            e.rounds.append(Round(at: Date().timeIntervalSince1970, kind: "push", seconds: seconds, backlog: pending ?? e.pending ?? 0))
            s[node] = e
        }
    }

    /// A feed page served to `node`: where its cursor is now.
    public func pulled(node: String, cursor: Int64, seconds: Double) {
        state.withLock { s in
            var e = s[node] ?? Entry()
            e.cursor = cursor
            e.rounds.append(Round(at: Date().timeIntervalSince1970, kind: "pull", seconds: seconds, backlog: e.pending ?? 0))
            s[node] = e
        }
    }

    /// A request of `node` refused or failed, with the sentence it was answered.
    public func failed(node: String, error: String) {
        state.withLock { s in
            var e = s[node] ?? Entry()
            e.lastError = String(error.prefix(500))
            e.lastErrorAt = AuditRecord.now()
            s[node] = e
        }
    }

    /// Writes what was noted since the last flush, in one transaction, and drops rounds older
    /// than a day.
    public func flush(_ store: HubStore) throws {
        try flushing.withLock { _ in try write(store) }
    }

    func write(_ store: HubStore) throws {
        let noted = state.withLock { s -> [String: Entry] in let n = s; s = [:]; return n }
        guard !noted.isEmpty else { return }
        try store.pool.write { db in
            for (node, e) in noted {
                try db.execute(sql: """
                    INSERT INTO hub_node_activity (node, pending_entries, cursor, clock_offset_ms, refused_total, last_error, last_error_at, last_seen)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (node) DO UPDATE SET
                        pending_entries = COALESCE(excluded.pending_entries, pending_entries), cursor = COALESCE(excluded.cursor, cursor),
                        clock_offset_ms = COALESCE(excluded.clock_offset_ms, clock_offset_ms), refused_total = refused_total + excluded.refused_total,
                        last_error = COALESCE(excluded.last_error, last_error), last_error_at = COALESCE(excluded.last_error_at, last_error_at),
                        last_seen = MAX(COALESCE(last_seen, 0), COALESCE(excluded.last_seen, 0))
                    """, arguments: [node, e.pending, e.cursor, e.clockOffsetMillis, e.refused, e.lastError, e.lastErrorAt, e.rounds.map(\.at).max()])
                for r in e.rounds {
                    try db.execute(sql: "INSERT INTO hub_sync_round (node, at, kind, seconds, backlog) VALUES (?, ?, ?, ?, ?)",
                                   arguments: [node, r.at, r.kind, r.seconds, r.backlog])
                }
            }
            try db.execute(sql: "DELETE FROM hub_sync_round WHERE at < ?", arguments: [Date().timeIntervalSince1970 - 86_400])
        }
    }
}

/// Writes `NodeActivity` to the hub's store every `interval`, and once more at shutdown.
public struct NodeActivityFlusher: Service {
    let activity: NodeActivity
    let store: HubStore
    let interval: Duration

    public init(activity: NodeActivity, store: HubStore, interval: Duration = .seconds(2)) {
        self.activity = activity; self.store = store; self.interval = interval
    }

    public func run() async throws {
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) } } catch { break }
            try? activity.flush(store)
        }
        try? activity.flush(store)
    }
}
