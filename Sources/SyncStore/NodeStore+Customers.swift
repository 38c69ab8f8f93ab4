import Foundation
import GRDB
import SyncModel

/// The customer module at the store: institutions, memberships, priced documents. Everything
/// works offline, from the store's replica of the catalog (categories, offers, price table).
extension NodeStore {
    @discardableResult
    public func addInstitution(_ fields: Fields) throws -> Institution {
        try transaction { try $0.addInstitution(fields) }
    }

    /// Changes an institution's name, kind, discount, address or active flag (offline too).
    @discardableResult
    public func updateInstitution(code: String, _ fields: Fields) throws -> Institution {
        try transaction { try $0.updateInstitution(code: code, fields) }
    }

    @discardableResult
    public func addMember(partner: String, institution: String) throws -> Change? {
        try transaction { try $0.addMember(partner: partner, institution: institution) }
    }

    /// The category a customer is priced by and why: its own when active, else the chain's
    /// default (every customer has a category; one registered before a default existed, or
    /// whose category was deactivated, is priced by the default until re-categorised).
    public func effectiveCategory(of partner: Partner) throws -> (code: String?, note: String) {
        try pool.read { db in
            if let own = try db.activeCategory(partner.category) { return (own, "own") }
            let fallback = try db.defaultCustomerCategory()
            if let own = partner.category { return (fallback, "chain default; \(own) is inactive") }
            return (fallback, "chain default")
        }
    }

    /// Ends `partner`'s membership of `institution` (journaled, offline too).
    @discardableResult
    public func removeMember(partner: String, institution: String) throws -> Change {
        try transaction { try $0.removeMember(partner: partner, institution: institution) }
    }

    /// Memberships: of one customer, of one institution, or all; by customer and institution.
    public func memberships(partner: String? = nil, institution: String? = nil) throws -> [Membership] {
        try pool.read { db in
            var conditions: [String] = [], arguments: [DatabaseValueConvertible] = []
            if let partner { conditions.append("partner_code = ?"); arguments.append(PartnerCode.normalized(partner)) }
            if let institution { conditions.append("institution_code = ?"); arguments.append(PartnerCode.normalized(institution)) }
            return try Row.fetchAll(db, sql: "SELECT partner_code, institution_code FROM membership \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")) ORDER BY 1, 2",
                                    arguments: StatementArguments(arguments)).map { Membership(partner: $0[0], institution: $0[1]) }
        }
    }

    /// Records a document whose lines are priced now from the store's replica of the price table.
    @discardableResult
    public func addDocument(kind: DocumentKind, partnerCode: String?, addressSeq: Int?, lines: [(offer: String, quantity: Int)],
                            invoicing: Fields = [:]) throws -> Document {
        try transaction { try $0.addDocument(kind: kind, partnerCode: partnerCode, addressSeq: addressSeq, lines: lines, invoicing: invoicing) }
    }

    /// Puts a picked-up order (transferred from a back office, or any open order) on a
    /// receipt: the order's customer, lines and prices as ordered, offline too. `order` is the
    /// order's id or the external number of a transferred one. Refused when the order was put
    /// on a receipt already (at any store this store has heard of).
    @discardableResult
    public func addReceipt(forOrder order: String) throws -> Document {
        try transaction { try $0.addReceipt(forOrder: order) }
    }

    /// The external system a transferred customer came from (nil: registered at a store).
    public func externalReference(code: String) throws -> Fields? {
        try pool.read { db in try ReplicatedTable.of(.externalRef).flatMap { try $0.fetch(db, key: PartnerCode.normalized(code)) } }
    }

    /// The price of `quantity` of `offer` for `partner` (nil: an anonymous sale, the default
    /// category) ordering with its address `addressSeq` at this site (an address at an
    /// institution gets the institution's discount).
    public func quote(offer: String, quantity: Int = 1, partner: String? = nil, addressSeq: Int? = nil) throws -> PriceQuote {
        let site = try config().site
        return try pool.read { db in
            var context: (category: String?, institution: String?) = (nil, nil)
            if let partner { context = try db.pricingContext(partner: PartnerCode.normalized(partner), addressSeq: addressSeq, site: site) }
            return try db.quote(offer: offer, quantity: quantity, customerCategory: context.category, institution: context.institution)
        }
    }

    public func institutions() throws -> [Institution] { try pool.read { try $0.institutions() } }

    /// An institution with its members and the orders placed with addresses at it.
    public func institutionListing(code: String) throws -> InstitutionListing {
        try pool.read { db in
            guard try db.institution(code) != nil else { throw StoreError.notFound(entity: .institution, key: code) }
            return try db.institutionListing(code: code)
        }
    }

    /// A customer's category, memberships and addresses.
    public func customerListing(code: String) throws -> CustomerListing {
        try pool.read { db in try db.customerListing(code: PartnerCode.normalized(code)) }
    }

    public func customerCategories() throws -> [CategoryRecord] { try pool.read { try $0.customerCategories() } }
    public func offers() throws -> [Offer] { try pool.read { try $0.offers() } }
    public func priceCells() throws -> [PriceCell] { try pool.read { try $0.priceCells() } }
}

