import Foundation
import GRDB
import SyncModel

/// An offer as the replicated `offer` table holds it.
public struct Offer: Sendable, Hashable, Codable {
    enum CodingKeys: String, CodingKey {
        case code, name, offerCategory = "offer_category", priceMinor = "price_minor", currency, articleCode = "article_code", active
        case priceVersion = "price_version"
    }
    public var code: String
    public var name: String
    public var offerCategory: String
    public var priceMinor: Int64
    public var currency: String
    public var articleCode: String?
    public var active: Bool
    public var priceVersion: Int64

    init(_ f: Fields) {
        code = f["code"]?.text ?? ""; name = f["name"]?.text ?? ""; offerCategory = f["offer_category"]?.text ?? ""
        priceMinor = f["price_minor"]?.int ?? 0; currency = f["currency"]?.text ?? ""; articleCode = f["article_code"]?.text
        active = f["active"]?.bool ?? false; priceVersion = f["price_version"]?.int ?? 0
    }
}

/// An institution as the replicated `institution` table holds it.
public struct Institution: Sendable, Hashable, Codable {
    enum CodingKeys: String, CodingKey {
        case code, name, kind, discountPercent = "discount_percent", discount, active, street, city, postalCode = "postal_code", country
        case originNode = "origin_node"
    }
    public var code: String
    public var name: String
    public var kind: String
    /// The discount's whole percent.
    public var discountPercent: Int
    /// The discount as a decimal text (`12.5`).
    public var discount: String
    public var active: Bool
    public var street: String?
    public var city: String?
    public var postalCode: String?
    public var country: String?
    public var originNode: String?

    /// The discount the institution gives.
    public var discountRate: Discount { Discount(discount) ?? Discount(percent: discountPercent) }

    public init(_ f: Fields) {
        code = f["code"]?.text ?? ""; name = f["name"]?.text ?? ""; kind = f["kind"]?.text ?? ""
        let rate = CustomerModule.discount(f)
        discountPercent = rate.hundredths / 100; discount = rate.description; active = f["active"]?.bool ?? false
        street = f["street"]?.text; city = f["city"]?.text; postalCode = f["postal_code"]?.text; country = f["country"]?.text
        originNode = f["origin_node"]?.text
    }
}

/// A customer category, an offer category: code, name, active (and the default flag).
public struct CategoryRecord: Sendable, Hashable, Codable {
    enum CodingKeys: String, CodingKey { case code, name, active, isDefault = "is_default" }
    public var code: String
    public var name: String
    public var active: Bool
    public var isDefault: Bool?

    init(_ f: Fields, hasDefault: Bool) {
        code = f["code"]?.text ?? ""; name = f["name"]?.text ?? ""; active = f["active"]?.bool ?? false
        isDefault = hasDefault ? (f["is_default"]?.bool ?? false) : nil
    }
}

/// One cell of the price table.
public struct PriceCell: Sendable, Hashable, Codable {
    enum CodingKeys: String, CodingKey {
        case customerCategory = "customer_category", offerCategory = "offer_category", amountMinor = "amount_minor", currency
        case priceVersion = "price_version"
    }
    public var customerCategory: String
    public var offerCategory: String
    public var amountMinor: Int64
    public var currency: String
    public var priceVersion: Int64

    init(_ f: Fields) {
        customerCategory = f["customer_category"]?.text ?? ""; offerCategory = f["offer_category"]?.text ?? ""
        amountMinor = f["amount_minor"]?.int ?? 0; currency = f["currency"]?.text ?? ""; priceVersion = f["price_version"]?.int ?? 0
    }
}

/// A priced line and what priced it (`Database.quote`).
public struct PriceQuote: Sendable, Hashable, Codable {
    enum CodingKeys: String, CodingKey {
        case line, offerName = "offer_name", currency, customerCategory = "customer_category", institution
        case priceVersion = "price_version"
    }
    public var line: DocumentLine
    public var offerName: String
    public var currency: String
    /// The category the price was looked up for (nil: none is defined; the base price).
    public var customerCategory: String?
    public var institution: String?
    /// The price table's version at the store (`Database.priceTableVersion`).
    public var priceVersion: Int64
}

extension Database {
    // MARK: Reads of the catalog (node and hub alike)

    public func offer(_ code: String) throws -> Offer? {
        try ReplicatedTable.of(.offer)!.fetch(self, key: code).map(Offer.init)
    }

    public func institution(_ code: String) throws -> Institution? {
        try ReplicatedTable.of(.institution)!.fetch(self, key: code).map(Institution.init)
    }

