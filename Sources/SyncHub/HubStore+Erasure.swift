import Crypto
import Foundation
import GRDB
import SyncModel
import SyncReconcile
import SyncStore

/// What an erasure did.
public struct ErasureResult: Sendable, Codable {
    enum CodingKeys: String, CodingKey {
        case accessCase = "case", partners, addresses, records, openDocuments = "open_documents", scrubbed, compacted
    }
    public var accessCase: String
    public var partners: [String]
    public var addresses: Int
    /// Records of other kinds scrubbed or removed (memberships, external references, ...).
    public var records: Int
    /// Documents still open (unpaid orders, invoices): kept, without personal data.
    public var openDocuments: [String]
    /// Older copies scrubbed (audit entries, refusal reasons, store extracts).
    public var scrubbed: Int
    /// Whether the database file was rebuilt and its log emptied (false: a reader kept old
    /// pages; the rebuild stays pending and is finished by `poshub compact` or at start).
    public var compacted: Bool
}

extension Data {
    /// Bytes from hexadecimal text (nil: not an even count of hex digits).
    init?(hexString: String) {
        var bytes: [UInt8] = [], chars = Array(hexString.utf8)
        guard chars.count % 2 == 0 else { return nil }
        while !chars.isEmpty {
            guard let b = UInt8(String(decoding: chars.prefix(2), as: UTF8.self), radix: 16) else { return nil }
            bytes.append(b); chars.removeFirst(2)
        }
        self.init(bytes)
    }
}

extension HubStore {
    // MARK: Erasure

    /// Erases the person of case `id` (Art. 17): the records of the person (the case's, and
    /// those customer moves linked to them, `PersonRecords`; never a record that holds a code
    /// the person's record had at a store before a rename) lose their personal data at the hub
    /// and, through the feed, at every store. Each kind that declares personal data is
    /// treated as its declaration says (`PersonalData.onErasure`): partner fields replaced,
    /// addresses scrubbed, memberships and external references removed, documents kept with
    /// their amounts and codes (tax retention), open ones too (listed in the result). Older
    /// copies at the hub are scrubbed (audit entries, refusal reasons, the stores' extracts,
    /// the case's identifier), the back-office mappings keep only a keyed hash of their
    /// external ids; an `erasure` record per code tells the stores to scrub theirs and refuse
    /// edits that would bring the data back. Then the database is rebuilt (`VACUUM`) and its
    /// write-ahead log emptied, so no file holds the old values; a rebuild that could not end
    /// stays pending (`compactionPending`) and `erase` of the same case, `compact` or the
    /// hub's next start finishes it. A closed case is refused.
    public func erase(case id: String, reason: String? = nil) throws -> ErasureResult {
        if let c = try? accessRequest(id), c.erasedAt != nil {
            // Erased already: only a rebuild left pending remains to be done.
            guard try compactionPending() else {
                throw HubError.invalid(FieldError(field: "case", reason: "case \(id) was erased on \(c.erasedAt!)", code: .conflict))
            }
            try compact()
            return ErasureResult(accessCase: id, partners: [], addresses: 0, records: 0, openDocuments: [], scrubbed: 0, compacted: true)
        }
        var result = ErasureResult(accessCase: id, partners: [], addresses: 0, records: 0, openDocuments: [], scrubbed: 0, compacted: false)
        let at = AuditRecord.iso(millis: clock())
        var values: [String] = []
        let kinds = self.kinds
        try write(storeRecords: true, erasing: true, { db in
            let c = try Self.openCase(db, id)
            guard !c.partners.isEmpty else { throw HubError.invalid(FieldError(field: "case", reason: "case \(id) names no customer record; nothing to erase")) }
            var changes: [CentralChange] = []
            for code in try PersonRecords.records(db, c.partners) {
                guard let fields = try ReplicatedTable.partner.fetch(db, key: code) else { continue }
                values += Erasure.personalValues(fields)
                let kind = PartnerKind(rawValue: fields["kind"]?.text ?? "") ?? .consumer
                changes.append(CentralChange(.partner, .update, key: code, fields: Erasure.partnerFields(kind: kind)))
                for recordKind in kinds.personal where recordKind.entity != .partner {
                    guard let personal = recordKind.personal else { continue }
                    for (key, row) in try db.records(of: recordKind, about: code) {
                        values += personal.values(row)
                        switch personal.onErasure {
                        case .scrub(let replacement):
                            var image = row
                            for (column, value) in replacement { image[column] = value }
                            changes.append(CentralChange(recordKind.entity, .update, key: key, fields: recordKind.entity == .address ? image : replacement))
                        case .remove:
                            changes.append(CentralChange(recordKind.entity, .delete, key: key, fields: [:]))
                        case .keep, .byRule:
                            continue
                        }
                        if recordKind.entity == .address { result.addresses += 1 } else { result.records += 1 }
                    }
                }
                for m in try Self.liveMappings(db, code: code) {
                    values += [m.externalCustomerID, m.externalAddressID, m.debtorNumber].compactMap { $0 }
                }
                result.openDocuments += try String.fetchAll(db, sql: "SELECT id FROM document WHERE partner_code = ? AND status = 'open' ORDER BY id", arguments: [code])
                changes.append(CentralChange(.erasure, .insert, fields: ["partner_code": .text(code), "case_id": .text(id), "at": .text(at)]))
                result.partners.append(code)
            }
            return changes
        }, after: { db in
            result.scrubbed = try Self.scrub(db, codes: result.partners, values: values, caseID: id)
            result.scrubbed += try Self.hashMappings(db, codes: result.partners, at: at)
            let c = try Self.accessCase(db: db, id)
            let identifier = ["email", "national_id", "vat_id"].contains(c.identifierKind) ? Erasure.placeholder : c.identifier
            try db.execute(sql: "UPDATE hub_access_request SET erased_at = ?, identifier = ?, note = NULL WHERE id = ?", arguments: [at, identifier, id])
            try db.appendAudit(AuditRecord(at: at, node: Self.hubNode, kind: .erasure, entity: "case", key: id,
                                           reason: "personal data of \(result.partners.joined(separator: ", ")) erased under case \(id)\(reason.map { ": \($0)" } ?? "")"))
            try db.execute(sql: "INSERT INTO hub_meta (key, value) VALUES ('compaction_pending', '1') ON CONFLICT(key) DO UPDATE SET value = '1'")
        })
        result.compacted = try Self.compact(pool)
        return result
    }

