import Foundation
import GRDB
import SyncModel

/// A store's part of data-subject requests (docs/privacy.md): its extract of a person's data
/// (GDPR Art. 15), and the erasure (Art. 17) it receives from the hub.
public struct StoreExtract: Sendable, Codable {
    enum CodingKeys: String, CodingKey { case node, site, at, codes, partners, addresses, documents, memberships, pending, audit }
    public var node: String
    public var site: String
    public var at: String
    /// The codes asked for and the ones they had before here (store-prefix renames).
    public var codes: [String]
    public var partners: [Fields]
    public var addresses: [Address]
    public var documents: [Document]
    public var memberships: [String]
    /// Journal entries of the person not yet acknowledged by the hub.
    public var pending: [Change]
    /// The store's own audit entries of the person.
    public var audit: [AuditRecord]
}

extension NodeStore {
    /// This store's extract of the person with `codes` (partner codes; their former codes here
    /// are followed): its rows, its pending journal entries and its audit.
    public func accessExtract(codes entered: [String]) throws -> StoreExtract {
        try pool.read { db in
            let cfg = try NodeStore.config(db)
            var codes: [String] = []
            for code in entered.map(PartnerCode.normalized) {
                for c in [code] + (try db.formerCodesHere(code)) where !codes.contains(c) { codes.append(c) }
            }
            var partners: [Fields] = [], addresses: [Address] = [], documents: [Document] = [], memberships: [String] = []
            var pending: [Change] = [], audit: [AuditRecord] = []
            for code in codes {
                if let p = try ReplicatedTable.partner.fetch(db, key: code) { partners.append(p.filter { !$0.value.isNull }) }
                addresses += try db.addresses(ofPartner: code)
                documents += try db.documents(ofPartner: code)
                if kinds.table(.membership) != nil {
                    memberships += try String.fetchAll(db, sql: "SELECT institution_code FROM membership WHERE partner_code = ?", arguments: [code])
                }
                pending += try db.journalEntries("""
                    SELECT \(Database.journalColumns) FROM journal WHERE seq > \(Database.ackedThrough) AND acked = 0
                    AND \(Database.keyOfRecord) ORDER BY seq
                    """, Database.keyArguments(code), kinds: kinds).map(\.change)
                audit += try Row.fetchAll(db, sql: "SELECT * FROM audit WHERE \(Database.keyOfRecord) OR old_value = ? OR new_value = ? ORDER BY id",
                                          arguments: StatementArguments(Database.keyArguments(code) + [code.databaseValue, code.databaseValue])).map(AuditRecord.init(row:))
            }
            return StoreExtract(node: cfg.nodeID, site: cfg.site, at: AuditRecord.iso(millis: clock()), codes: codes, partners: partners,
                                addresses: addresses, documents: documents, memberships: memberships, pending: pending, audit: audit)
        }
    }

    /// Rebuilds the store's file and empties its write-ahead log after an erasure, so that no
    /// free page and no log frame keeps an erased value. Returns false when a reader kept old
    /// pages for 5 s: the rebuild stays pending (`compaction_pending`) and the next sync round
    /// tries again (`compactIfPending`).
    @discardableResult
    public func compact() throws -> Bool {
        guard try pool.rebuildEmptyingLog() else { return false }
        try pool.writeWithoutTransaction { db in
            try db.execute(sql: "UPDATE node_config SET compaction_pending = 0 WHERE id = 1")
            // The flag's own page goes to the log: empty it once more.
            _ = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)")
        }
        return true
    }

    /// Rebuilds the file when an erasure left the rebuild pending (see `compact`).
    public func compactIfPending() throws {
        let pending = try pool.read { try Bool.fetchOne($0, sql: "SELECT compaction_pending FROM node_config WHERE id = 1") } ?? false
        if pending { try compact() }
    }
}

