import Foundation
import GRDB
import SyncModel

/// The node's writes inside one database transaction. Each write changes its table and
/// appends its journal entry; several writes can share a transaction (`NodeStore.transaction`)
/// for imports, all or nothing.
public struct NodeTransaction {
    public let db: Database
    let clock: () -> UInt64
    /// The store's record kinds.
    public let kinds: RecordKinds
    private let cache = ConfigCache()
    /// The store's kept catalog rows for pricing sales (nil: read them).
    let priceLines: PriceLineCache?

    init(db: Database, kinds: RecordKinds, clock: @escaping () -> UInt64, priceLines: PriceLineCache? = nil) {
        self.db = db
        self.kinds = kinds
        self.clock = clock
        self.priceLines = priceLines
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
        for (name, value) in fields { try Self.refuseNUL(value, field: name) }
        // Types and sizes, as the hub checks them in every push (one table: `ColumnRules`).
        guard let kind = kinds.kind(entity) else { throw StoreError.unknownKind(entity.rawValue) }
        let problems = kind.problems(fields)
        if !problems.isEmpty { throw InvalidFields(problems) }
        return try db.appendJournal(entity: entity, key: key, op: op, fields: fields, config: config(), now: clock())
    }

    /// `appendJournal` of a new row given in its kind's column order: the same checks and the
    /// same entry (the fields that are not null), encoded from the values without a dictionary.
    @discardableResult
    func appendNewRowJournal(_ kind: RecordKind, key: String, values: [FieldValue]) throws -> (seq: Int64, hlc: HLC) {
        for (column, value) in zip(kind.columns, values) { try Self.refuseNUL(value, field: column.name) }
        let problems = kind.problems(row: values)
        if !problems.isEmpty { throw InvalidFields(problems.sorted { $0.field < $1.field }) }
        return try db.appendJournal(entity: kind.entity, key: key, op: .insert, fieldsJSON: FlatJSON.encode(row: values, of: kind),
                                    config: config(), now: clock())
    }

    static func refuseNUL(_ value: FieldValue, field: String) throws {
        if case .text(let t) = value, t.holdsNUL { throw FieldError(field: field, reason: "must not contain a NUL character") }
    }
}

