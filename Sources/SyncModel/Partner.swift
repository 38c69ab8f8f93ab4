import Foundation

/// The two kinds of business partner a cashier can register.
public enum PartnerKind: String, Sendable, Codable, CaseIterable {
    /// Endkunde: a private customer. First and last name are mandatory.
    case consumer
    /// Geschäftskunde: a business customer. Name is mandatory.
    case business
}

/// A business partner (customer) as replicated between nodes and hub.
///
/// `lowestPrice` is never set by a user: it defaults from the center's parameters
/// by kind (`CenterParameters`). `deleted` marks a tombstone: documents that reference
/// a deleted partner stay valid.
public struct Partner: Sendable, Hashable, Codable {
    enum CodingKeys: String, CodingKey {
        case code, kind, salutation, firstName = "first_name", lastName = "last_name", name, birthDate = "birth_date", vatID = "vat_id", issuedBy = "issued_by", phone, email, attributes, consents, reverseCharge = "reverse_charge", country, nationalID = "national_id", tradeRegister = "trade_register", idDocument = "id_document", currency, corporateCustomer = "corporate_customer", lowestPrice = "lowest_price", deleted, originNode = "origin_node", category
    }

    public var code: String
    public var kind: PartnerKind
    public var salutation: String?
    public var firstName: String?
    public var lastName: String?
    public var name: String?
    public var birthDate: String?
    public var vatID: String?
    public var issuedBy: String?
    public var phone: String?
    public var email: String?
    /// Free attributes as key/value pairs.
    public var attributes: [String: String]
    /// Consents by name, with the date/time they were given (ISO 8601).
    public var consents: [String: String]
    public var reverseCharge: Bool
    public var country: String?
    public var nationalID: String?
    public var tradeRegister: String?
    public var idDocument: String?
    /// Currency code of the customer account (ISO 4217), e.g. "PLN".
    public var currency: String
    /// The corporate customer (Konzernkunde) this customer belongs to, if any.
    public var corporateCustomer: String?
    public var lowestPrice: Bool
    public var deleted: Bool
    /// The node that created the partner.
    public var originNode: String?
    /// The customer category (`customer_category` code): the segment whose prices the
    /// customer pays. A customer registered without one gets the chain's default category.
    public var category: String?

    public init(code: String, kind: PartnerKind, salutation: String? = nil, firstName: String? = nil,
                lastName: String? = nil, name: String? = nil, birthDate: String? = nil, vatID: String? = nil,
                issuedBy: String? = nil, phone: String? = nil, email: String? = nil,
                attributes: [String: String] = [:], consents: [String: String] = [:], reverseCharge: Bool = false,
                country: String? = nil, nationalID: String? = nil, tradeRegister: String? = nil,
                idDocument: String? = nil, currency: String = "PLN", corporateCustomer: String? = nil,
                lowestPrice: Bool = false, deleted: Bool = false, originNode: String? = nil, category: String? = nil) {
        self.code = code; self.kind = kind; self.salutation = salutation; self.firstName = firstName
        self.lastName = lastName; self.name = name; self.birthDate = birthDate; self.vatID = vatID
        self.issuedBy = issuedBy; self.phone = phone; self.email = email; self.attributes = attributes
        self.consents = consents; self.reverseCharge = reverseCharge; self.country = country
        self.nationalID = nationalID; self.tradeRegister = tradeRegister; self.idDocument = idDocument
        self.currency = currency; self.corporateCustomer = corporateCustomer; self.lowestPrice = lowestPrice
        self.deleted = deleted; self.originNode = originNode; self.category = category
    }

    /// A human-readable display name.
    public var displayName: String {
        switch kind {
        case .consumer: return [firstName, lastName].compactMap { $0 }.joined(separator: " ")
        case .business: return name ?? ""
        }
    }
}

/// Per-center parameters from the ERP that set defaults a cashier cannot change.
public struct CenterParameters: Sendable, Hashable, Codable {
    /// "Niedrigster Preis für neuen Geschäftskunde".
    public var lowestPriceForNewBusiness: Bool
    /// "Niedrigster Preis für neuen Endverbraucher".
    public var lowestPriceForNewConsumer: Bool
    /// The country a partner registered without one gets (two letters, e.g. "PL"), so the
    /// national checks (NIP, PESEL) run for it; nil: none.
    public var defaultCountry: String?

    enum CodingKeys: String, CodingKey {
        case lowestPriceForNewBusiness = "lowest_price_business", lowestPriceForNewConsumer = "lowest_price_consumer"
        case defaultCountry = "default_country"
    }