extension DatabasePool {
    /// Rebuilds the database file (`VACUUM`, `secure_delete` on) and checkpoints its whole
    /// write-ahead log with `TRUNCATE`, so that no free page and no log frame keeps old content
    /// (an erasure's, at hub and stores). The checkpoint waits for readers that still use old
    /// pages: false when one kept them for 5 s (50 tries).
    public func rebuildEmptyingLog() throws -> Bool {
        try writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA secure_delete = ON")
            try db.execute(sql: "VACUUM")
        }
        for attempt in 0..<50 {
            let busy = try writeWithoutTransaction { db in
                try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)").map { $0[0] as Int } ?? 1
            }
            if busy == 0 { return true }
            if attempt < 49 { Thread.sleep(forTimeInterval: 0.1) }
        }
        return false
    }
}

extension Database {
    /// A record keyed by a partner code or beginning with it (`CODE`, `CODE|SITE|SEQ`, ...), as a
    /// key range the index serves; bound with `keyArguments`.
    public static let keyOfRecord = "(key = ? OR (key > ? AND key < ?))"

    public static func keyArguments(_ code: String) -> [DatabaseValue] {
        [code.databaseValue, (code + "|").databaseValue, (code + "}").databaseValue]
    }

    /// The addresses of partner `code`, by site and sequence.
    public func addresses(ofPartner code: String) throws -> [Address] {
        try Row.fetchAll(self, sql: "SELECT \(ReplicatedTable.address.columns.joined(separator: ", ")) FROM address WHERE partner_code = ? ORDER BY site, seq",
                         arguments: [code]).map { try Address(fields: ReplicatedTable.address.fields(of: $0)) }
    }

    /// The documents of partner `code`, oldest first.
    public func documents(ofPartner code: String) throws -> [Document] {
        try Row.fetchAll(self, sql: "SELECT \(ReplicatedTable.document.columns.joined(separator: ", ")) FROM document WHERE partner_code = ? ORDER BY issued_at, id",
                         arguments: [code]).map { try Document(fields: ReplicatedTable.document.fields(of: $0)) }
    }

    /// Scrubs erased values from the audit, at hub and stores alike: entries of the records of
    /// `codes` lose their values (renames, moves and erasures name codes only and stay), and
    /// so does every entry naming one of `values` (3 characters or more). Returns the rows changed.
    public func scrubAudit(codes: [String], values: [String], mark: String) throws -> Int {
        var count = 0
        for code in codes {
            try execute(sql: "UPDATE audit SET old_value = NULL, new_value = NULL, reason = ? WHERE \(Database.keyOfRecord) AND kind NOT IN ('erasure', 'rename', 'move')",
                        arguments: StatementArguments([mark.databaseValue] + Database.keyArguments(code)))
            count += changesCount
        }
        for value in Set(values) where value.count >= 3 {
            try execute(sql: "UPDATE audit SET old_value = NULL, new_value = NULL, reason = ? WHERE instr(old_value, ?) > 0 OR instr(new_value, ?) > 0 OR instr(reason, ?) > 0",
                        arguments: [mark, value, value, value])
            count += changesCount
        }
        return count
    }

    /// The journal entries, acknowledged or not, of partner `code`'s record and addresses.
    func journalOfPartnerAndAddresses(_ code: String, kinds: RecordKinds) throws -> [JournalEntry] {
        try journalEntries("SELECT \(Database.journalColumns) FROM journal WHERE entity IN ('partner', 'address') AND \(Database.keyOfRecord)",
                           Database.keyArguments(code), kinds: kinds)
    }

    /// The codes `code` had at this store before a store-prefix rename (its audit).
    func formerCodesHere(_ code: String) throws -> [String] {
        try String.fetchAll(self, sql: "SELECT old_value FROM audit WHERE kind = 'rename' AND entity = 'partner' AND new_value = ?", arguments: [code])
    }

    /// The case under which `code`'s personal data was erased (nil: it was not).
    func erasureCase(_ code: String) throws -> String? {
        guard try tableExists("erasure") else { return nil }
        return try String.fetchOne(cachedStatement(sql: "SELECT case_id FROM erasure WHERE partner_code = ?"), arguments: [code])
    }

