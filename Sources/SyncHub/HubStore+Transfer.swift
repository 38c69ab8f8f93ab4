import Foundation
import GRDB
import SyncModel
import SyncReconcile
import SyncStore

/// One customer address an external system (a booking back office) hands over
/// (`POST /v1/external/customers`, docs/backoffice.md). Field names as the API takes them.
public struct TransferItem: Sendable, Codable, Hashable {
    enum CodingKeys: String, CodingKey {
        case externalCustomerID = "external_customer_id", externalAddressID = "external_address_id", trigger
        case firstName = "first_name", lastName = "last_name", institution, street, city, country, postalCode = "postal_code"
        case debtorNumber = "debtor_number", email, phone, invoice, order
    }
    public var externalCustomerID: String?
    public var externalAddressID: String?
    /// `invoice`, `pickup` or `delivery-note`: what made the back office transfer the customer.
    public var trigger: String?
    public var firstName: String?
    public var lastName: String?
    /// The POS institution the address is at (optional).
    public var institution: String?
    public var street: String?
    public var city: String?
    public var country: String?
    public var postalCode: String?
    /// Stored as the customer's external reference.
    public var debtorNumber: String?
    public var email: String?
    public var phone: String?
    /// With an `invoice` trigger: the invoice the back office issued.
    public var invoice: TransferDocument?
    /// With a `pickup` trigger: the order the customer collects at a store.
    public var order: TransferDocument?

    public init(externalCustomerID: String?, externalAddressID: String?, trigger: String?, firstName: String?, lastName: String?,
                institution: String? = nil, street: String? = nil, city: String? = nil, country: String? = nil, postalCode: String? = nil,
                debtorNumber: String? = nil, email: String? = nil, phone: String? = nil, invoice: TransferDocument? = nil, order: TransferDocument? = nil) {
        self.externalCustomerID = externalCustomerID; self.externalAddressID = externalAddressID; self.trigger = trigger
        self.firstName = firstName; self.lastName = lastName; self.institution = institution; self.street = street; self.city = city
        self.country = country; self.postalCode = postalCode; self.debtorNumber = debtorNumber; self.email = email; self.phone = phone
        self.invoice = invoice; self.order = order
    }
}

/// An invoice or order an external system sends with a transfer.
public struct TransferDocument: Sendable, Codable, Hashable {
    enum CodingKeys: String, CodingKey { case externalNumber = "external_number", amount, currency, lines }
    public var externalNumber: String?
    /// Decimal (`123.45`); for an invoice without lines, or to be checked against them.
    public var amount: String?
    public var currency: String?
    public var lines: [TransferLine]?

    public init(externalNumber: String?, amount: String? = nil, currency: String?, lines: [TransferLine]? = nil) {
        self.externalNumber = externalNumber; self.amount = amount; self.currency = currency; self.lines = lines
    }
}

public struct TransferLine: Sendable, Codable, Hashable {
    enum CodingKeys: String, CodingKey { case offer, quantity, unitPrice = "unit_price" }
    public var offer: String?
    public var quantity: Int?
    /// Decimal, as the back office priced it.
    public var unitPrice: String?

    public init(offer: String?, quantity: Int?, unitPrice: String?) { self.offer = offer; self.quantity = quantity; self.unitPrice = unitPrice }
}

/// The answer for one transferred address, in the order of the batch.
public struct TransferResult: Sendable, Codable, Hashable {
    enum CodingKeys: String, CodingKey {
        case externalAddressID = "external_address_id", code, action, documents, error, institution, institutionCreated = "institution_created"
    }
    public var externalAddressID: String?
    /// The POS partner code.
    public var code: String?
    /// `created`, `existing` or `recreated`; nil for a refused item.
    public var action: String?
    /// The POS documents created for the item's invoice or order (ids).
    public var documents: [String]?
    public var error: TransferError?
    /// The POS institution the address was linked to (matched by code or name, or created).
    public var institution: String? = nil
    /// Whether that institution was created by this transfer.
    public var institutionCreated: Bool? = nil
}

