import Foundation
import GRDB
import SyncModel
import SyncReconcile
import SyncStore
import SyncWire

/// A node's push: decoded and prepared beside the writer, applied in one transaction with the
/// reconciler, fed, answered with a verdict per entry; and the hub's clock.
extension HubStore {
    /// A pushed batch decoded, and each change prepared (`Reconciler.prepare`, see
    /// `PreparedChange`) for `node`: the work that can run beside the writer (`poshub serve`
    /// runs it on its decoding threads). The entries are handed over to `push` as they are.
    public static func decodePush(_ bytes: [UInt8], limits: BatchLimits, node: String) throws -> (header: BatchHeader, entries: PushEntries) {
        let batch = try BatchCodec.decode(bytes, limits: limits)
        return (batch.header, PushEntries(changes: batch.changes, prepared: batch.changes.map { Reconciler.prepare($0, node: node, kinds: limits.kinds) }))
    }

    /// Applies a node's journal entries in one transaction, idempotently by (node, seq).
    /// Entries at or below the node's last applied sequence are duplicates (their first
    /// verdict is repeated); the first new entry must be exactly the next sequence.
    /// `prepared`: `Reconciler.prepare` of each change, worked out beforehand (see
    /// `PreparedChange`); without it each change is prepared as it is applied.
    public func push(node: HubNode, changes: [Change], prepared: [PreparedChange]? = nil, renamesApplied: Int64) throws -> PushReply {
        try push(node: node, entries: PushEntries(keeping: changes, prepared: prepared), renamesApplied: renamesApplied)
    }

