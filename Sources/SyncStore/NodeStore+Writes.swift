import Foundation
import GRDB
import SyncModel

/// The node's writes inside one database transaction. Each write changes its table and
/// appends its journal entry; several writes can share a transaction (`NodeStore.transaction`)
/// for imports, all or nothing.
public struct NodeTransaction {
    public let db: Database
    let clock: () -> UInt64
    private let cache = ConfigCache()

    init(db: Database, clock: @escaping () -> UInt64) {
        self.db = db
        self.clock = clock
    }

    final class ConfigCache { var config: NodeConfig? }

    /// The node's configuration, read once per transaction (writes do not change it).
    func config() throws -> NodeConfig {
        if let c = cache.config { return c }
        let c = try NodeStore.config(db)
        cache.config = c
        return c
    }

    func appendJournal(entity: Entity, key: String, op: ChangeOp, fields: Fields) throws -> Change {
        // Every local write passes here: a NUL character would not survive SQLite's C-string
        // reads and the hub refuses it in a batch, so it is refused at the till (the
        // transaction, row included, rolls back).
        for (name, value) in fields {
            if case .text(let t) = value, t.utf8.contains(0) {
                throw FieldError(field: name, reason: "must not contain a NUL character")
            }
        }
        return try db.appendJournal(entity: entity, key: key, op: op, fields: fields, config: config(), now: clock())
    }
}

extension NodeStore {
    /// Runs `body` in one write transaction: all its writes and journal entries commit together or not at all.
    public func transaction<T>(_ body: (NodeTransaction) throws -> T) throws -> T {
        try pool.write { db in try body(NodeTransaction(db: db, clock: clock)) }
    }

    /// Registers a new partner: validation, code and NIP uniqueness, lowest-price default,
    /// then the row and its journal entry in one transaction.
    @discardableResult
    public func addPartner(_ input: Partner, allowDuplicateVat: Bool = false) throws -> Partner {
        try transaction { try $0.addPartner(input, allowDuplicateVat: allowDuplicateVat) }
    }

    /// Changes some fields of a partner. `changes` uses column names; code, kind,
    /// lowest_price, deleted and origin_node cannot be changed this way.
    @discardableResult
    public func updatePartner(code: String, changes: Fields, allowDuplicateVat: Bool = false) throws -> Partner {
        try transaction { try $0.updatePartner(code: code, changes: changes, allowDuplicateVat: allowDuplicateVat) }
    }

    /// Deletes a partner: it becomes a tombstone; documents that reference it stay.
    public func deletePartner(code: String) throws {
        try transaction { try $0.deletePartner(code: code) }
    }

    /// Adds or replaces an address of a partner at this node's site (seq 0 = bill-to).
    @discardableResult
    public func addAddress(_ input: Address) throws -> Address {
        try transaction { try $0.addAddress(input) }
    }

    /// Records a document (receipt, invoice, order, receivable) for a partner address at this site.
    @discardableResult
    public func addDocument(kind: DocumentKind, partnerCode: String, addressSeq: Int = 0, amountMinor: Int64,
                            currency: String) throws -> Document {
        try transaction { try $0.addDocument(kind: kind, partnerCode: partnerCode, addressSeq: addressSeq, amountMinor: amountMinor, currency: currency) }
    }

    /// Journals a multi-site customer move request; the hub carries it out on reconnect.
    @discardableResult
    public func requestMove(_ request: MoveRequest) throws -> Change {
        try transaction { try $0.requestMove(request) }
    }
}

