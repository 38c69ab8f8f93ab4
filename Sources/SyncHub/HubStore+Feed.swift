import Foundation
import GRDB
import SyncModel
import SyncReconcile
import SyncStore

/// Reading the feed (pulls and snapshots) and sweeping its superseded rows.
extension HubStore {
    /// Records changed after `cursor`, in the order of their latest change, each as its current
    /// row image (`insert`) or as a removal (`delete`); `seq` is the global sequence.
    /// All read in one transaction, so a page is a consistent view.
    ///
    /// `own` is the pulling node and the last journal sequence its store holds: rows that are
    /// exactly an image that node sent with a sequence up to there are left out (it has them):
    /// they do not count towards `limit`, and the cursor moves past them. Superseded rows (see
    /// "v5-hub-feed-log") are left out too, but count. Snapshots pass nil and get every row.
    ///
    /// `region` is the pulling node's region: only records of that region are read (nil: all).
    /// The cursor moves to the end of the feed once the last page is read, past rows of other
    /// regions, so a later pull does not scan them again.
    public func feed(after cursor: Int64, limit: Int, own: (node: String, through: Int64)? = nil,
                     region: String? = nil) throws -> (changes: [Change], nextCursor: Int64, more: Bool) {
        let limit = max(limit, 1)
        defer { noteSyncActivity() }
        return try pool.read { db in
            var conditions = ["gseq > ?"], arguments: [DatabaseValue] = [cursor.databaseValue]
            switch region {
            case nil: break
            // Records of kinds every store receives are in region '*'. Only a hub with such
            // kinds asks for them: with `IN`, SQLite reads the two regions' index ranges and
            // sorts them by position for every page, instead of one range in order.
            case ""?: conditions.append(kinds.hasChainScope ? "region IN ('', '\(Database.everyGroup)')" : "region = ''")
            case let region?:
                // `region <> ''` lets SQLite use the partial index hub_feed_region.
                conditions += [kinds.hasChainScope ? "region IN (?, '\(Database.everyGroup)')" : "region = ?", "region <> ''"]
                arguments.append(region.databaseValue)
            }
            if let own {
                // The node's own images are skipped by SQLite: a store back from a long outage
                // does not page through everything it has just pushed.
                conditions.append("NOT (node = ? AND echo_seq IS NOT NULL AND echo_seq <= ?)")
                arguments += [own.node.databaseValue, own.through.databaseValue]
            }
            let rows = try db.rowsCached("SELECT gseq, hlc, node, entity, key FROM hub_feed WHERE \(conditions.joined(separator: " AND ")) ORDER BY gseq LIMIT ?",
                                         arguments + [(limit + 1).databaseValue])
            let more = rows.count > limit
            var changes: [Change] = []
            changes.reserveCapacity(min(rows.count, limit))
            for r in rows.prefix(limit) {
                guard let gseq = Int64.fromDatabaseValue(r[0]), let hlc = Int64.fromDatabaseValue(r[1]),
                      let node = String.fromDatabaseValue(r[2]), let key = String.fromDatabaseValue(r[4]),
                      let entity = String.fromDatabaseValue(r[3]).flatMap(kinds.entity(named:)),
                      let table = kinds.table(entity) else { continue }
                // A row that is not its record's position was superseded by a later change.
                let image: Fields?
                if let current = try table.hub.fetchWithFeedPosition(db, key: key) {
                    guard current.position == gseq else { continue }
                    image = current.image
                } else {
                    guard try Self.tombstone(db, entity: entity, key: key) == gseq else { continue }
                    image = nil
                }
                changes.append(Change(seq: gseq, hlc: HLC(rawValue: UInt64(bitPattern: hlc)), node: node,
                                      entity: entity, key: key, op: image == nil ? .delete : .insert, fields: image ?? [:]))
            }
            let next: Int64 = more ? Int64.fromDatabaseValue(rows[limit - 1][0]) ?? cursor : max(cursor, try Int64.fetchOne(db, sql: "SELECT max(gseq) FROM hub_feed") ?? cursor)
            return (changes, next, more)
        }
    }

    // MARK: Feed sweep