    /// The category a customer registered without one gets (nil: none is marked default).
    public func defaultCustomerCategory() throws -> String? {
        // Read on every new partner: positional, no row object.
        try firstRowCached("SELECT code FROM customer_category WHERE is_default = 1 AND active = 1 ORDER BY code LIMIT 1").flatMap { String.fromDatabaseValue($0[0]) }
    }

    /// The price table's version: the highest version of any cell or offer (each write of
    /// either at the hub takes the next one). A document records the version it was priced with.
    public func priceTableVersion() throws -> Int64 {
        try firstRowCached("SELECT MAX(v) FROM (SELECT MAX(price_version) AS v FROM price UNION ALL SELECT MAX(price_version) FROM offer)")
            .flatMap { Int64.fromDatabaseValue($0[0]) } ?? 0
    }

    public func customerCategories() throws -> [CategoryRecord] {
        try rows(of: .customerCategory, order: "code").map { CategoryRecord($0, hasDefault: true) }
    }

    public func offerCategories() throws -> [CategoryRecord] {
        try rows(of: .offerCategory, order: "code").map { CategoryRecord($0, hasDefault: false) }
    }

    public func offers() throws -> [Offer] { try rows(of: .offer, order: "code").map(Offer.init) }

    public func priceCells() throws -> [PriceCell] {
        try rows(of: .price, order: "customer_category, offer_category").map(PriceCell.init)
    }

    public func institutions() throws -> [Institution] { try rows(of: .institution, order: "code").map(Institution.init) }

    public func priceCell(customerCategory: String, offerCategory: String) throws -> PriceCell? {
        try ReplicatedTable.of(.price)!.fetch(self, key: "\(customerCategory)|\(offerCategory)").map(PriceCell.init)
    }

    /// Every row of a declared kind's table, as fields, in `order`.
    public func rows(of kind: RecordKind, order: String, where predicate: String = "1", _ arguments: StatementArguments = []) throws -> [Fields] {
        let table = ReplicatedTable.of(kind)!
        return try Row.fetchAll(self, sql: "SELECT \(table.columns.joined(separator: ", ")) FROM \(table.name) WHERE \(predicate) ORDER BY \(order)",
                                arguments: arguments).map(table.fields(of:))
    }

    // MARK: References

    /// Every column of `values` (a row of `kind`) that names a record of another kind that does
    /// not exist here; with `requireActive`, also one whose `active` flag is off (a store refuses
    /// a new reference to a deactivated category or institution; records written before keep
    /// theirs). `columns`: only these (an edit's).
    public func referenceProblems(_ kind: RecordKind, values: [FieldValue], kinds: RecordKinds, columns: Set<String>? = nil,
                                  requireActive: Bool) throws -> [FieldError] {
        var found: [FieldError] = []
        for (column, entity) in kind.references.sorted(by: { $0.key < $1.key }) {
            if let columns, !columns.contains(column) { continue }
            guard let i = kind.columnIndex[column], let code = values[i].text, !code.isEmpty,
                  let table = kinds.table(entity) else { continue }
            let what = entity.rawValue.replacingOccurrences(of: "_", with: " ")
            guard let row = try table.fetch(self, key: code) else {
                found.append(FieldError(field: column, reason: "names \(what) \(code), which does not exist"))
                continue
            }
            if requireActive, table.columnIndex["active"] != nil, row["active"]?.bool != true {
                found.append(FieldError(field: column, reason: "names \(what) \(code), which is inactive"))
            }
        }
        return found
    }

    /// Throws every problem `referenceProblems` finds, at once.
    public func checkReferences(_ kind: RecordKind, values: [FieldValue], kinds: RecordKinds, columns: Set<String>? = nil,
                                requireActive: Bool) throws {
        let found = try referenceProblems(kind, values: values, kinds: kinds, columns: columns, requireActive: requireActive)
        if !found.isEmpty { throw InvalidFields(found) }
    }

    // MARK: Pricing

    /// The priced line for `quantity` of `offerCode`, sold to a customer of `customerCategory`
    /// (nil: the default category) with `institution`'s discount (nil: none), by the pricing
    /// rule (`Pricing`). Refused naming the field: an unknown or inactive offer or institution.
    public func quote(offer offerCode: String, quantity: Int, customerCategory: String?, institution code: String?) throws -> PriceQuote {
        let offerCode = PartnerCode.normalized(offerCode)
        let category = try activeCategory(customerCategory) ?? defaultCustomerCategory()
        let discount = try institutionDiscount(code)
        let priced = try priceLine(offer: offerCode, quantity: quantity, category: category, discount: discount)
        return PriceQuote(line: priced.line, offerName: priced.offer.name, currency: priced.offer.currency, customerCategory: category,
                          institution: code, priceVersion: try priceTableVersion())
    }