extension NodeTransaction {
    /// A new institution (code, name, kind, discount_percent, address columns); its code is
    /// normalised and checked like a partner code, and it is active.
    @discardableResult
    public func addInstitution(_ input: Fields) throws -> Institution {
        var fields = input
        guard let entered = fields["code"]?.text else { throw FieldError(field: "code", reason: "is mandatory") }
        let code = PartnerCode.normalized(entered)
        if let problem = PartnerCode.problem(code, entered: true) { throw problem }
        fields["code"] = .text(code)
        if fields["kind"] == nil || fields["kind"] == .null { fields["kind"] = .text(CustomerModule.InstitutionKind.company.rawValue) }
        for column in CustomerModule.centralInstitutionColumns where fields[column].map({ $0 != .null && $0 != .int(0) }) == true {
            throw Self.discountIsCentral(column)
        }
        fields["discount_percent"] = .int(0)
        fields["active"] = .bool(true)
        fields["origin_node"] = .text(try config().nodeID)
        try write(.institution, op: .insert, fields: fields)
        return try db.institution(code)!
    }

    /// Changes the editable fields of an institution. Deactivating keeps it and every listing
    /// readable (members, orders); new addresses, memberships and sales at it are refused.
    @discardableResult
    public func updateInstitution(code entered: String, _ fields: Fields) throws -> Institution {
        let code = PartnerCode.normalized(entered)
        guard try db.institution(code) != nil else { throw StoreError.notFound(entity: .institution, key: code) }
        guard !fields.isEmpty else { throw FieldError(field: "institution", reason: "nothing to change: give a name, kind, address field or active") }
        if let column = fields.keys.sorted().first(where: CustomerModule.centralInstitutionColumns.contains) { throw Self.discountIsCentral(column) }
        try write(.institution, op: .update, key: code, fields: fields)
        return try db.institution(code)!
    }

    static func discountIsCentral(_ column: String) -> FieldError {
        FieldError(field: "discount", reason: "an institution's discount is central data: only the hub sets or changes it (poshub institution update --code CODE --discount 12.5)")
    }

    /// Ends a membership; refused naming the membership when there is none.
    @discardableResult
    public func removeMember(partner entered: String, institution entered2: String) throws -> Change {
        let code = PartnerCode.normalized(entered), institution = PartnerCode.normalized(entered2)
        let key = "\(code)|\(institution)"
        guard try ReplicatedTable.of(.membership)!.exists(db, key: key) else {
            throw FieldError(field: "institution", reason: "partner \(code) is not a member of institution \(institution)", code: .notFound)
        }
        return try write(.membership, op: .delete, key: key, fields: [:])
    }

    /// Makes `partner` a member of `institution` (nil: it was one already).
    @discardableResult
    public func addMember(partner entered: String, institution: String) throws -> Change? {
        let code = PartnerCode.normalized(entered)
        try db.requireLivePartner(code, field: "partner")
        let key = "\(code)|\(institution)"
        guard try ReplicatedTable.of(.membership)!.exists(db, key: key) == false else { return nil }
        do {
            return try write(.membership, op: .insert, fields: ["partner_code": .text(code), "institution_code": .text(institution)])
        } catch let e as InvalidFields where e.problems.count == 1 && e.problems[0].field == "institution_code" {
            throw FieldError(field: "institution", reason: e.problems[0].reason)  // the option's name
        }
    }

