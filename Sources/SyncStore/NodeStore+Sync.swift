import Foundation
import GRDB
import SyncModel

/// What applying a push reply changed locally.
public struct PushApplySummary: Sendable, Codable, Hashable {
    public var applied = 0
    public var duplicates = 0
    public var rejected: [EntryResult] = []
    public var renames: [Rename] = []
    /// Entries applied with a warning (a duplicate Polish VAT ID registered offline).
    public var warnings: [EntryResult] = []
    /// Customer moves this store requested that the hub carried out, as `CODE:SEQ -> CODE:SEQ`.
    public var moves: [String] = []
    /// Entries whose clock led the hub's beyond its bound: applied with the hub's time.
    public var clockRestamped = 0

    public struct Rename: Sendable, Codable, Hashable {
        enum CodingKeys: String, CodingKey {
            case oldCode = "old_code", newCode = "new_code", entity
        }

        public var oldCode: String
        public var newCode: String
        /// `partner` or `institution`.
        public var entity: String = Entity.partner.rawValue
    }
}

/// The feed could not be applied yet; the next round pushes first and retries.
public struct FeedDeferred: Error, Sendable, CustomStringConvertible {
    public var code: String
    /// `partner` or `institution`.
    public var entity: String = Entity.partner.rawValue
    public var description: String {
        "pull deferred: \(entity) code \(code) arrived from the hub while this node's own offline \(entity) \(code) is not yet pushed; it will be resolved by the store-prefix rule on the next push"
    }
}

extension NodeStore {
    /// A store restored from a backup rejoins (the hub said its journal went back:
    /// `PushReply.JournalBehind`). Its entries from the divergence on, made after the restore,
    /// are renumbered after the hub's last sequence, in order, so they are sent and applied;
    /// those before it are the hub's already. Renames of entries it no longer has are not
    /// applied to its new ones. Its next pull takes back its own changes it lost (they are
    /// not echoes to it any more), and the audit says so (kind `restore`). Documents it
    /// numbered again get the next free number at the hub (a rename it applies).
    public func rejoinAfterRestore(_ notice: PushReply.JournalBehind) throws {
        try pool.write { db in
            let cfg = try NodeStore.config(db)
            let offset = notice.hubLastSeq + 1 - notice.divergedAt
            guard offset > 0 else { return }
            let moved = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM journal WHERE seq >= ?", arguments: [notice.divergedAt]) ?? 0
            // Two steps, so no sequence is taken twice on the way.
            try db.execute(sql: "UPDATE journal SET seq = -seq WHERE seq >= ?", arguments: [notice.divergedAt])
            try db.execute(sql: "UPDATE journal SET seq = ? - seq WHERE seq < 0", arguments: [offset])
            try db.execute(sql: """
                UPDATE node_config SET acked_through = ?, renames_applied = MAX(renames_applied, ?), restore_own_through = ?,
                    numbered_through = CASE WHEN numbered_through >= ? THEN numbered_through + ? ELSE numbered_through END
                WHERE id = 1
                """, arguments: [notice.divergedAt - 1, notice.renamesThrough, notice.divergedAt - 1, notice.divergedAt, offset])
            try db.appendAudit(AuditRecord(node: cfg.nodeID, kind: .restore, entity: "node", key: cfg.nodeID, field: "seq",
                                           oldValue: String(notice.divergedAt), newValue: String(notice.hubLastSeq + 1),
                                           reason: "this store's journal went back (restored from a backup): the hub had applied up to sequence \(notice.hubLastSeq); \(moved) entr\(moved == 1 ? "y" : "ies") made since the restore renumbered from \(notice.hubLastSeq + 1) and sent again; the changes the store had lost come back from the hub"))
        }
    }

    /// The hub's epoch this node last synced in (nil: it never met one) and its feed cursor.
    public func hubEpoch() throws -> (epoch: String?, cursor: Int64) {
        try pool.read { db in
            let row = try Row.fetchOne(db, sql: "SELECT hub_epoch, cursor FROM node_config WHERE id = 1")
            return (row?["hub_epoch"], row?["cursor"] ?? 0)
        }
    }