    /// `push` of entries the caller hands over (`PushEntries`): each entry's fields and
    /// preparation are let go once it is applied, so a push shrinks as it is applied while the
    /// hub decodes the next one beside it. The entries are spent afterwards, applied or not.
    public func push(node: HubNode, entries: PushEntries, renamesApplied: Int64) throws -> PushReply {
        if let prepared = entries.prepared, prepared.count != entries.changes.count {
            throw HubError.invalid(FieldError(field: "prepared", reason: "\(prepared.count) prepared for \(entries.changes.count) entries; nothing applied"))
        }
        defer {
            checkpointer?.request()
            noteSyncActivity()
        }
        return try pool.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM hub_node WHERE node_id = ?", arguments: [node.node]) else {
                throw HubError.unknownNode(node.node)
            }
            let current = Self.node(row)
            var lastSeq = current.lastSeq
            // Journal sequences start at 1; the bound keeps `seq + 1` from overflowing.
            if let bad = entries.changes.first(where: { $0.seq < 1 || $0.seq == Int64.max }) {
                throw HubError.invalid(FieldError(field: "seq", reason: "journal sequence \(bad.seq) from node \(node.node) is out of range; nothing applied"))
            }
            for i in entries.changes.indices.dropFirst() where entries.changes[i].seq != entries.changes[i - 1].seq + 1 {
                throw HubError.notContiguous(node: node.node, after: entries.changes[i - 1].seq, got: entries.changes[i].seq)
            }
            if let first = entries.changes.first, first.seq > lastSeq + 1 {
                throw HubError.sequenceGap(node: node.node, expected: lastSeq + 1, got: first.seq)
            }
            // Sequences the hub has applied, sent again with other content: the node's journal
            // went back (restored from a backup). Nothing is applied; the node is told where.
            if let first = entries.changes.first, first.seq <= lastSeq,
               let diverged = try Self.divergence(db, node: node.node, entries.changes.prefix { $0.seq <= lastSeq }) {
                try db.appendAudit(AuditRecord(node: node.node, kind: .restore, entity: "node", key: node.node, field: "seq",
                                               oldValue: String(lastSeq), newValue: String(diverged),
                                               reason: "node \(node.node) sent sequence \(diverged) with other content than the hub applied: its journal went back (a store restored from a backup); it renumbers its entries after \(lastSeq) and sends them again"))
                var reply = PushReply(node: node.node, results: [], nextExpected: lastSeq + 1, hubHLC: try Self.hubHLC(db).rawValue)
                let renames = try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(rename_id), 0) FROM hub_alias WHERE node = ?", arguments: [node.node]) ?? 0
                reply.journalBehind = .init(divergedAt: diverged, hubLastSeq: lastSeq, renamesThrough: renames)
                reply.hubTimeMillis = clock()
                reply.batchFormat = Int(BatchFormat.version)
                return reply
            }
            let firstNew = lastSeq + 1
            let aliases = try Row.fetchAll(db, sql: "SELECT old_code, new_code, entity FROM hub_alias WHERE node = ? AND rename_id > ? ORDER BY rename_id",
                                           arguments: [node.node, renamesApplied])
            let hasRegions = try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS(SELECT 1 FROM hub_node WHERE region <> '')")) ?? false
            var context = ApplyContext(node: current.node, series: current.series, site: current.site, prefixRule: prefixRule,
                                       pendingRenames: aliases.map { CodeRenaming(kinds.entity(named: $0["entity"]) ?? .partner, old: $0["old_code"], new: $0["new_code"]) },
                                       regions: hasRegions ? Self.regionScope(current.region, kinds: kinds) : nil, kinds: kinds)
            var results: [EntryResult] = []
            var hubHLC = try Self.hubHLC(db)
            var restamped = 0, largestLead: UInt64 = 0
            var feed = FeedEmitter(region: current.region, keepsRegions: hasRegions, kinds: kinds, expected: entries.changes.count)
            context.positions = FeedPositions(next: try Self.nextFeedPosition(db))
            context.movesRecorded = try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS(SELECT 1 FROM move_alias)")) ?? true
            context.erasuresRecorded = try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS(SELECT 1 FROM erasure)")) ?? true
            for index in entries.changes.indices {
                let change = entries.changes[index]
                defer { entries.spend(index) }
                guard change.node == node.node else {
                    throw HubError.nodeMismatch(tokenNode: node.node, batchNode: change.node)
                }
                if change.seq <= lastSeq {
                    if let r = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM hub_outcome WHERE node = ? AND seq = ?"), arguments: [node.node, change.seq]) {
                        var result = EntryResult(seq: change.seq, outcome: .duplicate, reason: r["reason"], oldCode: r["old_code"],
                                                 newCode: r["new_code"], renameID: r["rename_id"], entity: r["renamed_entity"])
                        result.code = r["code"]
                        results.append(result)
                    } else {
                        results.append(EntryResult(seq: change.seq, outcome: .duplicate))
                    }
                    continue
                }
                // A stamp that leads the hub's clock by more than the bound would win every
                // concurrent edit by that lead and drag the hub's clock along: the change is
                // applied with the hub's own time instead (and the node is told).
                var stamped = change
                let now = clock()
                if HLC.isBeyondBound(change.hlc, nowMillis: now, maxLead: maxClockLeadMillis) {
                    stamped.hlc = HLC.tick(last: hubHLC, nowMillis: now)
                    restamped += 1
                    largestLead = max(largestLead, change.hlc.millis - now)
                }
                hubHLC = HLC.receive(last: hubHLC, remote: stamped.hlc, nowMillis: now, maxLead: maxClockLeadMillis)
                context.hubHLC = hubHLC
                let (result, touched) = try Reconciler.apply(db, change: stamped, prepared: entries.prepared?[index], context: &context)
                // Only verdicts other than a plain `applied` are stored: a duplicate without a
                // stored verdict was applied as it was.
                if result.outcome != .applied {
                    try db.cachedStatement(sql: """
                        INSERT INTO hub_outcome (node, seq, outcome, reason, old_code, new_code, rename_id, renamed_entity, code) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """).execute(arguments: [node.node, change.seq, result.outcome.rawValue, result.reason, result.oldCode, result.newCode, result.renameID,
                                                 result.entity, result.code])
                }
                // Feed entries carry the hub's clock: a node that pulls an image moves its clock past
                // every value in it, so its own later edits win.
                try feed.add(db, touched, hlc: hubHLC, node: node.node, seq: change.seq, positions: &context.positions!)
                results.append(result)
                lastSeq = change.seq
            }
            try feed.write(db)
            // The clocks of the entries applied now, as sent: what a later push is compared with.
            if lastSeq >= firstNew, let start = entries.changes.firstIndex(where: { $0.seq == firstNew }) {
                var blob = [UInt8]()
                blob.reserveCapacity(Int(lastSeq - firstNew + 1) * 8)
                for change in entries.changes[start...] where change.seq <= lastSeq {
                    withUnsafeBytes(of: change.hlc.rawValue.bigEndian) { blob.append(contentsOf: $0) }
                }
                try db.cachedStatement(sql: "INSERT OR REPLACE INTO hub_push_digest (node, first_seq, last_seq, hlcs) VALUES (?, ?, ?, ?)")
                    .execute(arguments: [node.node, firstNew, lastSeq, Data(blob)])
            }
            try db.execute(sql: "UPDATE hub_node SET last_seq = ?, last_push_at = ? WHERE node_id = ?",
                           arguments: [lastSeq, AuditRecord.now(), node.node])
            try Self.setHubHLC(db, hubHLC)
            if restamped > 0 {
                try db.appendAudit(AuditRecord(node: node.node, kind: .clock, entity: "node", key: node.node,
                                               reason: Self.clockReason(lead: largestLead, bound: maxClockLeadMillis, restamped: restamped)))
            }
            var reply = PushReply(node: node.node, results: results, nextExpected: lastSeq + 1, hubHLC: hubHLC.rawValue)
            reply.hubTimeMillis = clock()
            reply.batchFormat = Int(BatchFormat.version)
            if restamped > 0 { (reply.clockRestamped, reply.clockLeadMillis) = (restamped, largestLead) }
            return reply
        }
    }


    static func hubHLC(_ db: Database) throws -> HLC {
        HLC(rawValue: UInt64(try String.fetchOne(db, sql: "SELECT value FROM hub_meta WHERE key = 'hlc'") ?? "0") ?? 0)
    }

    static func setHubHLC(_ db: Database, _ hlc: HLC) throws {
        try db.execute(sql: "INSERT INTO hub_meta (key, value) VALUES ('hlc', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                       arguments: [String(hlc.rawValue)])
    }

    /// The first of `changes` (sequences the hub has applied) whose clock differs from the one
    /// the hub applied under that sequence; nil when every one it has a record of is the same
    /// (a push sent again after a lost reply). Entries applied before the hub kept clocks are
    /// taken as the same.
    static func divergence(_ db: Database, node: String, _ changes: ArraySlice<Change>) throws -> Int64? {
        guard let first = changes.first?.seq else { return nil }
        let rows = try Row.fetchAll(db, sql: """
            SELECT first_seq, last_seq, hlcs FROM hub_push_digest WHERE node = ? AND last_seq >= ? AND first_seq <= ? ORDER BY first_seq
            """, arguments: [node, first, changes.last!.seq])
        for change in changes {
            guard let row = rows.first(where: { (row: Row) in (row["first_seq"] as Int64) <= change.seq && change.seq <= (row["last_seq"] as Int64) }) else { continue }
            let blob: Data = row["hlcs"]
            let offset = Int(change.seq - (row["first_seq"] as Int64)) * 8
            guard offset + 8 <= blob.count else { continue }
            let stored = blob[blob.startIndex + offset ..< blob.startIndex + offset + 8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            if stored != change.hlc.rawValue { return change.seq }
        }
        return nil
    }
}