public struct TransferError: Error, Sendable, Codable, Hashable {
    public var field: String
    public var message: String
    /// `conflict` for a document sent again with other content or for another customer.
    public var code: String? = nil
}

/// The mapping of an external system's address to its POS customer.
public struct ExternalMapping: Sendable, Codable, Hashable {
    enum CodingKeys: String, CodingKey {
        case system, externalCustomerID = "external_customer_id", externalAddressID = "external_address_id", code
        case debtorNumber = "debtor_number", createdAt = "created_at", updatedAt = "updated_at"
    }
    public var system: String
    public var externalCustomerID: String
    public var externalAddressID: String
    public var code: String
    public var debtorNumber: String?
    public var createdAt: String
    public var updatedAt: String
}

/// An element of a transfer batch that may not be a transfer item at all.
public struct LenientItem<T: Decodable & Sendable>: Decodable, Sendable {
    public let value: Result<T, TransferError>

    public init(from decoder: Decoder) throws {
        do { value = .success(try T(from: decoder)) } catch let e as DecodingError {
            value = .failure(Self.problem(e))
        }
    }

    public init(_ value: T) { self.value = .success(value) }

    public init(failure: TransferError) { self.value = .failure(failure) }

    static func problem(_ e: DecodingError) -> TransferError {
        func path(_ c: DecodingError.Context) -> String { c.codingPath.filter { $0.intValue == nil }.map(\.stringValue).joined(separator: ".") }
        switch e {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
            return TransferError(field: path(c).isEmpty ? "item" : path(c), message: "has the wrong type")
        case .keyNotFound(let key, _): return TransferError(field: key.stringValue, message: "is missing")
        @unknown default: return TransferError(field: "item", message: "is not a transfer item")
        }
    }
}

extension HubStore {
    /// The most items of one transfer batch.
    public static let maxTransferItems = 1000