extension NodeStore {
    /// Runs `body` in one write transaction: all its writes and journal entries commit together or not at all.
    public func transaction<T>(_ body: (NodeTransaction) throws -> T) throws -> T {
        try pool.write { db in try body(NodeTransaction(db: db, kinds: kinds, clock: clock, priceLines: priceLines)) }
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

    /// Sets or clears invoicing fields of one of this node's documents (see `NodeTransaction`).
    @discardableResult
    public func updateDocumentInvoicing(id: String, changes: Fields) throws -> Document {
        try transaction { try $0.updateDocumentInvoicing(id: id, changes: changes) }
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
                            currency: String? = nil, invoicing: Fields = [:]) throws -> Document {
        try transaction {
            try $0.addDocument(kind: kind, partnerCode: partnerCode, addressSeq: addressSeq, amountMinor: amountMinor, currency: currency, invoicing: invoicing)
        }
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
        p.code = PartnerCode.normalized(p.code)
        p.lowestPrice = cfg.center.lowestPriceDefault(for: p.kind)
        p.deleted = false
        p.originNode = cfg.nodeID
        if p.country == nil { p.country = cfg.center.defaultCountry }
        // A customer registered without a category gets the chain's default one (active, so
        // only a category entered needs the reference check).
        if let entered = p.category { p.category = PartnerCode.normalized(entered) }  // `sch` is `SCH`
        if p.category == nil { p.category = try db.defaultCustomerCategory() }
        try PartnerValidator.validate(p, newCode: true, sizes: true)
        if input.category != nil { try db.checkReferences(.partner, values: p.columnValues, kinds: kinds, requireActive: true) }
        if try ReplicatedTable.partner.exists(db, key: p.code) {
            throw FieldError(field: "code", reason: "a partner with code \(p.code) already exists", code: .conflict)
        }
        try db.checkVATUnique(p, allowDuplicate: allowDuplicateVat)
        try insertNewRow(.partner, key: p.code, values: p.columnValues)
        return p
    }

    /// The id of the next document of `kind` this node writes: `NODE-R12` (see `letter`).
    func nextDocumentID(_ kind: DocumentKind) throws -> String {
        try nextNumberedKey(letter: Self.letter(kind))
    }

    /// The key of the next numbered record this node writes, a document or a move request:
    /// node id, `-`, `letter`, the next number (`documentNumber(key:node:)` reads it back).
    func nextNumberedKey(letter: String) throws -> String {
        "\(try config().nodeID)-\(letter)\(try nextDocumentNumber())"
    }

    /// Writes a new document's row and its journal entry.
    func insertNewDocument(_ doc: Document) throws {
        try insertNewRow(.document, key: doc.id, values: doc.columnValues)
    }

    /// The next number of a document or request this node writes: gapless, never repeated.
    ///
    /// Every number taken is written, in the same transaction, as the key of a journal entry
    /// (`NODE-R12`, `NODE-M13`), and the journal keeps every entry. So the next number is one
    /// more than the newest such entry's, read backwards from the journal's end: a crash or a
    /// rollback takes the number back with its entry. `node_config` holds a mark (the next
    /// number as of journal entry `numbered_through`) that bounds the reading: it is moved when
    /// more than `numberMarkDistance` entries lie beyond it, so a store that imported many
    /// partners since its last sale reads at most that many entries once.
    ///
    /// Measured (`posbench --only order`): keeping the counter itself in `node_config` wrote a
    /// page of it in every sale; an order of 5 lines wrote 6.27 WAL pages with it, 5.28 without.
    func nextDocumentNumber() throws -> Int64 {
        guard let mark = try FastStatement.fetchFirst(db.cachedStatement(sql: "SELECT next_document, numbered_through FROM node_config WHERE id = 1"), []),
              let next = Int64.fromDatabaseValue(mark[0]), let through = Int64.fromDatabaseValue(mark[1]) else {
            throw StoreError.notInitialized(path: db.description)
        }
        var number = next
        let nodeID = try config().nodeID
        let newest = try FastStatement.fetchFirst(db.cachedStatement(sql: """
            SELECT (SELECT key FROM journal WHERE seq > ? AND op = 'insert' AND (entity = 'document' OR entity = 'move') ORDER BY seq DESC LIMIT 1),
                   (SELECT COALESCE(MAX(seq), 0) FROM journal)
            """), [through.databaseValue])
        if let key = newest.flatMap({ String.fromDatabaseValue($0[0]) }), let taken = Self.documentNumber(key: key, node: nodeID) {
            number = max(number, taken + 1)
        }
        let last = newest.flatMap { Int64.fromDatabaseValue($0[1]) } ?? 0
        if last - through > Self.numberMarkDistance {
            try db.cachedStatement(sql: "UPDATE node_config SET next_document = ?, numbered_through = ? WHERE id = 1")
                .execute(arguments: [number + 1, last])
        }
        return number
    }

    /// Journal entries beyond `node_config.numbered_through` after which a new number moves the mark.
    static let numberMarkDistance: Int64 = 1_000

    /// The number in a key this node wrote (`nextNumberedKey`: `NODE-R12` -> 12; nil for
    /// another node's key).
    static func documentNumber(key: String, node: String) -> Int64? {
        guard key.utf8.starts(with: node.utf8), key.utf8.count > node.utf8.count + 2 else { return nil }
        let rest = key.utf8.dropFirst(node.utf8.count)
        guard rest.first == UInt8(ascii: "-") else { return nil }
        return Int64(Substring(rest.dropFirst(2)))
    }

    /// Writes a new partner or document by column and journals its image: the fields that
    /// are not null, encoded from the values in column order (no dictionary of its fields;
    /// `FlatJSON.encode(row:of:)`). Every reader of a new row's
    /// image (the store's own upsert, the hub's preparation and insert) takes a missing column
    /// as null, and such a row never replaces another (a clashing partner code gets a new code,
    /// documents are never replaced), so nothing reads differently; the entry is about 40 %
    /// shorter (a consumer's image 23 -> 12 fields), which fills the journal's pages more slowly.
    @discardableResult
    func insertNewRow(_ table: ReplicatedTable, key: String, values: [FieldValue]) throws -> (seq: Int64, hlc: HLC) {
        try table.upsert(db, stored: table.storedValues(columnValues: values))
        return try appendNewRowJournal(table.kind, key: key, values: values)
    }

    /// Changes some fields of a partner. `changes` uses column names; code, kind,
    /// lowest_price, deleted and origin_node cannot be changed this way.
    @discardableResult
    public func updatePartner(code entered: String, changes: Fields, allowDuplicateVat: Bool = false) throws -> Partner {
        let code = PartnerCode.normalized(entered)
        guard let current = try ReplicatedTable.partner.fetch(db, key: code) else {
            throw try db.partnerMissing(code)
        }
        for name in changes.keys where !Partner.editableColumns.contains(name) {
            throw FieldError(field: name, reason: "cannot be changed with an update")
        }
        var changes = changes
        if let category = changes["category"]?.text { changes["category"] = .text(PartnerCode.normalized(category)) }  // `sch` is `SCH`
        // A value of the wrong type would read as null below: refused first, with the sizes.
        try ColumnRules.check(.partner, changes)
        var merged = current
        for (k, v) in changes { merged[k] = v }
        let p = try Partner(fields: merged)
        if p.deleted { throw try db.partnerDeleted(code, field: "code") }
        try PartnerValidator.validate(p)
        try db.checkReferences(.partner, values: p.columnValues, kinds: kinds, columns: Set(changes.keys), requireActive: true)
        if changes["vat_id"] != nil || changes["country"] != nil {
            try db.checkVATUnique(p, allowDuplicate: allowDuplicateVat)
        }
        let effective = changes.filter { current[$0.key] != $0.value }
        guard !effective.isEmpty else { return p }
        try db.refuseRestoringErased(.partner, op: .update, code: code, fields: effective, partnerKind: p.kind)
        try ReplicatedTable.partner.update(db, key: code, fields: effective)
        _ = try appendJournal(entity: .partner, key: code, op: .update, fields: effective)
        return p
    }

    /// Sets or clears invoicing fields of one of this node's documents (`changes` by column
    /// name, null clears: docs/rules.md, "Invoicing"). Nothing else of a document changes
    /// after it is written, and only the node that wrote it changes it.
    @discardableResult
    public func updateDocumentInvoicing(id: String, changes: Fields) throws -> Document {
        let cfg = try config()
        guard let current = try ReplicatedTable.document.fetch(db, key: id) else {
            throw FieldError(field: "id", reason: "document \(id) does not exist at this store", code: .notFound)
        }
        for name in changes.keys.sorted() where !RecordKind.document.isEditable(name) {
            throw FieldError(field: name, reason: "cannot be changed: a document is written once; only its invoicing fields change")
        }
        if let owner = current["node"]?.text, owner != cfg.nodeID {
            throw FieldError(field: "id", reason: "document \(id) was written by node \(owner); only that node changes it")
        }
        try ColumnRules.check(.document, changes)
        var merged = current
        for (k, v) in changes { merged[k] = v }
        let doc = try Document(fields: merged)
        try checkBillTo(doc)
        let effective = changes.filter { (current[$0.key] ?? .null) != $0.value }
        guard !effective.isEmpty else { return doc }
        try ReplicatedTable.document.update(db, key: id, fields: effective)
        _ = try appendJournal(entity: .document, key: id, op: .update, fields: effective)
        return doc
    }

    /// A document's deviating bill-to address must be another address of its customer at
    /// this site.
    func checkBillTo(_ doc: Document) throws {
        guard let seq = doc.billToSeq else { return }
        guard seq != doc.addressSeq,
              try ReplicatedTable.address.exists(db, key: Address.key(partnerCode: doc.partnerCode, site: doc.site, seq: seq)) else {
            throw FieldError(field: "bill_to_seq", reason: "must be another address of customer \(doc.partnerCode) at site \(doc.site); "
                             + "\(seq) is \(seq == doc.addressSeq ? "the document's own address" : "not one of them")")
        }
    }

    /// Deletes a partner: it becomes a tombstone; documents that reference it stay.
    public func deletePartner(code entered: String) throws {
        let code = PartnerCode.normalized(entered)
        guard let current = try ReplicatedTable.partner.fetch(db, key: code) else {
            throw try db.partnerMissing(code)
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
        a.partnerCode = PartnerCode.normalized(a.partnerCode)
        if a.site.isEmpty { a.site = cfg.site }
        try db.requireLivePartner(a.partnerCode, field: "partner")
        try db.refuseRestoringErased(.address, op: .insert, code: a.partnerCode, fields: a.fields)
        guard a.seq >= 0 else { throw FieldError(field: "seq", reason: "must be 0 (bill-to) or greater (ship-to)") }
        if a.site.contains("|") { throw FieldError(field: "site", reason: "must not contain '|'") }
        try db.checkReferences(.address, values: Address.columns.map { a.fields[$0] ?? .null }, kinds: kinds, requireActive: true)
        try ReplicatedTable.address.upsert(db, image: a.fields)
        _ = try appendJournal(entity: .address, key: a.key, op: .insert, fields: a.fields)
        // An address at an institution makes the customer its member.
        if let institution = a.institution { try addMember(partner: a.partnerCode, institution: institution) }
        return a
    }

    /// Records a document (receipt, invoice, order, receivable, delivery note) by amount for a
    /// partner address at this site, in `currency` (nil: the customer's). Placed with an address
    /// at an institution, it belongs to the institution (its listing); an inactive one refuses it.
    @discardableResult
    public func addDocument(kind: DocumentKind, partnerCode entered: String, addressSeq: Int = 0, amountMinor: Int64,
                            currency entered2: String? = nil, invoicing: Fields = [:]) throws -> Document {
        let cfg = try config()
        let partnerCode = PartnerCode.normalized(entered)
        try db.requireLivePartner(partnerCode, field: "partner")
        if addressSeq > 0, try !ReplicatedTable.address.exists(db, key: Address.key(partnerCode: partnerCode, site: cfg.site, seq: addressSeq)) {
            throw FieldError(field: "seq", reason: "partner \(partnerCode) has no address \(addressSeq) at site \(cfg.site)")
        }
        let currency = try entered2 ?? String.fetchOne(db, sql: "SELECT currency FROM partner WHERE code = ?", arguments: [partnerCode]) ?? "PLN"
        guard currency.count == 3, currency.allSatisfy({ $0.isASCII && $0.isUppercase }) else {
            throw FieldError(field: "currency", reason: "'\(currency)' is not a three-letter currency code such as PLN")
        }
        let institution = try String.fetchOne(db, sql: "SELECT institution FROM address WHERE partner_code = ? AND site = ? AND seq = ?",
                                              arguments: [partnerCode, cfg.site, addressSeq])
        if institution != nil { _ = try db.institutionDiscount(institution) }  // refuses an unknown or inactive one
        let doc = Document(id: try nextDocumentID(kind), kind: kind, partnerCode: partnerCode,
                           addressSeq: addressSeq, site: cfg.site, amountMinor: amountMinor, currency: currency,
                           status: kind == .receipt ? "settled" : "open", issuedAt: AuditRecord.iso(millis: clock()), node: cfg.nodeID,
                           institution: institution)
        let invoiced = try doc.withInvoicing(invoicing)
        try checkBillTo(invoiced)
        try insertNewDocument(invoiced)
        return invoiced
    }

    /// Journals a multi-site customer move request; the hub carries it out on reconnect.
    @discardableResult
    public func requestMove(_ request: MoveRequest) throws -> Change {
        let cfg = try config()
        var r = request
        r.site = cfg.site
        r.currentCode = PartnerCode.normalized(r.currentCode)
        r.newCode = PartnerCode.normalized(r.newCode)
        let id = try nextNumberedKey(letter: "M")
        return try appendJournal(entity: .move, key: id, op: .insert, fields: r.fields)
    }
}

extension NodeStore {
    // MARK: Reads

    public func partner(code: String) throws -> Partner? {
        try pool.read { db in try ReplicatedTable.partner.fetch(db, key: PartnerCode.normalized(code)).map(Partner.init(fields:)) }
    }

    /// The partner `code`, or the refusal that says where this store's customer went when the
    /// store-prefix rule renamed it.
    public func requirePartner(code: String) throws -> Partner {
        try pool.read { db in
            let code = PartnerCode.normalized(code)
            guard let fields = try ReplicatedTable.partner.fetch(db, key: code) else { throw try db.partnerMissing(code) }
            return try Partner(fields: fields)
        }
    }

    /// The code this store's own customer registered as `code` has now, when the store-prefix
    /// rule renamed it (nil: not renamed). `code` may since belong to another store's customer.
    public func renamed(from code: String) throws -> String? {
        try pool.read { try $0.renamedCode(from: PartnerCode.normalized(code)) }
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
                             arguments: [partnerCode.map(PartnerCode.normalized)])
                .map { try Address(fields: ReplicatedTable.address.fields(of: $0)) }
        }
    }

    /// One document by its id (nil: this store has none).
    public func document(id: String) throws -> Document? {
        try pool.read { db in try ReplicatedTable.document.fetch(db, key: id).map { try Document(fields: $0) } }
    }

    public func documents(partnerCode: String? = nil) throws -> [Document] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM document WHERE ?1 IS NULL OR partner_code = ?1 ORDER BY id",
                             arguments: [partnerCode.map(PartnerCode.normalized)])
                .map { try Document(fields: ReplicatedTable.document.fields(of: $0)) }
        }
    }
}