    /// One step of `sweepFeed`: where it started, the log rows it read and removed, and
    /// whether it reached the end of the log (the next step starts again from its beginning).
    public struct SweepStep: Sendable, Equatable {
        public var startedAfter: Int64, scanned: Int, removed: Int, wrapped: Bool
    }

    /// Removes superseded rows (see "v5-hub-feed-log") among the next `maxRows` rows of the
    /// feed after the sweep's place (`hub_meta` 'feed_swept'), in one write transaction; the
    /// deletes go in log order, so they write few pages. Pulls skip superseded rows anyway:
    /// sweeping keeps the log near one row per record, so snapshots and late pulls read little
    /// more than the records. `FeedSweeper` runs it while no push comes.
    @discardableResult
    public func sweepFeed(maxRows: Int = 5000) throws -> SweepStep {
        let maxRows = max(maxRows, 1)
        let step = try pool.write { db in
            let from = Int64(try String.fetchOne(db, sql: "SELECT value FROM hub_meta WHERE key = 'feed_swept'") ?? "") ?? 0
            let rows = try db.rowsCached("SELECT gseq, entity, key FROM hub_feed WHERE gseq > ? ORDER BY gseq LIMIT ?",
                                         [from.databaseValue, maxRows.databaseValue])
            var removed = 0
            for r in rows {
                guard let gseq = Int64.fromDatabaseValue(r[0]) else { continue }
                let entity = String.fromDatabaseValue(r[1]).flatMap(kinds.entity(named:))
                let position = try entity.flatMap { try Self.feedPosition(db, entity: $0, key: String.fromDatabaseValue(r[2]) ?? "", kinds: kinds) }
                guard position != gseq else { continue }
                try db.runCached("DELETE FROM hub_feed WHERE gseq = ?", [gseq.databaseValue])
                removed += 1
            }
            let wrapped = rows.count < maxRows
            let place = wrapped ? 0 : (rows.last.flatMap { Int64.fromDatabaseValue($0[0]) } ?? 0)
            try db.execute(sql: "INSERT INTO hub_meta (key, value) VALUES ('feed_swept', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                           arguments: [String(place)])
            return SweepStep(startedAfter: from, scanned: rows.count, removed: removed, wrapped: wrapped)
        }
        checkpointer?.request()
        return step
    }

    /// Follows `sweepFeed` steps until they have read the whole log once: from its beginning
    /// to its end, wherever the sweep stood when the pass began.
    public struct SweepPass: Sendable {
        private var sawBeginning = false
        public init() {}

        /// Takes in the next step; true when the pass is complete.
        public mutating func complete(after step: SweepStep) -> Bool {
            sawBeginning = sawBeginning || step.startedAfter == 0
            if step.wrapped && sawBeginning { return true }
            if step.wrapped { sawBeginning = true }
            return false
        }
    }

    /// Sweeps the whole log once, from wherever the sweep stands; returns the rows removed.
    @discardableResult
    public func sweepFeedPass(step: Int = 5000) throws -> Int {
        var removed = 0, pass = SweepPass()
        while true {
            let s = try sweepFeed(maxRows: step)
            removed += s.removed
            if pass.complete(after: s) { return removed }
        }
    }

    /// The feed's last position (0 when it is empty).
    public func feedEnd() throws -> Int64 {
        try pool.read { try Int64.fetchOne($0, sql: "SELECT max(gseq) FROM hub_feed") ?? 0 }
    }

    /// Records a pull, to the minute: a store polling every few seconds does not make the hub
    /// write (and fsync) on every poll, nor wait for the single writer when the minute is
    /// recorded already (a read says so).
    public func markPulled(node: String) throws {
        let now = AuditRecord.now()
        let minute = String(now.prefix(16))  // 2026-11-25T08:32
        let recorded = try pool.read { db in
            try String.fetchOne(db.cachedStatement(sql: "SELECT last_pull_at FROM hub_node WHERE node_id = ?"), arguments: [node])
        }
        if let recorded, recorded.prefix(16) >= minute { return }
        try pool.write { db in
            try db.execute(sql: "UPDATE hub_node SET last_pull_at = ? WHERE node_id = ? AND (last_pull_at IS NULL OR substr(last_pull_at, 1, 16) < ?)",
                           arguments: [now, node, minute])
        }
    }
}