    public init(lowestPriceForNewBusiness: Bool = false, lowestPriceForNewConsumer: Bool = false, defaultCountry: String? = nil) {
        self.lowestPriceForNewBusiness = lowestPriceForNewBusiness
        self.lowestPriceForNewConsumer = lowestPriceForNewConsumer
        self.defaultCountry = defaultCountry
    }

    /// Throws when the default country is not two capital letters.
    public func validate() throws {
        if let c = defaultCountry, !(c.utf8.count == 2 && c.utf8.allSatisfy { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) {
            throw FieldError(field: "default_country", reason: "'\(c)' is not a two-letter country code such as PL")
        }
    }

    /// The lowest-price flag a new partner of `kind` gets.
    public func lowestPriceDefault(for kind: PartnerKind) -> Bool {
        switch kind {
        case .business: return lowestPriceForNewBusiness
        case .consumer: return lowestPriceForNewConsumer
        }
    }
}

// MARK: - Column mapping

extension Partner {
    /// Column names of the partner table in a fixed order (also the replicated field names).
    public static let columns: [String] = [
        "code", "kind", "salutation", "first_name", "last_name", "name", "birth_date", "vat_id", "issued_by",
        "phone", "email", "attributes", "consents", "reverse_charge", "country", "national_id",
        "trade_register", "id_document", "currency", "corporate_customer", "lowest_price", "deleted",
        "origin_node", "category",
    ]

    /// The partner's values in `columns` order (the one mapping from partner to columns).
    public var columnValues: [FieldValue] {
        func t(_ s: String?) -> FieldValue { s.map(FieldValue.text) ?? .null }
        func dict(_ d: [String: String]) -> FieldValue {
            d.isEmpty ? .null : .text(Fields(uniqueKeysWithValues: d.map { ($0.key, FieldValue.text($0.value)) }).canonicalJSON())
        }
        return [
            .text(code), .text(kind.rawValue), t(salutation), t(firstName), t(lastName), t(name), t(birthDate),
            t(vatID), t(issuedBy), t(phone), t(email), dict(attributes), dict(consents), .bool(reverseCharge),
            t(country), t(nationalID), t(tradeRegister), t(idDocument), .text(currency), t(corporateCustomer),
            .bool(lowestPrice), .bool(deleted), t(originNode), t(category),
        ]
    }

    /// The partner as replicated fields (all columns).
    public var fields: Fields { Fields(uniqueKeysWithValues: zip(Self.columns, columnValues)) }

    /// Builds a partner from replicated fields; missing fields take their defaults.
    public init(fields f: Fields) throws {
        // By the fields present (a change carries a few of the 24 columns), not by column.
        var values = [FieldValue](repeating: .null, count: Self.columns.count)
        for (name, value) in f { if let i = Self.columnPosition[name] { values[i] = value } }
        try self.init(columnValues: values)
    }

    /// Each column's position in `columns`.
    static let columnPosition = Dictionary(uniqueKeysWithValues: columns.enumerated().map { ($1, $0) })

    /// Builds a partner from its values in `columns` order (the one mapping from columns to
    /// partner); null values take their defaults.
    public init(columnValues v: [FieldValue]) throws {
        precondition(v.count == Self.columns.count, "a partner has \(Self.columns.count) columns")
        guard let code = v[0].text, !code.isEmpty else { throw FieldError(field: "code", reason: "is missing") }
        guard let kindText = v[1].text, let kind = PartnerKind(rawValue: kindText) else {
            throw FieldError(field: "kind", reason: "must be consumer or business")
        }
        func dict(_ value: FieldValue) -> [String: String] {
            guard let json = value.text, let parsed = try? Fields.fromJSON(json) else { return [:] }
            return parsed.compactMapValues { $0.text }
        }
        self.init(code: code, kind: kind, salutation: v[2].text, firstName: v[3].text, lastName: v[4].text, name: v[5].text,
                  birthDate: v[6].text, vatID: v[7].text, issuedBy: v[8].text, phone: v[9].text, email: v[10].text,
                  attributes: dict(v[11]), consents: dict(v[12]), reverseCharge: v[13].bool ?? false, country: v[14].text,
                  nationalID: v[15].text, tradeRegister: v[16].text, idDocument: v[17].text, currency: v[18].text ?? "PLN",
                  corporateCustomer: v[19].text, lowestPrice: v[20].bool ?? false, deleted: v[21].bool ?? false,
                  originNode: v[22].text, category: v[23].text)
    }

    /// Fields a user may change with an update (not code, kind, lowest_price, deleted, origin_node).
    public static let editableColumns: Set<String> = Set(columns).subtracting(["code", "kind", "lowest_price", "deleted", "origin_node"])
}