extension NodeTransaction {
    /// Registers a new partner: validation, code and NIP uniqueness, lowest-price default,
    /// then the row and its journal entry in one transaction.
    @discardableResult
    public func addPartner(_ input: Partner, allowDuplicateVat: Bool = false) throws -> Partner {
        let cfg = try config()
        var p = input
        p.lowestPrice = cfg.center.lowestPriceDefault(for: p.kind)
        p.deleted = false
        p.originNode = cfg.nodeID
        try PartnerValidator.validate(p)
        if try ReplicatedTable.partner.exists(db, key: p.code) {
            throw FieldError(field: "code", reason: "a partner with code \(p.code) already exists")
        }
        try db.checkVATUnique(p, allowDuplicate: allowDuplicateVat)
        let image = p.fields
        try ReplicatedTable.partner.upsert(db, image: image)
        _ = try appendJournal(entity: .partner, key: p.code, op: .insert, fields: image)
        return p
    }

    /// Changes some fields of a partner. `changes` uses column names; code, kind,
    /// lowest_price, deleted and origin_node cannot be changed this way.
    @discardableResult
    public func updatePartner(code: String, changes: Fields, allowDuplicateVat: Bool = false) throws -> Partner {
        guard let current = try ReplicatedTable.partner.fetch(db, key: code) else {
            throw StoreError.notFound(entity: .partner, key: code)
        }
        for name in changes.keys where !Partner.editableColumns.contains(name) {
            throw FieldError(field: name, reason: "cannot be changed with an update")
        }
        var merged = current
        for (k, v) in changes { merged[k] = v }
        let p = try Partner(fields: merged)
        if p.deleted { throw FieldError(field: "code", reason: "partner \(code) is deleted") }
        try PartnerValidator.validate(p)
        if changes["vat_id"] != nil || changes["country"] != nil {
            try db.checkVATUnique(p, allowDuplicate: allowDuplicateVat)
        }
        let effective = changes.filter { current[$0.key] != $0.value }
        guard !effective.isEmpty else { return p }
        try ReplicatedTable.partner.update(db, key: code, fields: effective)
        _ = try appendJournal(entity: .partner, key: code, op: .update, fields: effective)
        return p
    }

    /// Deletes a partner: it becomes a tombstone; documents that reference it stay.
    public func deletePartner(code: String) throws {
        guard let current = try ReplicatedTable.partner.fetch(db, key: code) else {
            throw StoreError.notFound(entity: .partner, key: code)
        }
        if current["deleted"]?.bool == true { return }
        try ReplicatedTable.partner.update(db, key: code, fields: ["deleted": .bool(true)])
        _ = try appendJournal(entity: .partner, key: code, op: .delete, fields: ["deleted": .bool(true)])
    }

    /// Adds or replaces an address of a partner at this node's site (seq 0 = bill-to).
    @discardableResult
    public func addAddress(_ input: Address) throws -> Address {
        let cfg = try config()
        var a = input
        if a.site.isEmpty { a.site = cfg.site }
        guard let partner = try ReplicatedTable.partner.fetch(db, key: a.partnerCode) else {
            throw FieldError(field: "partner", reason: "partner \(a.partnerCode) does not exist")
        }
        if partner["deleted"]?.bool == true { throw FieldError(field: "partner", reason: "partner \(a.partnerCode) is deleted") }
        guard a.seq >= 0 else { throw FieldError(field: "seq", reason: "must be 0 (bill-to) or greater (ship-to)") }
        if a.site.contains("|") { throw FieldError(field: "site", reason: "must not contain '|'") }
        try ReplicatedTable.address.upsert(db, image: a.fields)
        _ = try appendJournal(entity: .address, key: a.key, op: .insert, fields: a.fields)
        return a
    }

