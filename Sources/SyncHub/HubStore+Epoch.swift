import Foundation
import GRDB
import SyncModel
import SyncStore

/// The hub's epochs: a hub restored to an earlier point (an old copy of its SQLite file, a
/// database recovered to a point in time) has forgotten pushes it acknowledged and feed
/// positions it handed out, which its nodes still hold. Each start of `poshub serve` begins an
/// epoch and records the feed's head at that moment. A node keeps the epoch it last synced in;
/// when it meets another one it asks the hub (`epochCheck`) what the hub still has of it, pushes
/// again what the hub lost and re-baselines its pulls if its cursor is beyond what the hub
/// had when the node's epoch ended (docs/sync-protocol.md, "A hub restored to an earlier point").
///
/// Why a cursor at or below that head is sound: positions up to the head at the start of the
/// next epoch were handed out before that start, so the history the hub has now contains them
/// as the node read them. A restored hub starts a new epoch from the restored head; every
/// epoch the copy did not contain is unknown to it, and a node of such an epoch re-baselines.
extension HubStore {
    /// Begins a new epoch (a start of `poshub serve`): its id and the feed's head now.
    @discardableResult
    public func beginEpoch() throws -> String {
        try pool.write { try Self.recordEpoch($0) }
    }

    static func recordEpoch(_ db: Database) throws -> String {
        let epoch = (0..<16).map { _ in String(UInt8.random(in: 0...15), radix: 16) }.joined()
        // (The first epoch is begun by a migration before the feed's counter row exists.)
        let head = try db.tableExists("hub_feed_counter") ? Self.nextFeedPosition(db) - 1
            : Int64.fetchOne(db, sql: """
                SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'hub_feed'), 0), COALESCE((SELECT MAX(gseq) FROM hub_feed), 0))
                """) ?? 0
        try db.execute(sql: "INSERT INTO hub_epoch (epoch, started_at, feed_head) VALUES (?, ?, ?)",
                       arguments: [epoch, AuditRecord.now(), head])
        return epoch
    }

    /// The current epoch (the latest begun).
    public func currentEpoch() throws -> String {
        try pool.read { try Self.currentEpoch($0) }
    }

    static func currentEpoch(_ db: Database) throws -> String {
        guard let epoch = try String.fetchOne(db, sql: "SELECT epoch FROM hub_epoch ORDER BY id DESC LIMIT 1") else {
            throw HubError.invalidConfiguration("the hub store has no epoch (hub_epoch is empty)")
        }
        return epoch
    }

    /// What the hub has of `node`, for a node that last synced in `epoch` with its feed cursor
    /// at `cursor`: the current epoch, whether the cursor is still a position of this hub's
    /// history, the last journal sequence the hub applied of the node and its last rename of
    /// the node's codes. A node that never met an epoch (nil) keeps its cursor.
    public func epochCheck(node: String, epoch: String?, cursor: Int64) throws -> HubEpochCheck {
        var check = try epochCheckReading(node: node, epoch: epoch, cursor: cursor)
        // A re-baseline the operator asked for (`requestRebaseline`): told once, at this check.
        if check.cursorValid, try pool.read({ try Int64.fetchOne($0, sql: "SELECT rebaseline FROM hub_node_activity WHERE node = ?", arguments: [node]) }) == 1,
           try pool.write({ try Self.takeRebaseline($0, node: node) }) {
            check.cursorValid = false
            check.reason = "the operator asked this store to re-baseline its pull"
        }
        return check
    }

    func epochCheckReading(node: String, epoch: String?, cursor: Int64) throws -> HubEpochCheck {
        try pool.read { db in
            guard let lastSeq = try Int64.fetchOne(db, sql: "SELECT last_seq FROM hub_node WHERE node_id = ?", arguments: [node]) else {
                throw HubError.unknownNode(node)
            }
            let renames = try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(rename_id), 0) FROM hub_alias WHERE node = ?", arguments: [node]) ?? 0
            let current = try Self.currentEpoch(db)
            var valid = true
            var reason: String?
            if let epoch, epoch != current {
                if let id = try Int64.fetchOne(db, sql: "SELECT id FROM hub_epoch WHERE epoch = ?", arguments: [epoch]) {
                    let endHead = try Int64.fetchOne(db, sql: "SELECT feed_head FROM hub_epoch WHERE id > ? ORDER BY id LIMIT 1", arguments: [id]) ?? Int64.max
                    if cursor > endHead {
                        valid = false
                        reason = "the node read the feed up to position \(cursor) in epoch \(epoch), which ended at position \(endHead) in the hub's history: the hub was restored to an earlier point"
                    }
                } else if cursor > 0 {
                    valid = false
                    reason = "epoch \(epoch) is not in the hub's history: the hub was restored to a point before it"
                }
            }
            return HubEpochCheck(epoch: current, cursorValid: valid, lastSeq: lastSeq, renamesThrough: renames, reason: reason)
        }
    }
}