extension Database {
    /// The refusal for a partner code this store does not hold, saying where this store's
    /// customer went when the store-prefix rule renamed it.
    func partnerMissing(_ code: String, field: String? = nil) throws -> Error {
        if let now = try renamedCode(from: code) {
            return FieldError(field: field ?? "code", reason: "partner \(code) does not exist: this store's customer \(code) is now \(now) (store-prefix rule)")
        }
        if let field { return FieldError(field: field, reason: "partner \(code) does not exist") }
        return StoreError.notFound(entity: .partner, key: code)
    }

    /// The refusal for a deleted partner, saying where the customer went when a customer move
    /// replaced it.
    /// Throws unless partner `code` exists and is not deleted: the refusal names `field` and
    /// says where a renamed or moved customer went.
    /// Returns the partner's category.
    @discardableResult
    func requireLivePartner(_ code: String, field: String) throws -> String? {
        // Two columns, not the whole row: every sale to a customer asks.
        guard let row = try FastStatement.fetchFirst(cachedStatement(sql: "SELECT deleted, category FROM partner WHERE code = ?"), [code.databaseValue]) else {
            throw try partnerMissing(code, field: field)
        }
        if Bool.fromDatabaseValue(row[0]) == true { throw try partnerDeleted(code, field: field) }
        return String.fromDatabaseValue(row[1])
    }