    /// Records a document (receipt, invoice, order, receivable) for a partner address at this site.
    @discardableResult
    public func addDocument(kind: DocumentKind, partnerCode: String, addressSeq: Int = 0, amountMinor: Int64,
                            currency: String) throws -> Document {
        let cfg = try config()
        guard let partner = try ReplicatedTable.partner.fetch(db, key: partnerCode) else {
            throw FieldError(field: "partner", reason: "partner \(partnerCode) does not exist")
        }
        if partner["deleted"]?.bool == true { throw FieldError(field: "partner", reason: "partner \(partnerCode) is deleted") }
        if addressSeq > 0, try !ReplicatedTable.address.exists(db, key: Address.key(partnerCode: partnerCode, site: cfg.site, seq: addressSeq)) {
            throw FieldError(field: "seq", reason: "partner \(partnerCode) has no address \(addressSeq) at site \(cfg.site)")
        }
        guard currency.count == 3, currency.allSatisfy({ $0.isASCII && $0.isUppercase }) else {
            throw FieldError(field: "currency", reason: "'\(currency)' is not a three-letter currency code such as PLN")
        }
        let number = try Int64.fetchOne(db, sql: "SELECT next_document FROM node_config WHERE id = 1") ?? 1
        try db.execute(sql: "UPDATE node_config SET next_document = next_document + 1 WHERE id = 1")
        let letter = ["receipt": "R", "invoice": "F", "order": "O", "receivable": "D"][kind.rawValue] ?? "X"
        let doc = Document(id: "\(cfg.nodeID)-\(letter)\(number)", kind: kind, partnerCode: partnerCode,
                           addressSeq: addressSeq, site: cfg.site, amountMinor: amountMinor, currency: currency,
                           status: kind == .receipt ? "settled" : "open", issuedAt: AuditRecord.iso(millis: clock()), node: cfg.nodeID)
        try ReplicatedTable.document.upsert(db, image: doc.fields)
        _ = try appendJournal(entity: .document, key: doc.id, op: .insert, fields: doc.fields)
        return doc
    }

    /// Journals a multi-site customer move request; the hub carries it out on reconnect.
    @discardableResult
    public func requestMove(_ request: MoveRequest) throws -> Change {
        let cfg = try config()
        var r = request
        r.site = cfg.site
        let id = "\(cfg.nodeID)-M\(try Int64.fetchOne(db, sql: "SELECT next_document FROM node_config WHERE id = 1") ?? 1)"
        try db.execute(sql: "UPDATE node_config SET next_document = next_document + 1 WHERE id = 1")
        return try appendJournal(entity: .move, key: id, op: .insert, fields: r.fields)
    }
}

extension NodeStore {
    // MARK: Reads

    public func partner(code: String) throws -> Partner? {
        try pool.read { db in try ReplicatedTable.partner.fetch(db, key: code).map(Partner.init(fields:)) }
    }

    public func partners(includeDeleted: Bool = false) throws -> [Partner] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM partner WHERE ? OR deleted = 0 ORDER BY code", arguments: [includeDeleted])
                .map { try Partner(fields: ReplicatedTable.partner.fields(of: $0)) }
        }
    }

    public func addresses(partnerCode: String? = nil) throws -> [Address] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM address WHERE ?1 IS NULL OR partner_code = ?1 ORDER BY partner_code, site, seq",
                             arguments: [partnerCode])
                .map { try Address(fields: ReplicatedTable.address.fields(of: $0)) }
        }
    }

    public func documents(partnerCode: String? = nil) throws -> [Document] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM document WHERE ?1 IS NULL OR partner_code = ?1 ORDER BY id",
                             arguments: [partnerCode])
                .map { try Document(fields: ReplicatedTable.document.fields(of: $0)) }
        }
    }
}

extension Database {
    /// Seed 004: for country PL a VAT ID already used by another partner is a warning the user must confirm.
    func checkVATUnique(_ p: Partner, allowDuplicate: Bool) throws {
        guard p.country == "PL", let vat = p.vatID, !vat.isEmpty, !allowDuplicate else { return }
        let normalized = PartnerValidator.normalizedNIP(vat)
        if let other = try String.fetchOne(cachedStatement(sql: """
            SELECT code FROM partner INDEXED BY partner_nip
            WHERE \(Schema.normalizedNIPSQL) = ? AND vat_id IS NOT NULL AND deleted = 0 AND code != ? LIMIT 1
            """), arguments: [normalized, p.code]) {
            throw FieldError(field: "vat_id", reason: "partner \(other) already has VAT ID \(vat)", overridable: true)
        }
    }
}