    /// A document with priced lines: each line is priced now from the store's replica of the
    /// price table (`Database.quote`) and kept as priced; the document records the category,
    /// the institution of the address (whose discount every line gets) and the table's version.
    /// `partnerCode` nil: an anonymous receipt, priced for the default category.
    @discardableResult
    public func addDocument(kind: DocumentKind, partnerCode entered: String?, addressSeq: Int?, lines requested: [(offer: String, quantity: Int)],
                            invoicing: Fields = [:]) throws -> Document {
        let cfg = try config()
        guard !requested.isEmpty else { throw FieldError(field: "line", reason: "a document needs at least one line (--line OFFER:QUANTITY)") }
        guard requested.count <= DocumentLine.maxLines else {
            throw FieldError(field: "line", reason: "\(requested.count) lines; at most \(DocumentLine.maxLines)")
        }
        var partnerCode = "", category: String?, institution: String?
        if let entered {
            partnerCode = PartnerCode.normalized(entered)
            category = try db.requireLivePartner(partnerCode, field: "partner")
            institution = try addressSeq.flatMap { try db.institution(partner: partnerCode, addressSeq: $0, site: cfg.site) }
        } else {
            guard kind == .receipt else { throw FieldError(field: "partner", reason: "is mandatory: only a receipt may be anonymous") }
            guard addressSeq == nil else { throw FieldError(field: "address", reason: "an anonymous receipt has no address") }
        }
        // Looked up once for the document: the category (the default one for a customer
        // without, or whose category was deactivated), the institution's discount and the
        // price table's version.
        try priceLines?.validate(db)
        if let own = category {
            let active = try priceLines?.categoryActive(own) { try db.activeCategory(own) != nil } ?? (db.activeCategory(own) != nil)
            if !active { category = nil }
        }
        if category == nil { category = try db.defaultCustomerCategory() }
        let discount = try db.institutionDiscount(institution)
        let version = try priceLines?.priceTableVersion { try db.priceTableVersion() } ?? db.priceTableVersion()
        var lines: [DocumentLine] = [], currency: String?
        lines.reserveCapacity(requested.count)
        for (offer, quantity) in requested {
            let priced = try db.priceLine(offer: offer, quantity: quantity, category: category, discount: discount, kept: priceLines)
            if let currency, currency != priced.offer.currency {
                throw FieldError(field: "line", reason: "offer \(offer) is priced in \(priced.offer.currency), the document's first line in \(currency)")
            }
            currency = priced.offer.currency
            lines.append(priced.line)
        }
        let doc = Document(id: try nextDocumentID(kind), kind: kind, partnerCode: partnerCode,
                           addressSeq: addressSeq ?? 0, site: cfg.site, amountMinor: try Pricing.total(lines), currency: currency!,
                           status: kind == .receipt ? "settled" : "open", issuedAt: AuditRecord.iso(millis: clock()), node: cfg.nodeID,
                           customerCategory: category, institution: institution, priceVersion: version, lines: lines)
        if invoicing.isEmpty {
            try insertNewDocument(doc)
            return doc
        }
        let invoiced = try doc.withInvoicing(invoicing)
        try checkBillTo(invoiced)
        try insertNewDocument(invoiced)
        return invoiced
    }

    @discardableResult
    public func addReceipt(forOrder entered: String) throws -> Document {
        let cfg = try config()
        let ids = try String.fetchAll(db, sql: "SELECT id FROM document WHERE kind = 'order' AND (id = ? OR id LIKE ?) ORDER BY id",
                                      arguments: [entered, "%-ORD-\(entered)"])
        guard let id = ids.first else { throw FieldError(field: "order", reason: "no order \(entered) is known here (yet: the hub sends transferred orders at a sync)") }
        guard ids.count == 1 else { throw FieldError(field: "order", reason: "'\(entered)' names \(ids.count) orders: \(ids.joined(separator: ", ")); give the order's id") }
        if let pickup = try ReplicatedTable.of(.orderPickup)!.fetch(db, key: id) {
            throw FieldError(field: "order", reason: "order \(id) is on receipt \(pickup["receipt_id"]?.text ?? "?") already (store \(pickup["node"]?.text ?? "?"), \(pickup["at"]?.text ?? "?"))", code: .conflict)
        }
        let order = try Document(fields: try ReplicatedTable.document.fetch(db, key: id)!)
        try db.requireLivePartner(order.partnerCode, field: "partner")
        let at = AuditRecord.iso(millis: clock())
        let receipt = Document(id: try nextDocumentID(.receipt), kind: .receipt, partnerCode: order.partnerCode,
                               addressSeq: order.addressSeq, site: order.site, amountMinor: order.amountMinor, currency: order.currency,
                               status: "settled", issuedAt: at, node: cfg.nodeID, customerCategory: order.customerCategory,
                               institution: order.institution, priceVersion: order.priceVersion, lines: order.lines)
        try insertNewDocument(receipt)
        try write(.orderPickup, op: .insert, fields: ["order_id": .text(id), "receipt_id": .text(receipt.id), "node": .text(cfg.nodeID), "at": .text(at)])
        return receipt
    }