    func partnerDeleted(_ code: String, field: String) throws -> FieldError {
        if let target = try movedCode(from: code) {
            return FieldError(field: field, reason: "partner \(code) was moved to \(target) (customer move); use \(target)")
        }
        return FieldError(field: field, reason: "partner \(code) is deleted")
    }

    /// The newest code the store-prefix rule gave this store's customer `code`.
    func renamedCode(from code: String) throws -> String? {
        var current = code
        var seen: Set<String> = [code]
        // Follows a rename of a renamed code (rare), at most a few steps.
        while let next = try String.fetchOne(self, sql: """
            SELECT new_value FROM audit WHERE kind = 'rename' AND entity = 'partner' AND old_value = ? ORDER BY id DESC LIMIT 1
            """, arguments: [current]), seen.insert(next).inserted {
            current = next
        }
        return current == code ? nil : current
    }

    /// The customer a move carried out for this store replaced `code` with (the newest move).
    func movedCode(from code: String) throws -> String? {
        guard let value = try String.fetchOne(self, sql: """
            SELECT new_value FROM audit WHERE kind = 'move' AND entity = 'partner' AND old_value LIKE ? ESCAPE '\\' ORDER BY id DESC LIMIT 1
            """, arguments: [Self.likePrefix(code) + ":%"]) else { return nil }
        // "CODE:SEQ@SITE": the code is what comes before the last ':'.
        return value.lastIndex(of: ":").map { String(value[..<$0]) }
    }

