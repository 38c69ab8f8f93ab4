import Foundation
import GRDB
import SyncModel

/// A store's part of data-subject requests (docs/privacy.md): its extract of a person's data
/// (GDPR Art. 15), and the erasure (Art. 17) it receives from the hub.
public struct StoreExtract: Sendable, Codable {
    enum CodingKeys: String, CodingKey { case node, site, at, codes, formerCodes = "former_codes", partners, addresses, documents, memberships, records, pending, audit }
    public var node: String
    public var site: String
    public var at: String
    /// The records' codes here.
    public var codes: [String]
    /// The codes they had here before a store-prefix rename (their history up to the rename).
    public var formerCodes: [String]
    public var partners: [Fields]
    public var addresses: [Address]
    public var documents: [Document]
    public var memberships: [String]
    /// Rows of every other kind that declares personal data of the customer, by kind name.
    public var records: [String: [Fields]]
    /// Journal entries of the person not yet acknowledged by the hub.
    public var pending: [Change]
    /// The store's own audit entries of the person.
    public var audit: [AuditRecord]
}

extension NodeStore {
    /// This store's extract of the person whose records here hold `codes` now: their rows
    /// (every kind that declares personal data of the customer), their pending journal entries
    /// and their audit, with the history under codes they had here before a store-prefix
    /// rename (`code_history`), never the records that hold those codes now. `exact`: the
    /// codes are the hub's record codes (a case); otherwise a code as a cashier or officer
    /// types it, which may also be a former code here and is refused when it is or was the
    /// code of more than one record here (`resolveHere`).
    public func accessExtract(codes entered: [String], exact: Bool = true) throws -> StoreExtract {
        try pool.read { db in
            let cfg = try NodeStore.config(db)
            var codes: [String] = []
            for code in entered.map(PartnerCode.normalized) {
                for c in exact ? [code] : try db.resolveHere(code) where !codes.contains(c) { codes.append(c) }
            }
            var partners: [Fields] = [], addresses: [Address] = [], documents: [Document] = [], memberships: [String] = []
            var records: [String: [Fields]] = [:], former: [String] = []
            var pending: [Change] = [], audit: [AuditRecord] = []
            for code in codes {
                if let p = try ReplicatedTable.partner.fetch(db, key: code) { partners.append(p.filter { !$0.value.isNull }) }
                for kind in kinds.personal where kind.entity != .partner {
                    switch kind.entity {
                    // The kinds the extract shows typed, in their own order.
                    case .address: addresses += try db.addresses(ofPartner: code)
                    case .document: documents += try db.documents(ofPartner: code)
                    case .membership: memberships += try db.records(of: kind, about: code).compactMap { $0.fields["institution_code"]?.text }
                    default:
                        let rows = try db.records(of: kind, about: code).map { $0.fields.filter { !$0.value.isNull } }
                        if !rows.isEmpty { records[kind.entity.rawValue, default: []] += rows }
                    }
                }
                for span in try db.codeSpans(code) {
                    if span.code != code { former.append(span.code) }
                    pending += try db.journalEntries("""
                        SELECT \(Database.journalColumns) FROM journal WHERE seq > \(Database.ackedThrough) AND acked = 0
                        AND \(Database.keyOfRecord) AND seq > ? AND seq <= ? ORDER BY seq
                        """, Database.keyArguments(span.code) + [span.journalAfter.databaseValue, span.journalThrough.databaseValue], kinds: kinds).map(\.change)
                    audit += try Row.fetchAll(db, sql: "SELECT * FROM audit WHERE \(Database.keyOfRecord) AND id > ? AND id <= ? ORDER BY id",
                                              arguments: StatementArguments(Database.keyArguments(span.code) + [span.auditAfter.databaseValue, span.auditThrough.databaseValue]))
                        .map(AuditRecord.init(row:))
                }
            }
            return StoreExtract(node: cfg.nodeID, site: cfg.site, at: AuditRecord.iso(millis: clock()), codes: codes, formerCodes: former,
                                partners: partners, addresses: addresses, documents: documents, memberships: memberships, records: records,
                                pending: pending, audit: audit)
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
    /// The customer a change of `kind` is about (`PersonalData.subject`): from the change, or
    /// from the stored row for an edit that leaves the customer's column out. Nil for a kind
    /// without personal data or a record not stored.
    public func subjectCode(of change: Change, kind: RecordKind) throws -> String? {
        if let code = PersonalData.subject(of: change, kind: kind) { return code }
        guard let personal = kind.personal, let table = ReplicatedTable.of(kind) else { return nil }
        return try table.fetch(self, key: change.key)?[personal.subject]?.text
    }

    /// The keys of the records of `kind` about partner `code` (`PersonalData.subject`).
    public func keys(of kind: RecordKind, about code: String) throws -> [String] {
        try records(of: kind, about: code).map(\.key)
    }

    /// The records of `kind` about partner `code` (`PersonalData.subject`), whole, by key: one
    /// statement, not one per record.
    public func records(of kind: RecordKind, about code: String) throws -> [(key: String, fields: Fields)] {
        guard let personal = kind.personal, let table = ReplicatedTable.of(kind) else { return [] }
        return try Row.fetchAll(self, sql: "SELECT \(table.columns.joined(separator: ", ")) FROM \(table.name) WHERE \(personal.subject) = ?",
                                arguments: [code])
            .map { row in
                let fields = table.fields(of: row)
                return (try table.key(ofImage: fields), fields)
            }
            .sorted { $0.key < $1.key }
    }

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

    /// The journal entries, acknowledged or not, of a record's partner row and addresses
    /// within `span` (its own code, or a code it had before a rename, up to the rename).
    func journalOfPartnerAndAddresses(_ span: CodeSpan, kinds: RecordKinds) throws -> [JournalEntry] {
        try journalEntries("SELECT \(Database.journalColumns) FROM journal WHERE entity IN ('partner', 'address') AND \(Database.keyOfRecord) AND seq > ? AND seq <= ?",
                           Database.keyArguments(span.code) + [span.journalAfter.databaseValue, span.journalThrough.databaseValue], kinds: kinds)
    }

    /// Where a record's entries are in the journal and the audit under one code: the code it
    /// holds now (after the entries of whoever held it before, up to that one's rename), and
    /// each code it had here before a store-prefix rename (up to the rename).
    struct CodeSpan {
        var code: String
        var journalAfter: Int64, journalThrough: Int64
        var auditAfter: Int64, auditThrough: Int64
    }

    /// The spans of the record that holds `code` here now (`code_history`).
    func codeSpans(_ code: String) throws -> [CodeSpan] {
        // Entries under `code` up to a rename away from it are the renamed record's.
        func renamedAway(_ c: String, before limit: Int64?) throws -> (journal: Int64, audit: Int64) {
            let row = try Row.fetchOne(self, sql: """
                SELECT COALESCE(MAX(journal_through), 0), COALESCE(MAX(audit_through), 0) FROM code_history
                WHERE entity = 'partner' AND old_code = ? AND audit_through < ?
                """, arguments: [c, limit ?? Int64.max])
            return (row?[0] ?? 0, row?[1] ?? 0)
        }
        let own = try renamedAway(code, before: nil)
        var spans = [CodeSpan(code: code, journalAfter: own.journal, journalThrough: Int64.max, auditAfter: own.audit, auditThrough: Int64.max)]
        var queue = [code], seen: Set<String> = [code]
        while let c = queue.popLast() {
            for row in try Row.fetchAll(self, sql: "SELECT old_code, journal_through, audit_through FROM code_history WHERE entity = 'partner' AND new_code = ?", arguments: [c]) {
                let old: String = row["old_code"], jt: Int64 = row["journal_through"], at: Int64 = row["audit_through"]
                guard seen.insert(old).inserted else { continue }
                let before = try renamedAway(old, before: at)
                spans.append(CodeSpan(code: old, journalAfter: before.journal, journalThrough: jt, auditAfter: before.audit, auditThrough: at))
                queue.append(old)
            }
        }
        return spans
    }

    /// The record(s) here a code as typed means: the record that holds it now, or the one
    /// that had it here before a store-prefix rename. A code that is, or was, more than one
    /// record's is refused with the candidates (code now, name, origin, since when).
    func resolveHere(_ code: String) throws -> [String] {
        var candidates: [(code: String, text: String)] = []
        if let p = try ReplicatedTable.partner.fetch(self, key: code).flatMap({ try? Partner(fields: $0) }) {
            candidates.append((code, "\(code) (\(p.displayName), \(p.originNode ?? "?"), holds it now)"))
        }
        for row in try Row.fetchAll(self, sql: "SELECT new_code, at FROM code_history WHERE entity = 'partner' AND old_code = ? ORDER BY audit_through", arguments: [code]) {
            let now: String = row["new_code"]
            guard !candidates.contains(where: { $0.code == now }),
                  let p = try ReplicatedTable.partner.fetch(self, key: now).flatMap({ try? Partner(fields: $0) }) else { continue }
            candidates.append((now, "\(now) (\(p.displayName), \(p.originNode ?? "?"), had \(code) here until \(row["at"] as String))"))
        }
        guard candidates.count <= 1 else {
            throw FieldError(field: "partner", reason: "'\(code)' is or was the code of \(candidates.count) customers here: \(candidates.map(\.text).joined(separator: ", ")); give the code the person's record holds now with --record")
        }
        return candidates.map(\.code)
    }

    /// The case under which `code`'s personal data was erased (nil: it was not).
    func erasureCase(_ code: String) throws -> String? {
        guard try tableExists("erasure") else { return nil }
        return try String.fetchOne(cachedStatement(sql: "SELECT case_id FROM erasure WHERE partner_code = ?"), arguments: [code])
    }

    /// Refuses a local change of a record of `kind` about partner `code` that would bring back
    /// personal data of an erased partner (`Erasure.restores`).
    func refuseRestoringErased(_ kind: RecordKind, op: ChangeOp, code: String, fields: Fields, partnerKind: PartnerKind = .consumer) throws {
        guard let caseID = try erasureCase(code), Erasure.restores(kind, op: op, fields: fields, kind: partnerKind) else { return }
        throw FieldError(field: kind.entity == .partner ? "code" : (kind.personal?.subject == "partner_code" ? "partner" : kind.personal?.subject ?? "partner"),
                         reason: "the personal data of partner \(code) was erased under case \(caseID) (GDPR Art. 17); it cannot be entered again for this record")
    }

    /// The personal values held here of the partners `codes` (the records that hold these
    /// codes now): their rows of every kind that declares personal data, and their journal
    /// entries under these codes and under codes they had before a rename (up to the rename).
    /// Read before an erasure's rows are applied.
    func personalValues(of codes: [String], kinds: RecordKinds) throws -> (codes: [String], values: [String]) {
        var values: [String] = []
        for code in codes {
            if let p = try ReplicatedTable.partner.fetch(self, key: code) { values += Erasure.personalValues(p) }
            for kind in kinds.personal where kind.entity != .partner {
                guard let personal = kind.personal else { continue }
                for (key, row) in try records(of: kind, about: code) {
                    values += personal.values(row)
                    for e in try journalEntries("SELECT \(Database.journalColumns) FROM journal WHERE entity = ? AND key = ?",
                                                [kind.entity.rawValue.databaseValue, key.databaseValue], kinds: kinds) {
                        values += personal.values(e.change.fields)
                    }
                }
            }
            for span in try codeSpans(code) {
                for e in try journalOfPartnerAndAddresses(span, kinds: kinds) { values += Erasure.personalValues(e.change.fields) }
            }
        }
        return (codes, Array(Set(values)))
    }

    /// Carries an erasure the hub fed into this store's older copies: the journal entries of
    /// the partners' records (under their codes and the codes they had before a rename, up to
    /// the rename) keep no personal value (pending ones are sent with the erased values),
    /// audit entries of them or naming a value are scrubbed, the partner row keeps none, and
    /// this store's own records of the person that the hub does not hold (refused) are
    /// scrubbed or removed as their kind declares. Records that hold a former code now are
    /// another customer's and are not touched. Returns the rows scrubbed.
    func scrubErased(_ erased: [(code: String, caseID: String)], codes: [String], values: [String], node: String, kinds: RecordKinds) throws -> Int {
        var count = 0
        let cases = Dictionary(erased.map { ($0.code, $0.caseID) }) { a, _ in a }
        let caseText = Set(erased.map(\.caseID)).sorted().joined(separator: ", ")
        let mark = "[erased under case \(caseText)]"
        for code in codes {
            let partner = try ReplicatedTable.partner.fetch(self, key: code)
            let kind = PartnerKind(rawValue: partner?["kind"]?.text ?? "") ?? .consumer
            let erasedPartner = Erasure.partnerFields(kind: kind)
            let spans = try codeSpans(code)
            for span in spans {
                for e in try journalOfPartnerAndAddresses(span, kinds: kinds) {
                    var fields = e.change.fields
                    let replacement = e.change.entity == .partner ? erasedPartner : Erasure.addressFields
                    for (column, value) in replacement where fields[column] != nil { fields[column] = value }
                    if fields != e.change.fields {
                        try execute(sql: "UPDATE journal SET fields = ? WHERE seq = ?", arguments: [fields.canonicalJSON(), e.change.seq])
                        count += 1
                    }
                }
                try execute(sql: "UPDATE audit SET old_value = NULL, new_value = NULL, reason = ? WHERE \(Database.keyOfRecord) AND id > ? AND id <= ? AND kind NOT IN ('erasure', 'rename', 'move')",
                            arguments: StatementArguments([mark.databaseValue] + Database.keyArguments(span.code) + [span.auditAfter.databaseValue, span.auditThrough.databaseValue]))
                count += changesCount
            }
            if let partner, Erasure.restores(.partner, op: .update, fields: partner, kind: kind) {
                try ReplicatedTable.partner.update(self, key: code, fields: erasedPartner)
            }
            for recordKind in kinds.personal where recordKind.entity != .partner {
                guard let personal = recordKind.personal, let table = ReplicatedTable.of(recordKind) else { continue }
                for (key, row) in try records(of: recordKind, about: code) {
                    let scrub: Fields
                    switch personal.onErasure {
                    case .scrub(let f): scrub = f
                    case .remove: scrub = Dictionary(uniqueKeysWithValues: personal.categories.keys.map { ($0, FieldValue.null) })
                    case .keep, .byRule: continue
                    }
                    for e in try journalEntries("SELECT \(Database.journalColumns) FROM journal WHERE entity = ? AND key = ?",
                                                [recordKind.entity.rawValue.databaseValue, key.databaseValue], kinds: kinds) {
                        var fields = e.change.fields
                        for (column, value) in scrub where fields[column] != nil { fields[column] = value }
                        if fields != e.change.fields {
                            try execute(sql: "UPDATE journal SET fields = ? WHERE seq = ?", arguments: [fields.canonicalJSON(), e.change.seq])
                            count += 1
                        }
                    }
                    switch personal.onErasure {
                    // Rows the hub holds come back erased (or removed) in the same feed; those
                    // left with personal data are this store's own, which the hub refused.
                    case .remove:
                        try table.delete(self, key: key)
                        count += 1
                    default:
                        if !personal.values(row).isEmpty {
                            try table.delete(self, key: key)
                            count += 1
                        }
                    }
                }
            }
        }
        count += try scrubAudit(codes: [], values: values, mark: mark)
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