    /// Takes the hub's epoch after an epoch check (`HubEpochCheck`). When the hub has less of
    /// this node than the node holds (the hub was restored to an earlier point): its entries
    /// after the hub's last sequence are pending again, so the next push sends them as they
    /// are; renames the hub no longer knows are forgotten, so the ones it makes again are
    /// applied; and the next pull is a snapshot that replaces the replicated tables with the
    /// hub's (after this round's push, so nothing of the node's own is lost), because the rows
    /// the node pulled or had renamed in the lost history may no longer be the hub's. The
    /// audit says so (kind `restore`). Returns what was done, nil when nothing was needed.
    @discardableResult
    public func adoptHubEpoch(_ check: HubEpochCheck) throws -> String? {
        try pool.write { db in
            let cfg = try NodeStore.config(db)
            let acked = try Int64.fetchOne(db, sql: "SELECT acked_through FROM node_config WHERE id = 1") ?? 0
            let ackedAhead = max(acked, try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(seq), 0) FROM journal WHERE acked = 1") ?? 0)
            let lostEntries = ackedAhead > check.lastSeq
            let restored = lostEntries || !check.cursorValid || cfg.renamesApplied > check.renamesThrough
            try db.execute(sql: "UPDATE node_config SET hub_epoch = ? WHERE id = 1", arguments: [check.epoch])
            guard restored else { return nil }
            try db.execute(sql: "UPDATE journal SET acked = 0, outcome = NULL, reason = NULL WHERE seq > ? AND acked = 1", arguments: [check.lastSeq])
            try db.execute(sql: """
                UPDATE node_config SET acked_through = MIN(acked_through, ?), renames_applied = MIN(renames_applied, ?),
                    cursor = 0, bootstrapped = 0 WHERE id = 1
                """, arguments: [check.lastSeq, check.renamesThrough])
            let range = ackedAhead == check.lastSeq + 1 ? "entry \(ackedAhead)" : "entries \(check.lastSeq + 1)–\(ackedAhead)"
            let resent = lostEntries ? "\(range), which it had acknowledged, sent again; " : ""
            let asked = !lostEntries && check.reason?.hasPrefix("the operator asked") == true
            let message = asked ? "the operator asked this store to re-baseline its pull: the next pull replaces the replicated tables with the hub's (from feed position \(cfg.cursor) back to 0)" :
                "the hub was restored to an earlier point (epoch \(check.epoch)): it has this store's entries up to \(check.lastSeq); "
                + resent + "the next pull replaces the replicated tables with the hub's (from feed position \(cfg.cursor) back to 0)"
                + (check.reason.map { " — \($0)" } ?? "")
            if asked { try db.appendAudit(AuditRecord(node: cfg.nodeID, kind: .restore, entity: "node", key: cfg.nodeID, field: "cursor", reason: message)); return message }
            try db.appendAudit(AuditRecord(node: cfg.nodeID, kind: .restore, entity: "node", key: cfg.nodeID, field: "hub_epoch",
                                           oldValue: String(ackedAhead), newValue: String(check.lastSeq), reason: message))
            return message
        }
    }