    static func likePrefix(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
    }

    /// For country PL a VAT ID already used by another partner is a warning the user must confirm.
    func checkVATUnique(_ p: Partner, allowDuplicate: Bool) throws {
        guard !allowDuplicate, let other = try partnerWithSameNIP(vatID: p.vatID, country: p.country, excluding: p.code) else { return }
        throw FieldError(field: "vat_id", reason: "partner \(other) already has VAT ID \(p.vatID ?? "")", overridable: true)
    }

    /// Another live partner with the same Polish VAT ID (NIP) as a partner of `country`, or
    /// nil (also for another country, or no VAT ID). Node and hub alike (index `partner_nip`).
    public func partnerWithSameNIP(vatID: String?, country: String?, excluding code: String) throws -> String? {
        guard country == "PL", let vat = vatID, !vat.isEmpty else { return nil }
        return try String.fetchOne(cachedStatement(sql: """
            SELECT code FROM partner INDEXED BY partner_nip
            WHERE \(Schema.normalizedNIPSQL) = ? AND vat_id IS NOT NULL AND deleted = 0 AND code != ? ORDER BY code LIMIT 1
            """), arguments: [PartnerValidator.normalizedNIP(vat), code])
    }
}

// MARK: - Records of any kind

extension NodeStore {
    /// Writes a record of any kind the store replicates, by its declaration (`RecordKind`):
    /// see `NodeTransaction.write`.
    @discardableResult
    public func write(_ entity: Entity, op: ChangeOp, key: String? = nil, fields: Fields) throws -> Change {
        try transaction { try $0.write(entity, op: op, key: key, fields: fields) }
    }