    /// The back-office mappings of the erased `codes` keep no external id in clear and no
    /// debtor number: their ids become keyed hashes (`mappingHash`), so that a later transfer
    /// of the same address is recognised and creates a new customer (`recreated`) without the
    /// hub holding the old ids. Returns the mappings changed.
    static func hashMappings(_ db: Database, codes: [String], at: String) throws -> Int {
        let key = try mappingKey(db)
        var count = 0
        for code in codes {
            for m in try Self.liveMappings(db, code: code) {
                try db.execute(sql: """
                    UPDATE hub_external_mapping SET external_address_id = ?, external_customer_id = ?, debtor_number = NULL, erased_at = ?, updated_at = ?
                    WHERE system = ? AND external_address_id = ?
                    """, arguments: [mappingHash(m.externalAddressID, key: key), mappingHash(m.externalCustomerID, key: key), at, at,
                                     m.system, m.externalAddressID])
                count += db.changesCount
            }
        }
        return count
    }

    /// An external id as an erased mapping keeps it: `erased:` and the HMAC-SHA256 of the id
    /// under the hub's mapping key (`hub_meta` 'mapping_key', 32 random bytes made once).
    static func mappingHash(_ id: String, key: SymmetricKey) -> String {
        "erased:" + HMAC<SHA256>.authenticationCode(for: Data(id.utf8), using: key).map { String(format: "%02x", $0) }.joined()
    }

    static func mappingKey(_ db: Database) throws -> SymmetricKey {
        if let hex = try String.fetchOne(db, sql: "SELECT value FROM hub_meta WHERE key = 'mapping_key'"), let data = Data(hexString: hex) {
            return SymmetricKey(data: data)
        }
        let key = SymmetricKey(size: .bits256)
        let hex = key.withUnsafeBytes { Data($0) }.map { String(format: "%02x", $0) }.joined()
        try db.execute(sql: "INSERT INTO hub_meta (key, value) VALUES ('mapping_key', ?)", arguments: [hex])
        return key
    }

    /// Whether an erasure's rebuild of the database file has not finished.
    public func compactionPending() throws -> Bool {
        try pool.read { try String.fetchOne($0, sql: "SELECT value FROM hub_meta WHERE key = 'compaction_pending'") } == "1"
    }

    /// Removes erased values from older copies at the hub: audit entries of the codes or
    /// naming a value, refusal reasons naming a value, the stores' extracts holding one.
    /// Returns how many rows were scrubbed.
    static func scrub(_ db: Database, codes: [String], values: [String], caseID: String) throws -> Int {
        let mark = "[erased under case \(caseID)]"
        var count = try db.scrubAudit(codes: codes, values: values, mark: mark)
        for value in Set(values) where value.count >= 3 {
            try db.execute(sql: "UPDATE hub_outcome SET reason = ? WHERE instr(reason, ?) > 0", arguments: [mark, value])
            count += db.changesCount
            try db.execute(sql: "DELETE FROM hub_access_extract WHERE instr(extract, ?) > 0", arguments: [value])
            count += db.changesCount
        }
        try db.execute(sql: "DELETE FROM hub_access_extract WHERE case_id = ?", arguments: [caseID])
        return count + db.changesCount
    }

    /// Rebuilds the database file and empties its write-ahead log, so that no page, free or
    /// in the log, still holds a value an erasure replaced (SQLite keeps old content in free
    /// pages and in the log until they are overwritten).
    /// The pending mark (`compactionPending`) is cleared once the rebuild has ended.
    public func compact() throws {
        guard try Self.compact(pool) else {
            throw HubError.refused("the write-ahead log could not be emptied: a reader kept old pages for 5 s; run `poshub compact` (or the erasure again)")
        }
    }

    /// Rebuilds the file and empties the log, then clears the pending mark; false when a
    /// reader kept old pages (the mark stays).
    static func compact(_ pool: HubDatabase) throws -> Bool {
        guard try pool.rebuildEmptyingLog() else { return false }
        // A write of the store (with PostgreSQL the mark is a row of the database).
        try pool.write { db in try db.execute(sql: "DELETE FROM hub_meta WHERE key = 'compaction_pending'") }
        try pool.writeWithoutTransaction { db in
            // The mark's own page goes to the log: empty it once more.
            _ = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)")
        }
        return true
    }

    /// At start: finishes a rebuild an erasure left pending (a reader held old pages, or the
    /// process was stopped during the rebuild). A rebuild that fails again stays pending.
    static func finishPendingCompaction(_ pool: HubDatabase) {
        guard (try? pool.read({ try String.fetchOne($0, sql: "SELECT value FROM hub_meta WHERE key = 'compaction_pending'") })) == "1" else { return }
        _ = try? compact(pool)
    }

}