    /// The sequence up to which the feed may leave out this node's own changes: its journal's
    /// head, or less while a restored store takes back what it lost.
    public func ownEchoesThrough() throws -> Int64 {
        try pool.read { db in
            let head = try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(seq), 0) FROM journal") ?? 0
            let cap = try Int64.fetchOne(db, sql: "SELECT restore_own_through FROM node_config WHERE id = 1")
            return min(head, cap ?? head)
        }
    }

    /// A complete pull after a restore: the store holds what it had lost.
    public func finishRestore() throws {
        try pool.write { try $0.execute(sql: "UPDATE node_config SET restore_own_through = NULL WHERE id = 1 AND restore_own_through IS NOT NULL") }
    }

    /// Applies the hub's reply to a push in one transaction: marks entries acknowledged and
    /// carries out renames on the partner, its addresses, its documents and its pending entries.
    /// `sent` are the sequences pushed: a reply for another node or other entries changes nothing.
    @discardableResult
    public func applyPushReply(_ reply: PushReply, sent: [Int64]? = nil) throws -> PushApplySummary {
        try pool.write { db in
            let cfg = try NodeStore.config(db)
            guard reply.node == cfg.nodeID else {
                throw StoreError.unexpectedReply("push reply is for node \(reply.node), not \(cfg.nodeID); nothing acknowledged")
            }
            let seqs = reply.results.map(\.seq)
            if let sent, seqs != sent {
                throw StoreError.unexpectedReply("push reply lists sequences \(seqs.first ?? 0)…\(seqs.last ?? 0) (\(seqs.count)) but \(sent.first ?? 0)…\(sent.last ?? 0) (\(sent.count)) were sent; nothing acknowledged")
            }
            guard zip(seqs, seqs.dropFirst()).allSatisfy({ $1 == $0 + 1 }) else {
                throw StoreError.unexpectedReply("push reply sequences are not contiguous; nothing acknowledged")
            }
            var summary = PushApplySummary()
            var renamesApplied = cfg.renamesApplied
            // Entries applied as they are are acknowledged by the range (`acked_through`, below,
            // without rewriting their rows); the others one by one with their verdict.
            let ack = try db.cachedStatement(sql: "UPDATE journal SET acked = 1, outcome = ?, reason = ? WHERE seq = ?")
            for r in reply.results {
                if r.outcome != .applied { try ack.execute(arguments: [r.outcome.rawValue, r.reason, r.seq]) }
                if let warning = r.warning {
                    summary.warnings.append(r)
                    try db.appendAudit(AuditRecord(node: cfg.nodeID, kind: .duplicateVat, entity: "journal", key: String(r.seq),
                                                   field: "vat_id", reason: warning))
                }
                switch r.outcome {
                case .applied: summary.applied += 1
                case .duplicate: summary.duplicates += 1
                case .renamed: summary.applied += 1
                case .rejected:
                    summary.rejected.append(r)
                    try db.appendAudit(AuditRecord(node: cfg.nodeID, kind: .rejected, entity: "journal", key: String(r.seq),
                                                   reason: r.reason ?? "rejected by hub"))
                }
            }
            summary.moves = try db.auditMoves(reply.results, node: cfg.nodeID)
            // Renames go through temporary codes first, so a rename whose new code is the old code
            // of another rename in the same reply (a literal "K2-1001" created offline) cannot collide.
            var renames: [(entity: Entity, old: String, new: String, temp: String)] = []
            for r in reply.results {
                guard let old = r.oldCode, let new = r.newCode, let id = r.renameID, id > renamesApplied else { continue }
                let entity = r.entity.flatMap { kinds.entity(named: $0) } ?? .partner
                renames.append((entity, old, new, "\u{1}rename-\(id)"))
                renamesApplied = max(renamesApplied, id)
            }
            for r in renames { try db.renameCodeLocally(r.entity, old: r.old, new: r.temp, node: cfg.nodeID, kinds: kinds, audit: false) }
            // The records' history under their old codes ends here (`code_history`): every
            // journal entry and audit line so far under an old code is its renamed record's.
            let journalThrough = try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(seq), 0) FROM journal") ?? 0
            let auditThrough = try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(id), 0) FROM audit") ?? 0
            for r in renames {
                try db.renameCodeLocally(r.entity, old: r.temp, new: r.new, node: cfg.nodeID, kinds: kinds, audit: false)
                try db.execute(sql: "INSERT INTO code_history (entity, old_code, new_code, journal_through, audit_through, at) VALUES (?, ?, ?, ?, ?, ?)",
                               arguments: [r.entity.rawValue, r.old, r.new, journalThrough, auditThrough, AuditRecord.now()])
                try db.appendAudit(AuditRecord(node: cfg.nodeID, kind: .rename, entity: r.entity.rawValue, key: r.new, field: "code",
                                               oldValue: r.old, newValue: r.new,
                                               reason: "store-prefix rule: code \(r.old) was taken when this node reconnected"))
                summary.renames.append(.init(oldCode: r.old, newCode: r.new, entity: r.entity.rawValue))
                // A document the hub numbered anew (a restored store's number taken twice): the
                // store's next number comes after it, whatever its journal's keys say.
                if r.entity == .document, let number = NodeTransaction.documentNumber(key: r.new, node: cfg.nodeID) {
                    try db.moveDocumentNumberMark(past: number, node: cfg.nodeID)
                }
            }
            // Pushes send pending entries from the oldest on and the reply covers them all, so every
            // entry up to the reply's last sequence is now acknowledged.
            let last = reply.results.last?.seq ?? 0
            try db.execute(sql: "UPDATE node_config SET renames_applied = ?, acked_through = MAX(acked_through, ?) WHERE id = 1",
                           arguments: [renamesApplied, last])
            try db.observeHLC(HLC(rawValue: reply.hubHLC), nowMillis: clock())
            if let hubTime = reply.hubTimeMillis {
                let offset = Int64(clamping: clock()) &- Int64(clamping: hubTime)
                try db.execute(sql: "UPDATE node_config SET clock_offset_ms = ? WHERE id = 1", arguments: [offset])
            }
            if let restamped = reply.clockRestamped, restamped > 0 {
                summary.clockRestamped = restamped
                let lead = (reply.clockLeadMillis ?? 0) / 1000
                try db.appendAudit(AuditRecord(node: cfg.nodeID, kind: .clock, entity: "node", key: cfg.nodeID,
                                               reason: "this node's clock led the hub's by \(lead) s: the hub applied \(restamped) change\(restamped == 1 ? "" : "s") with its own time; set the till's clock right"))
            }
            return summary
        }
    }

    /// Applies row images from the hub feed (or a snapshot) and advances the cursor, in one
    /// transaction. Local entries not yet acknowledged are re-applied on top, so offline edits
    /// stay visible until the hub has merged them. A snapshot replaces the replicated tables:
    /// rows the hub no longer has (removed before the snapshot's cursor) must not survive.
    ///
    /// `snapshot`: this is the first page of a snapshot (the tables are replaced).
    /// `completesBootstrap`: after this page the node holds everything up to `nextCursor`
    /// (false for all but the last page of a snapshot, so an interrupted snapshot resumes as one).
    public func applyFeed(_ changes: [Change], nextCursor: Int64, snapshot: Bool = false, completesBootstrap: Bool = true) throws {
        // Erasures the hub fed (GDPR Art. 17): the personal values held here are read before
        // the erased rows replace them, so that older copies can be scrubbed.
        let erased = changes.compactMap { c -> (code: String, caseID: String)? in
            guard c.entity == .erasure, let caseID = c.fields["case_id"]?.text else { return nil }
            return (c.fields["partner_code"]?.text ?? c.key, caseID)
        }
        try pool.write { db in
            // The catalog may change here: sales read it afresh.
            priceLines.invalidate()
            let cfg = try NodeStore.config(db)
            let held = erased.isEmpty ? nil : try db.personalValues(of: erased.map(\.code), kinds: kinds)
            var touched = Set<String>()
            if snapshot {
                for table in kinds.tables { try db.execute(sql: "DELETE FROM \(table.name)") }
            }
            var maxHLC = HLC.zero
            // Codes of this node's own partners and institutions created offline and not yet
            // pushed (usually none).
            let prefixed = kinds.prefixed.map(\.entity)
            let unpushedRows = try Row.fetchAll(db.cachedStatement(sql: """
                SELECT entity, key FROM journal WHERE seq > \(Database.ackedThrough) AND acked = 0 AND entity IN (\(prefixed.map { "'\($0.rawValue)'" }.joined(separator: ", "))) AND op = 'insert'
                """))
            let unpushed = Set(unpushedRows.map { "\($0[0] as String)|\($0[1] as String)" })
            for c in changes {
                if !unpushed.isEmpty {
                    // Another node's record under a code this node still has to push (and may get renamed).
                    for entity in prefixed {
                        if c.entity == entity, unpushed.contains("\(entity.rawValue)|\(c.key)"), c.fields["origin_node"]?.text != cfg.nodeID {
                            throw FeedDeferred(code: c.key, entity: entity.rawValue)
                        }
                        guard c.entity != entity, let kind = kinds.kind(c.entity) else { continue }
                        for column in CodeRename.columns(of: kind, holding: entity) {
                            if let code = c.fields[column]?.text, unpushed.contains("\(entity.rawValue)|\(code)") {
                                throw FeedDeferred(code: code, entity: entity.rawValue)
                            }
                        }
                    }
                }
                guard let table = kinds.table(c.entity) else { continue }
                try table.applyImage(db, change: c)
                // A snapshot page re-applies every pending entry below, touched or not.
                if !snapshot { touched.insert("\(c.entity.rawValue)|\(c.key)") }
                maxHLC = max(maxHLC, c.hlc)
            }
            if let held { _ = try db.scrubErased(erased, codes: held.codes, values: held.values, node: cfg.nodeID, kinds: kinds) }
            try db.observeHLC(maxHLC, nowMillis: clock())
            if !touched.isEmpty || snapshot {
                let pending = try db.journalEntries("SELECT \(Database.journalColumns) FROM journal WHERE seq > \(Database.ackedThrough) AND acked = 0 ORDER BY seq",
                                                    kinds: kinds)
                for e in pending where snapshot || touched.contains("\(e.change.entity.rawValue)|\(e.change.key)") {
                    try db.applyPlain(e.change, kinds: kinds)
                }
            }
            try db.execute(sql: "UPDATE node_config SET cursor = ?, bootstrapped = bootstrapped OR ? WHERE id = 1",
                           arguments: [nextCursor, completesBootstrap])
        }
        if !erased.isEmpty { try compact() }
    }

    /// Records the outcome of a sync round for `posnode status`.
    public func recordSync(error: String?) throws {
        try pool.write { db in
            if let error {
                try db.execute(sql: "UPDATE node_config SET last_sync_error = ? WHERE id = 1", arguments: [error])
            } else {
                try db.execute(sql: "UPDATE node_config SET last_sync_at = ?, last_sync_error = NULL WHERE id = 1",
                               arguments: [AuditRecord.now()])
            }
        }
    }
}