    /// A record of any stored kind by its key (nil: none).
    public func record(_ entity: Entity, key: String) throws -> Fields? {
        guard let table = kinds.table(entity) else { throw StoreError.unknownKind(entity.rawValue) }
        return try pool.read { try table.fetch($0, key: key) }
    }
}

extension NodeTransaction {
    /// Writes a record of any kind by its declaration, the row and its journal entry together.
    /// `insert`: a new record, `fields` holding its key columns (`key` may be left out);
    /// `update`: some editable columns of an existing record; `delete`: its removal as the kind
    /// declares it. Refused naming the record: kinds only the hub writes, a record that
    /// exists (insert) or does not (update, delete), columns an update may not change, and a
    /// row the kind's validation refuses. Partners, addresses and documents have their own
    /// writes (`addPartner`, ...), which apply their rules beyond the declaration.
    @discardableResult
    public func write(_ entity: Entity, op: ChangeOp, key given: String? = nil, fields: Fields) throws -> Change {
        guard let kind = kinds.kind(entity), let table = ReplicatedTable.of(kind) else { throw StoreError.unknownKind(entity.rawValue) }
        var values = table.presentColumns(fields).map { $0 ?? .null }
        let key = try given ?? table.key(of: values)
        guard kind.writers != .hub else {
            throw StoreError.notWritable(entity: entity, key: key, reason: "central master data, written at the hub; a store cannot change it")
        }
        switch op {
        case .insert:
            if try table.exists(db, key: key) {
                throw FieldError(field: kind.key.joined(separator: ", "), reason: "\(entity.rawValue) \(key) already exists", code: .conflict)
            }
            for (column, value) in try table.keyFields(key) { values[table.columnIndex[column]!] = value }
            try kind.validate(RecordRow(kind: kind, values: values))
            try db.checkReferences(kind, values: values, kinds: kinds, requireActive: true)
            if let parent = kind.parent, let code = values[table.columnIndex[parent]!].text {
                try db.requireLivePartner(code, field: parent)
            }
            if let subject = kind.personal?.subject, let code = values[table.columnIndex[subject]!].text {
                try db.refuseRestoringErased(kind, op: .insert, code: code, fields: table.newRowImage(values))
            }
            let (seq, hlc) = try insertNewRow(table, key: key, values: values)
            return Change(seq: seq, hlc: hlc, node: try config().nodeID, entity: entity, key: key, op: .insert, fields: table.newRowImage(values))
        case .update:
            guard let current = try table.fetch(db, key: key) else { throw StoreError.notFound(entity: entity, key: key) }
            for name in fields.keys.sorted() where !kind.isEditable(name) {
                throw FieldError(field: name, reason: "cannot be changed by an update")
            }
            var row = RecordRow(kind: kind, values: table.columns.map { current[$0] ?? .null })
            for (name, value) in fields { row.values[table.columnIndex[name]!] = value }
            try kind.validate(row)
            try db.checkReferences(kind, values: row.values, kinds: kinds, columns: Set(fields.keys), requireActive: true)
            if let subject = kind.personal?.subject, let code = row[subject].text {
                try db.refuseRestoringErased(kind, op: .update, code: code, fields: fields)
            }
            try table.update(db, key: key, fields: fields)
            return try appendJournal(entity: entity, key: key, op: .update, fields: fields)
        case .delete:
            guard try table.exists(db, key: key) else { throw StoreError.notFound(entity: entity, key: key) }
            switch kind.removal {
            case .never:
                throw StoreError.notWritable(entity: entity, key: key, reason: "records of this kind are never removed")
            case .tombstone(let flag):
                try table.update(db, key: key, fields: [flag: .bool(true)])
                return try appendJournal(entity: entity, key: key, op: .delete, fields: [flag: .bool(true)])
            case .delete:
                try table.delete(db, key: key)
                return try appendJournal(entity: entity, key: key, op: .delete, fields: [:])
            }
        }
    }
}