    /// `code` when it names an active customer category; nil otherwise (the default applies).
    public func activeCategory(_ code: String?) throws -> String? {
        guard let code else { return nil }
        return try Bool.fetchOne(self, sql: "SELECT active FROM customer_category WHERE code = ?", arguments: [code]) == true ? code : nil
    }

    /// The discount percent of institution `code` (0 for nil); refused when it is unknown or
    /// inactive.
    public func institutionDiscount(_ code: String?) throws -> Discount {
        guard let code else { return .none }
        guard let institution = try institution(code) else { throw FieldError(field: "institution", reason: "no institution \(code) exists") }
        guard institution.active else { throw FieldError(field: "institution", reason: "institution \(code) is inactive") }
        return institution.discountRate
    }

    /// One line priced for `category` with `discountPercent` off: what `quote` and a document's
    /// lines share (a document looks its category, discount and the table's version up once).
    ///
    /// Reads the offer's and its cell's columns it needs in one statement, not whole rows: a
    /// sale of five lines read both as dictionaries of every column, a sixth of an order's CPU
    /// time (perf); one statement instead of two per line saves another 1 µs a line.
    public func priceLine(offer offerCode: String, quantity: Int, category: String?, discount: Discount) throws -> (line: DocumentLine, offer: (name: String, currency: String)) {
        try priceLine(offer: offerCode, quantity: quantity, category: category, discount: discount, kept: nil)
    }

    /// `priceLine` with the writer's kept rows (`PriceLineCache`, validated by the caller in
    /// this transaction); nil: read them.
    func priceLine(offer offerCode: String, quantity: Int, category: String?, discount: Discount,
                   kept: PriceLineCache?) throws -> (line: DocumentLine, offer: (name: String, currency: String)) {
        let read = {
            try FastStatement.fetchFirst(self.cachedStatement(sql: """
                SELECT o.name, o.offer_category, o.price_minor, o.currency, o.active, p.amount_minor, p.currency
                FROM offer o LEFT JOIN price p ON p.customer_category = ? AND p.offer_category = o.offer_category WHERE o.code = ?
                """), [category.databaseValue, offerCode.databaseValue])
        }
        guard let o = try kept.map({ try $0.row(PriceLineCache.Key(category: category, offer: offerCode), read: read) }) ?? read() else {
            throw FieldError(field: "offer", reason: "no offer \(offerCode) exists")
        }
        guard Bool.fromDatabaseValue(o[4]) == true else { throw FieldError(field: "offer", reason: "offer \(offerCode) is inactive") }
        let name = String.fromDatabaseValue(o[0]) ?? "", offerCategory = String.fromDatabaseValue(o[1]) ?? ""
        let currency = String.fromDatabaseValue(o[3]) ?? ""
        var cell: (amount: Int64, currency: String)?
        if let amount = Int64.fromDatabaseValue(o[5]) { cell = (amount, String.fromDatabaseValue(o[6]) ?? "") }
        let line = try Pricing.price(Pricing.Inputs(offer: offerCode, offerCategory: offerCategory, basePrice: Int64.fromDatabaseValue(o[2]) ?? 0,
                                                    currency: currency, cell: cell, discount: discount), quantity: quantity)
        return (line, (name, currency))
    }

    /// The customer's category and the institution of the address `seq` at `site` (nil: the
    /// address is not at an institution); refused naming the field for an unknown partner or address.
    public func pricingContext(partner code: String, addressSeq seq: Int?, site: String) throws -> (category: String?, institution: String?) {
        guard let category = try FastStatement.fetchFirst(cachedStatement(sql: "SELECT category FROM partner WHERE code = ?"), [code.databaseValue]) else {
            throw FieldError(field: "partner", reason: "no partner \(code) exists")
        }
        return (String.fromDatabaseValue(category[0]), try seq.flatMap { try institution(partner: code, addressSeq: $0, site: site) })
    }

    /// The institution the partner's address `seq` at `site` is at (nil: none); refused naming
    /// the field when there is no such address.
    func institution(partner code: String, addressSeq seq: Int, site: String) throws -> String? {
        guard let row = try FastStatement.fetchFirst(cachedStatement(sql: "SELECT institution FROM address WHERE partner_code = ? AND site = ? AND seq = ?"),
                                                     [code.databaseValue, site.databaseValue, seq.databaseValue]) else {
            throw FieldError(field: "address", reason: "partner \(code) has no address \(seq) at site \(site)")
        }
        return String.fromDatabaseValue(row[0])
    }
}