extension Database {
    /// Records in this store's audit the customer moves among `results` (a push reply's
    /// contiguous entries): `move` for one the hub carried out, `move-refused` with the failed
    /// conditions. Returns the moves carried out.
    func auditMoves(_ results: [EntryResult], node: String) throws -> [String] {
        guard let first = results.first?.seq, let last = results.last?.seq else { return [] }
        var carried: [String] = []
        let rows = try Row.fetchAll(cachedStatement(sql: """
            SELECT seq, key, fields FROM journal INDEXED BY journal_move WHERE entity = 'move' AND seq BETWEEN ? AND ? ORDER BY seq
            """), arguments: [first, last])
        for row in rows {
            let seq: Int64 = row[0]
            let result = results[Int(seq - first)]
            guard let move = try? MoveRequest(fields: Fields.fromJSON(row[2])) else { continue }
            let old = "\(move.currentCode):\(move.currentSeq)@\(move.site)", new = "\(move.newCode):\(move.newSeq)@\(move.site)"
            switch result.outcome {
            case .applied:
                carried.append("\(move.currentCode):\(move.currentSeq) -> \(move.newCode):\(move.newSeq)")
                try appendAudit(AuditRecord(node: node, kind: .move, entity: "partner", key: move.newCode, field: "seq",
                                            oldValue: old, newValue: new,
                                            reason: "customer move \(row[1] as String) from site \(move.fromSite) carried out by the hub"))
            case .rejected:
                try appendAudit(AuditRecord(node: node, kind: .moveRefused, entity: "partner", key: move.currentCode, field: "seq",
                                            oldValue: old, newValue: new, reason: result.reason ?? "refused by the hub"))
            case .duplicate, .renamed:
                continue
            }
        }
        return carried
    }