    /// The letter of a document number: R receipt, F invoice, O order, D receivable, L
    /// delivery note (Lieferschein).
    static func letter(_ kind: DocumentKind) -> String {
        switch kind {
        case .receipt: return "R"
        case .invoice: return "F"
        case .order: return "O"
        case .receivable: return "D"
        case .deliveryNote: return "L"
        }
    }
}

/// An institution, its members, all orders of its members, and the documents placed with an
/// address at it (the discounted ones).
public struct InstitutionListing: Sendable, Codable {
    enum CodingKeys: String, CodingKey { case institution, members, memberOrders = "member_orders", documents }
    public var institution: Institution
    public var members: [Member]
    /// Every order of every member, wherever it was placed, oldest first.
    public var memberOrders: [Document]
    /// The documents placed with an address at the institution (its discount), oldest first.
    public var documents: [Document]

    public struct Member: Sendable, Codable {
        enum CodingKeys: String, CodingKey { case code, name, category, addresses }
        public var code: String
        public var name: String
        public var category: String?
        /// The member's addresses at the institution.
        public var addresses: [Address]
    }
}

/// A customer's membership of an institution.
public struct Membership: Sendable, Codable, Hashable {
    public var partner: String
    public var institution: String

    public init(partner: String, institution: String) { self.partner = partner; self.institution = institution }
}

/// A customer's category, memberships and addresses.
public struct CustomerListing: Sendable, Codable {
    public var code: String
    public var name: String
    public var category: String?
    public var institutions: [String]
    public var addresses: [Address]
}

extension Database {
    /// The institution's members (with their addresses at it), every order of every member,
    /// and every document placed with an address at it, oldest first.
    public func institutionListing(code: String) throws -> InstitutionListing {
        guard let institution = try institution(code) else { throw FieldError(field: "institution", reason: "no institution \(code) exists") }
        let memberCodes = try String.fetchAll(self, sql: """
            SELECT partner_code FROM membership WHERE institution_code = ?
            UNION SELECT partner_code FROM address WHERE institution = ? ORDER BY 1
            """, arguments: [code, code])
        var members: [InstitutionListing.Member] = []
        for member in memberCodes {
            let partner = try ReplicatedTable.partner.fetch(self, key: member).map(Partner.init(fields:))
            let addresses = try Row.fetchAll(self, sql: "SELECT \(ReplicatedTable.address.columns.joined(separator: ", ")) FROM address WHERE partner_code = ? AND institution = ? ORDER BY site, seq",
                                             arguments: [member, code]).map { try Address(fields: ReplicatedTable.address.fields(of: $0)) }
            members.append(.init(code: member, name: partner?.displayName ?? "", category: partner?.category, addresses: addresses))
        }
        let columns = ReplicatedTable.document.columns.joined(separator: ", ")
        let documents = try Row.fetchAll(self, sql: "SELECT \(columns) FROM document WHERE institution = ? ORDER BY issued_at, id",
                                         arguments: [code]).map { try Document(fields: ReplicatedTable.document.fields(of: $0)) }
        var orders: [Document] = []
        for member in memberCodes {
            orders += try Row.fetchAll(self, sql: "SELECT \(columns) FROM document WHERE partner_code = ? AND kind = 'order'", arguments: [member])
                .map { try Document(fields: ReplicatedTable.document.fields(of: $0)) }
        }
        orders.sort { ($0.issuedAt, $0.id) < ($1.issuedAt, $1.id) }
        return InstitutionListing(institution: institution, members: members, memberOrders: orders, documents: documents)
    }

    public func customerListing(code: String) throws -> CustomerListing {
        guard let partner = try ReplicatedTable.partner.fetch(self, key: code).map(Partner.init(fields:)) else {
            throw FieldError(field: "partner", reason: "no partner \(code) exists")
        }
        let institutions = try String.fetchAll(self, sql: "SELECT institution_code FROM membership WHERE partner_code = ? ORDER BY 1", arguments: [code])
        let addresses = try addresses(ofPartner: code)
        return CustomerListing(code: code, name: partner.displayName, category: partner.category, institutions: institutions, addresses: addresses)
    }
}