    /// Registers an external system and returns its token (shown once, only its hash is kept):
    /// the token calls the transfer API and nothing else. Customers it transfers get codes of
    /// `series` (letters and digits; default `BO`), so they never take a code a store uses.
    public func addSystem(name: String, series: String = "BO") throws -> String {
        guard !name.isEmpty, name.count <= 32, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            throw HubError.invalid(FieldError(field: "name", reason: "'\(name)' is not a name of letters, digits, - and _ (at most 32)"))
        }
        guard !series.isEmpty, series.count <= 8, series.allSatisfy({ $0.isASCII && ($0.isUppercase || $0.isNumber) }) else {
            throw HubError.invalid(FieldError(field: "series", reason: "'\(series)' is not 1-8 capital letters or digits"))
        }
        let token = Self.newToken()
        try pool.write { db in
            // Names are unique ignoring case: `booking` and `Booking` would share documents' ids.
            if let taken = try String.fetchOne(db, sql: "SELECT name FROM hub_system WHERE name = ? COLLATE NOCASE", arguments: [name]) {
                throw HubError.invalid(FieldError(field: "name", reason: "system \(taken) is already registered\(taken == name ? "" : " (names are compared ignoring case)")", code: .conflict))
            }
            if let other = try String.fetchOne(db, sql: "SELECT name FROM hub_system WHERE series = ?", arguments: [series]) {
                throw HubError.invalid(FieldError(field: "series", reason: "series \(series) is system \(other)'s", code: .conflict))
            }
            try db.execute(sql: "INSERT INTO hub_system (name, token_hash, series, next_number, created_at) VALUES (?, ?, ?, 1, ?)",
                           arguments: [name, Self.hashToken(token), series, AuditRecord.now()])
            try db.appendAudit(AuditRecord(node: Self.hubNode, kind: .token, entity: "system", key: name, reason: "external system registered (series \(series))"))
        }
        return token
    }

    /// The mapping of `system`'s address `externalAddressID` (nil: never transferred).
    public func externalMapping(system: String, externalAddressID: String) throws -> ExternalMapping? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM hub_external_mapping WHERE system = ? AND external_address_id = ?",
                             arguments: [system, externalAddressID]).map(Self.mapping)
        }
    }

    /// The back-office mappings of customer `code` that are not erased (an erased one keeps
    /// only keyed hashes of its ids), by system and address id.
    static func liveMappings(_ db: Database, code: String) throws -> [ExternalMapping] {
        try Row.fetchAll(db, sql: "SELECT * FROM hub_external_mapping WHERE code = ? AND erased_at IS NULL ORDER BY system, external_address_id",
                         arguments: [code]).map(mapping)
    }

    static func mapping(_ r: Row) -> ExternalMapping {
        ExternalMapping(system: r["system"], externalCustomerID: r["external_customer_id"], externalAddressID: r["external_address_id"],
                        code: r["code"], debtorNumber: r["debtor_number"], createdAt: r["created_at"], updatedAt: r["updated_at"])
    }

    /// Takes a batch of customer addresses from `system`, in one transaction, and answers each
    /// in order. A mapped address returns its known code and changes nothing (the transfer
    /// happens once; later edits on either side are not carried over); a new one becomes a new
    /// customer with a code of the system's series, its address (seq 0 at the system's site),
    /// its external reference and the mapping; one whose customer was deleted or erased
    /// becomes a new customer again (`recreated`, audited). An institution is matched by code,
    /// else by name, else created (`institution_created`); it never refuses the customer. An
    /// item's invoice or order becomes a POS document, once per external number; the same
    /// number again with other content, or for another customer, is refused (`conflict`). A
    /// refused item names its field and the others go on. External ids follow one rule
    /// (`ExternalID`).
    public func transferCustomers(system: String, items: [LenientItem<TransferItem>]) throws -> [TransferResult] {
        guard items.count <= Self.maxTransferItems else {
            throw HubError.invalid(FieldError(field: "items", reason: "\(items.count) items; at most \(Self.maxTransferItems) in one batch"))
        }
        var results: [TransferResult] = []
        var mappings: [(item: TransferItem, code: String, recreated: String?)] = []
        var nextNumber: Int64 = 0
        let now = AuditRecord.iso(millis: clock())
        try write(storeRecords: true, { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT series, next_number FROM hub_system WHERE name = ?", arguments: [system]) else {
                throw HubError.refused("system \(system) is not registered")
            }
            let series: String = row["series"]
            nextNumber = row["next_number"]
            let site = system.uppercased()
            let defaultCategory = try db.defaultCustomerCategory()
            var changes: [CentralChange] = []
            var inBatch: [String: String] = [:], documents: [String: Document] = [:]
            var institutionsInBatch: [String: String] = [:]
            // Mappings of erased customers keep their external ids as keyed hashes only.
            let erasedKey = try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM hub_external_mapping WHERE system = ? AND erased_at IS NOT NULL)",
                                              arguments: [system]) == true ? try Self.mappingKey(db) : nil
            for item in items {
                var it: TransferItem
                switch item.value {
                case .failure(let e):
                    results.append(TransferResult(externalAddressID: nil, code: nil, action: nil, documents: nil,
                                                  error: e))
                    continue
                case .success(let v): it = v
                }
                do {
                    let address = try ExternalID.normalized(try Self.required(it.externalAddressID, "external_address_id"), field: "external_address_id")
                    it.externalAddressID = address
                    it.externalCustomerID = try ExternalID.normalized(try Self.required(it.externalCustomerID, "external_customer_id"), field: "external_customer_id")
                    if let debtor = it.debtorNumber { it.debtorNumber = try ExternalID.normalized(debtor, field: "debtor_number") }
                    guard let trigger = it.trigger, ["invoice", "pickup"].contains(trigger) else {
                        throw FieldError(field: "trigger", reason: "must be invoice or pickup (a delivery note travels from the stores to the back office: GET /v1/external/delivery-notes)")
                    }
                    if it.invoice != nil && trigger != "invoice" { throw FieldError(field: "invoice", reason: "comes with the invoice trigger only") }
                    if it.order != nil && trigger != "pickup" { throw FieldError(field: "order", reason: "comes with the pickup trigger only") }
                    var code: String, action: String, newChanges: [CentralChange] = [], recreatedFrom: String?, taken: Int64?
                    var institution: (code: String, created: Bool)?
                    let lookup = try db.cachedStatement(sql: "SELECT code FROM hub_external_mapping WHERE system = ? AND external_address_id = ?")
                    var mapped = inBatch[address] == nil
                        ? try FastStatement.fetchFirst(lookup, [system.databaseValue, address.databaseValue]).flatMap { String.fromDatabaseValue($0[0]) } : nil
                    if mapped == nil, inBatch[address] == nil, let erasedKey {
                        mapped = try FastStatement.fetchFirst(lookup, [system.databaseValue, Self.mappingHash(address, key: erasedKey).databaseValue])
                            .flatMap { String.fromDatabaseValue($0[0]) }
                    }
                    var n = nextNumber
                    if let known = inBatch[address] {
                        (code, action) = (known, "existing")
                    } else if let mapped, try Self.isLive(db, mapped) {
                        (code, action) = (mapped, "existing")
                    } else {
                        recreatedFrom = mapped
                        action = recreatedFrom == nil ? "created" : "recreated"
                        // A refused item takes no number: the counter moves on with the item's changes.
                        if let name = it.institution {
                            let found = try Self.institution(db, named: name, series: series, inBatch: institutionsInBatch, site: site)
                            institution = (found.code, found.change != nil)
                            if let change = found.change { newChanges.append(change) }
                        }
                        repeat { code = "\(series)\(n)"; n += 1 } while try ReplicatedTable.partner.exists(db, key: code)
                        newChanges += try Self.customerChanges(db, it, code: code, site: site, system: system, category: defaultCategory,
                                                               institution: institution?.code)
                        taken = n
                    }
                    var docs: [String] = []
                    for (document, kind) in [(it.invoice, DocumentKind.invoice), (it.order, .order)] {
                        guard let document else { continue }
                        let addressInstitution = try institution?.code ?? Self.addressInstitution(db, code: code, site: site)
                        let doc = try Self.document(db, document, kind: kind, code: code, site: site, system: system, at: now,
                                                    institution: addressInstitution)
                        docs.append(doc.id)
                        if let earlier = try documents[doc.id] ?? ReplicatedTable.document.fetch(db, key: doc.id).map(Document.init(fields:)) {
                            // A recreated customer's document is its former customer's: the same document.
                            var same = doc
                            if let recreatedFrom, earlier.partnerCode == recreatedFrom { same.partnerCode = recreatedFrom }
                            try Self.requireSame(earlier, same, field: kind == .invoice ? "invoice" : "order")
                            continue
                        }
                        documents[doc.id] = doc
                        newChanges.append(CentralChange(.document, .insert, fields: doc.fields))
                    }
                    changes += newChanges
                    if let taken { nextNumber = taken }
                    if let institution, institution.created, let name = it.institution { institutionsInBatch[Self.institutionKey(name)] = institution.code }
                    if action != "existing" { inBatch[address] = code; mappings.append((it, code, recreatedFrom)) }
                    results.append(TransferResult(externalAddressID: address, code: code, action: action, documents: docs.isEmpty ? nil : docs, error: nil,
                                                  institution: institution?.code, institutionCreated: institution?.created))
                } catch let e as TransferError {
                    results.append(TransferResult(externalAddressID: it.externalAddressID, code: nil, action: nil, documents: nil, error: e))
                } catch let e as FieldError {
                    results.append(TransferResult(externalAddressID: it.externalAddressID, code: nil, action: nil, documents: nil,
                                                  error: TransferError(field: e.field, message: e.reason, code: e.code == .conflict ? "conflict" : nil)))
                } catch let e as InvalidFields {
                    let first = e.problems[0]
                    results.append(TransferResult(externalAddressID: it.externalAddressID, code: nil, action: nil, documents: nil,
                                                  error: TransferError(field: first.field, message: e.problems.map { "\($0.label): \($0.reason)" }.joined(separator: "; "))))
                }
            }
            return changes
        }, after: { db in
            try db.execute(sql: "UPDATE hub_system SET next_number = ? WHERE name = ?", arguments: [nextNumber, system])
            let upsert = try db.cachedStatement(sql: """
                INSERT INTO hub_external_mapping (system, external_address_id, external_customer_id, code, debtor_number, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (system, external_address_id) DO UPDATE SET code = excluded.code, external_customer_id = excluded.external_customer_id,
                    debtor_number = excluded.debtor_number, updated_at = excluded.updated_at
                """)
            for m in mappings {
                try FastStatement.execute(upsert, [system.databaseValue, m.item.externalAddressID.databaseValue, m.item.externalCustomerID.databaseValue,
                                                   m.code.databaseValue, m.item.debtorNumber.databaseValue, now.databaseValue, now.databaseValue])
                if let old = m.recreated {
                    try db.appendAudit(AuditRecord(at: now, node: Self.hubNode, kind: .transfer, entity: "partner", key: m.code, field: "code",
                                                   oldValue: old, newValue: m.code,
                                                   reason: "\(system) transferred an address again whose customer \(old) was deleted or erased, so a new customer was created"))
                }
            }
        })
        // Refused items, for the operator console's "needs a person": the field and the code of
        // the refusal, never the value that was refused (it may be personal data).
        let refused = results.enumerated().filter { $0.element.error != nil }
        if !refused.isEmpty {
            try pool.write { db in
                for (i, r) in refused.prefix(100) {
                    try db.appendAudit(AuditRecord(at: now, node: system, kind: .rejected, entity: "transfer", key: r.externalAddressID ?? "item \(i + 1)",
                                                   field: r.error?.field, reason: "transfer item refused: \(r.error?.field ?? "") (\(r.error?.code ?? "invalid"))"))
                }
            }
        }
        return results
    }

    /// An institution's name as the transfer compares it: NFC, case and white space folded.
    static func institutionKey(_ name: String) -> String {
        name.precomposedStringWithCanonicalMapping.lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    /// The institution an item names: a POS institution with that code, else one with that
    /// name (compared by `institutionKey`), else one created now by the hub with a code of the
    /// system's series followed by I (`BOI1`; its change returned). An inactive institution is matched, and the
    /// address linked to it, but gives no discount.
    static func institution(_ db: Database, named text: String, series: String, inBatch: [String: String],
                            site: String) throws -> (code: String, change: CentralChange?) {
        let name = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty else { throw FieldError(field: "institution", reason: "is empty") }
        if PartnerCode.forbiddenCharacter(in: PartnerCode.normalized(name)) == nil, let i = try db.institution(PartnerCode.normalized(name)) { return (i.code, nil) }
        let key = institutionKey(name)
        if let code = inBatch[key] { return (code, nil) }
        for row in try Row.fetchAll(db, sql: "SELECT code, name FROM institution ORDER BY active DESC, code") where institutionKey(row["name"]) == key {
            return (row["code"], nil)
        }
        guard name.unicodeScalars.count <= 200, PartnerCode.forbiddenCharacter(in: name.replacingOccurrences(of: " ", with: "")) == nil else {
            throw FieldError(field: "institution", reason: "'\(name)' is not a name of at most 200 visible characters")
        }
        // Institution codes of the series are numbered apart from its customers: BOI1, BOI2, ...
        let taken = Set(try String.fetchAll(db, sql: "SELECT code FROM institution WHERE code LIKE ?", arguments: ["\(series)I%"]))
        var k = 1, code = "\(series)I1"
        while taken.contains(code) || inBatch.values.contains(code) { k += 1; code = "\(series)I\(k)" }
        return (code, CentralChange(.institution, .insert, fields: ["code": .text(code), "name": .text(name), "kind": .text(CustomerModule.InstitutionKind.organisation.rawValue),
                                                                    "discount_percent": .int(0), "active": .bool(true), "origin_node": .text(hubNode)]))
    }

    /// The institution of an existing customer's address at the system's site (nil: none).
    static func addressInstitution(_ db: Database, code: String, site: String) throws -> String? {
        try String.fetchOne(db, sql: "SELECT institution FROM address WHERE partner_code = ? AND site = ? AND seq = 0", arguments: [code, site])
    }

    /// A document number sent again must mean the same document: the same customer, amount,
    /// currency and lines. Otherwise the item is refused naming the field that differs.
    static func requireSame(_ earlier: Document, _ again: Document, field: String) throws {
        let number = again.id
        if earlier.partnerCode != again.partnerCode {
            throw FieldError(field: "\(field).external_number", reason: "\(number) was transferred for customer \(earlier.partnerCode) already; a number names one document", code: .conflict)
        }
        if earlier.currency != again.currency {
            throw FieldError(field: "\(field).currency", reason: "\(number) was transferred in \(earlier.currency), now in \(again.currency)", code: .conflict)
        }
        if earlier.amountMinor != again.amountMinor {
            throw FieldError(field: "\(field).amount", reason: "\(number) was transferred with \(Document.formatAmount(earlier.amountMinor)), now with \(Document.formatAmount(again.amountMinor)); nothing was changed", code: .conflict)
        }
        if earlier.lines != again.lines {
            throw FieldError(field: "\(field).lines", reason: "\(number) was transferred with other lines; nothing was changed", code: .conflict)
        }
    }

    static func required(_ value: String?, _ field: String) throws -> String {
        guard let value, value.unicodeScalars.contains(where: { !$0.properties.isWhitespace }) else { throw FieldError(field: field, reason: "is missing") }
        guard value.unicodeScalars.count <= 64 else { throw FieldError(field: field, reason: "is longer than 64 characters (code points)") }
        return value
    }

    /// Whether the customer `code` is there to be found again: not deleted, not erased.
    static func isLive(_ db: Database, _ code: String) throws -> Bool {
        guard let p = try ReplicatedTable.partner.fetch(db, key: code), p["deleted"]?.bool != true else { return false }
        return try String.fetchOne(db.cachedStatement(sql: "SELECT case_id FROM erasure WHERE partner_code = ?"), arguments: [code]) == nil
    }

    /// The new customer's partner, address and external reference, checked as a store checks
    /// a new customer (`PartnerValidator`), so that the hub's writes cannot be refused. The
    /// partner is prepared for the reconciler here, once (`Reconciler.prepare`); only a refused
    /// one is checked again, field by field, for the error that names the field.
    static func customerChanges(_ db: Database, _ it: TransferItem, code: String, site: String, system: String, category: String?,
                                institution: String?) throws -> [CentralChange] {
        var partner: Fields = Dictionary(minimumCapacity: 12)
        partner["code"] = .text(code); partner["kind"] = .text(PartnerKind.consumer.rawValue); partner["currency"] = .text("PLN")
        func set(_ column: String, _ value: String?) { if let value, !value.isEmpty { partner[column] = .text(value) } }
        set("first_name", it.firstName); set("last_name", it.lastName); set("email", it.email); set("phone", it.phone)
        set("country", it.country?.uppercased()); set("category", category)
        let prepared = Reconciler.prepare(Change(seq: 0, hlc: .zero, node: hubNode, entity: .partner, key: code, op: .insert, fields: partner), node: hubNode)
        if let refusal = prepared.refusal {
            let problems = RecordKind.partner.problems(partner)
            if !problems.isEmpty { throw InvalidFields(problems) }
            try PartnerValidator.validate(try Partner(fields: partner), newCode: true)
            throw FieldError(field: "item", reason: refusal)
        }
        var address: Fields = ["partner_code": .text(code), "site": .text(site), "seq": .int(0)]
        for (column, value) in [("street", it.street), ("city", it.city), ("postal_code", it.postalCode), ("country", it.country?.uppercased()),
                                ("institution", institution)] {
            if let value, !value.isEmpty { address[column] = .text(value) }
        }
        let addressProblems = RecordKind.address.problems(address)
        if !addressProblems.isEmpty { throw InvalidFields(addressProblems) }
        var reference: Fields = ["partner_code": .text(code), "system": .text(system), "external_customer_id": .text(it.externalCustomerID ?? ""),
                                 "external_address_id": .text(it.externalAddressID ?? "")]
        if let debtor = it.debtorNumber { reference["debtor_number"] = .text(debtor) }
        let referenceProblems = RecordKind.externalRef.problems(reference)
        if !referenceProblems.isEmpty { throw InvalidFields(referenceProblems) }
        return [CentralChange(.partner, .insert, fields: partner, prepared: prepared), CentralChange(.address, .insert, fields: address, prepared: .nothing),
                CentralChange(.externalRef, .insert, fields: reference, prepared: .nothing)]
    }

    /// The POS document of a transferred invoice or order: id `SYSTEM-INV-NUMBER` or
    /// `SYSTEM-ORD-NUMBER`, lines as the back office priced them, the amount their sum (an
    /// invoice's `amount`, when given, must match it; an invoice without lines takes it).
    static func document(_ db: Database, _ d: TransferDocument, kind: DocumentKind, code: String, site: String, system: String, at: String,
                         institution: String? = nil) throws -> Document {
        let field = kind == .invoice ? "invoice" : "order"
        let number = try required(d.externalNumber, "\(field).external_number")
        guard number.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_/.".contains($0)) }) else {
            throw FieldError(field: "\(field).external_number", reason: "'\(number)' holds other characters than letters, digits and - _ / .")
        }
        let currency = try required(d.currency, "\(field).currency").uppercased()
        do { try CustomerModule.requireCurrency(.text(currency)) } catch let e as FieldError { throw FieldError(field: "\(field).currency", reason: e.reason) }
        // An order placed with an address at an (active) institution gets its discount, as a
        // store's order does; an invoice is taken as the back office issued it.
        let atInstitution = try institution.flatMap { try db.institution($0) }
        let discount = kind == .order && atInstitution?.active == true ? atInstitution!.discountRate : .none
        var lines: [DocumentLine] = []
        for (i, l) in (d.lines ?? []).enumerated() {
            let where_ = "\(field).lines[\(i)]"
            let offerCode = PartnerCode.normalized(try required(l.offer, "\(where_).offer"))
            // Checked as a store checks a line: the offer exists, is on sale, in the document's currency.
            guard let offer = try db.offer(offerCode) else { throw FieldError(field: "\(where_).offer", reason: "no offer \(offerCode) exists") }
            guard offer.active else { throw FieldError(field: "\(where_).offer", reason: "offer \(offerCode) is withdrawn (inactive)") }
            guard offer.currency == currency else {
                throw FieldError(field: "\(where_).offer", reason: "offer \(offerCode) is sold in \(offer.currency), the \(field) is in \(currency)")
            }
            let unit = try Document.parseAmount(try required(l.unitPrice, "\(where_).unit_price"))
            do {
                lines.append(try Pricing.line(offer: offerCode, unitPrice: unit, source: .backoffice, quantity: l.quantity ?? 1, discount: discount))
            } catch let e as FieldError { throw FieldError(field: "\(where_).\(e.field)", reason: e.reason) }
        }
        guard lines.count <= DocumentLine.maxLines else { throw FieldError(field: "\(field).lines", reason: "at most \(DocumentLine.maxLines) lines") }
        var amount = lines.isEmpty ? nil : try Pricing.total(lines)
        if let text = d.amount {
            let given = try Document.parseAmount(text)
            if let sum = amount, sum != given {
                throw FieldError(field: "\(field).amount", reason: "\(text) is not the sum of the lines (\(Document.formatAmount(sum)))")
            }
            amount = given
        }
        guard let amount else { throw FieldError(field: "\(field).amount", reason: "is missing: give the amount or the lines") }
        guard amount > 0 else { throw FieldError(field: "\(field).amount", reason: "must be above 0 (a credit note is not transferred)") }
        guard kind == .invoice || !lines.isEmpty else { throw FieldError(field: "order.lines", reason: "an order to pick up needs its lines") }
        return Document(id: "\(system.uppercased())-\(kind == .invoice ? "INV" : "ORD")-\(number)", kind: kind, partnerCode: code, addressSeq: 0,
                        site: site, amountMinor: amount, currency: currency, status: "open", issuedAt: at, node: hubNode,
                        institution: kind == .order ? atInstitution?.code : nil, lines: lines)
    }
}