    /// Renames this node's partner or institution `old` to `new` everywhere on the node: its
    /// row, every column of a replicated record that holds its code (`CodeRename.columns`:
    /// addresses, documents, memberships, ...), and every pending journal entry that mentions it.
    func renameCodeLocally(_ entity: Entity, old: String, new: String, node: String, kinds: RecordKinds, audit: Bool = true) throws {
        if let table = kinds.table(entity), try table.exists(self, key: new) {
            throw StoreError.renameTargetTaken(entity: entity, old: old, new: new)
        }
        for kind in kinds.stored {
            for column in CodeRename.columns(of: kind, holding: entity) {
                try execute(sql: "UPDATE \(kind.table!) SET \(column) = ? WHERE \(column) = ?", arguments: [new, old])
            }
        }
        if entity == .partner {
            try execute(sql: "UPDATE customer_balance SET partner_code = ? WHERE partner_code = ?", arguments: [new, old])
        }
        let pending = try journalEntries("SELECT \(Database.journalColumns) FROM journal WHERE seq > \(Database.ackedThrough) AND acked = 0 ORDER BY seq",
                                         kinds: kinds)
        for e in pending {
            let (key, fields) = CodeRename.rewrite(e.change, entity, old: old, new: new, kinds: kinds)
            if key != e.change.key || fields != e.change.fields {
                try execute(sql: "UPDATE journal SET key = ?, fields = ? WHERE seq = ?",
                            arguments: [key, fields.canonicalJSON(), e.change.seq])
            }
        }
        if audit {
            try appendAudit(AuditRecord(node: node, kind: .rename, entity: entity.rawValue, key: new, field: "code",
                                        oldValue: old, newValue: new,
                                        reason: "store-prefix rule: code \(old) was taken when this node reconnected"))
        }
    }
}

extension Database {
    /// Moves the document number mark (`node_config.next_document` as of `numbered_through`)
    /// past `number` and to the journal's end, keeping every number the journal holds taken.
    func moveDocumentNumberMark(past number: Int64, node: String) throws {
        guard let row = try Row.fetchOne(self, sql: "SELECT next_document, numbered_through FROM node_config WHERE id = 1") else { return }
        let through: Int64 = row["numbered_through"]
        var next: Int64 = max(row["next_document"], number + 1)
        if let key = try String.fetchOne(self, sql: """
            SELECT key FROM journal WHERE seq > ? AND op = 'insert' AND (entity = 'document' OR entity = 'move') ORDER BY seq DESC LIMIT 1
            """, arguments: [through]), let taken = NodeTransaction.documentNumber(key: key, node: node) {
            next = max(next, taken + 1)
        }
        try execute(sql: "UPDATE node_config SET next_document = ?, numbered_through = (SELECT COALESCE(MAX(seq), 0) FROM journal) WHERE id = 1",
                    arguments: [next])
    }
}