    /// Refuses a local change that would bring back personal data of an erased partner.
    func refuseRestoringErased(_ entity: Entity, op: ChangeOp, code: String, fields: Fields, kind: PartnerKind) throws {
        guard let caseID = try erasureCase(code), Erasure.restores(entity, op: op, fields: fields, kind: kind) else { return }
        throw FieldError(field: entity == .partner ? "code" : "partner",
                         reason: "the personal data of partner \(code) was erased under case \(caseID) (GDPR Art. 17); it cannot be entered again for this record")
    }

    /// The personal values held here of the partners `codes` (and their former codes): the
    /// rows, and every journal entry of them. Read before an erasure's rows are applied.
    func personalValues(of codes: [String], kinds: RecordKinds) throws -> (codes: [String], values: [String]) {
        var all: [String] = [], values: [String] = []
        for code in codes { for c in [code] + (try formerCodesHere(code)) where !all.contains(c) { all.append(c) } }
        for code in all {
            if let p = try ReplicatedTable.partner.fetch(self, key: code) { values += Erasure.personalValues(p) }
            for a in try addresses(ofPartner: code) { values += Erasure.personalValues(a.fields) }
            for e in try journalOfPartnerAndAddresses(code, kinds: kinds) { values += Erasure.personalValues(e.change.fields) }
        }
        return (all, Array(Set(values)))
    }

    /// Carries an erasure the hub fed into this store's older copies: the journal entries of
    /// the partners' records keep no personal value (pending ones are sent with the erased
    /// values), audit entries of them or naming a value are scrubbed, the partner row and the
    /// addresses the hub does not hold any more keep none. Returns the rows scrubbed.
    func scrubErased(_ erased: [(code: String, caseID: String)], codes: [String], values: [String], node: String, kinds: RecordKinds) throws -> Int {
        var count = 0
        let cases = Dictionary(erased.map { ($0.code, $0.caseID) }) { a, _ in a }
        let caseText = Set(erased.map(\.caseID)).sorted().joined(separator: ", ")
        let mark = "[erased under case \(caseText)]"
        for code in codes {
            let partner = try ReplicatedTable.partner.fetch(self, key: code)
            let kind = PartnerKind(rawValue: partner?["kind"]?.text ?? "") ?? .consumer
            let erasedPartner = Erasure.partnerFields(kind: kind)
            for e in try journalOfPartnerAndAddresses(code, kinds: kinds) {
                var fields = e.change.fields
                let replacement = e.change.entity == .partner ? erasedPartner : Erasure.addressFields
                for (column, value) in replacement where fields[column] != nil { fields[column] = value }
                if fields != e.change.fields {
                    try execute(sql: "UPDATE journal SET fields = ? WHERE seq = ?", arguments: [fields.canonicalJSON(), e.change.seq])
                    count += 1
                }
            }
            if let partner, Erasure.restores(.partner, op: .update, fields: partner, kind: kind) {
                try ReplicatedTable.partner.update(self, key: code, fields: erasedPartner)
            }
            // Addresses with personal data left are this store's own, which the hub refused.
            let personal = Erasure.addressColumns.map { "\($0) IS NOT NULL" }.joined(separator: " OR ")
            try execute(sql: "DELETE FROM address WHERE partner_code = ? AND (\(personal))", arguments: [code])
            count += changesCount
        }
        count += try scrubAudit(codes: codes, values: values, mark: mark)
        for value in values where value.count >= 3 {
            try execute(sql: "UPDATE node_config SET last_sync_error = NULL WHERE instr(last_sync_error, ?) > 0", arguments: [value])
        }
        try execute(sql: "UPDATE node_config SET compaction_pending = 1 WHERE id = 1")
        for (code, caseID) in cases.sorted(by: { $0.key < $1.key }) {
            try appendAudit(AuditRecord(node: node, kind: .erasure, entity: "partner", key: code,
                                        reason: "personal data erased under case \(caseID); older copies at this store scrubbed"))
        }
        return count
    }
}
