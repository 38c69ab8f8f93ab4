import Foundation

/// The customer module's records: customer categories, offer categories, offers and the price
/// table (central master data, written at the hub, replicated to every store), institutions
/// and memberships (written at the stores, offline too). docs/rules.md, "Customer module".
public enum CustomerModule {
    /// The longest code of a category, offer category or offer.
    public static let maxCodeLength = 40

    /// The kinds of institution.
    public enum InstitutionKind: String, Sendable, CaseIterable, Codable {
        case company, association, organisation
    }
}

extension Entity {
    public static let customerCategory = Entity("customer_category", code: 4)
    public static let offerCategory = Entity("offer_category", code: 5)
    public static let offer = Entity("offer", code: 6)
    public static let price = Entity("price", code: 7)
    public static let institution = Entity("institution", code: 8)
    public static let membership = Entity("membership", code: 9)
}

extension RecordKind {
    private static let code = ColumnSpec.text(max: CustomerModule.maxCodeLength)
    private static let name = ColumnSpec.text(max: 200)
    private static let amount = ColumnSpec.int(0...ColumnRules.maxAmountMinor)
    private static let version = ColumnSpec.int(0...Int64(Int32.max))

    /// A customer category: the segment of customers whose prices a row of the price table
    /// gives. One category is the default (`is_default`) a customer registered without one gets.
    public static let customerCategory = RecordKind(
        entity: .customerCategory, table: "customer_category",
        columns: [Column("code", code, required: true), Column("name", name, required: true), Column("active", .bool, required: true),
                  Column("is_default", .bool, required: true)],
        key: ["code"], writers: .hub, removal: .never, scope: .chain,
        validate: { row in try CustomerModule.requireName(row) })

    public static let offerCategory = RecordKind(
        entity: .offerCategory, table: "offer_category",
        columns: [Column("code", code, required: true), Column("name", name, required: true), Column("active", .bool, required: true)],
        key: ["code"], writers: .hub, removal: .never, scope: .chain,
        validate: { row in try CustomerModule.requireName(row) })

    /// An offer: what a line sells, at its base price unless the price table has a cell for
    /// the customer's category and the offer's category.
    public static let offer = RecordKind(
        entity: .offer, table: "offer",
        columns: [Column("code", code, required: true), Column("name", name, required: true),
                  Column("offer_category", code, required: true), Column("price_minor", amount, required: true),
                  Column("currency", .text(max: 8), required: true), Column("article_code", .text(max: 40)),
                  Column("active", .bool, required: true), Column("price_version", version)],
        key: ["code"], writers: .hub, removal: .never, scope: .chain, references: ["offer_category": .offerCategory],
        validate: { row in
            try CustomerModule.requireName(row)
            try CustomerModule.requireCurrency(row["currency"])
        })

    /// One cell of the price table: the price of every offer of an offer category for the
    /// customers of a customer category. Removing the cell brings back the offers' base prices.
    public static let price = RecordKind(
        entity: .price, table: "price",
        columns: [Column("customer_category", code, required: true), Column("offer_category", code, required: true),
                  Column("amount_minor", amount, required: true), Column("currency", .text(max: 8), required: true),
                  Column("price_version", version)],
        key: ["customer_category", "offer_category"], writers: .hub, removal: .delete, scope: .chain,
        references: ["customer_category": .customerCategory, "offer_category": .offerCategory],
        validate: { row in try CustomerModule.requireCurrency(row["currency"]) })

    /// An institution (company, association, organisation) with its own address and a
    /// discount its members' orders placed with an address at it get: `discount_hundredths`
    /// (12.5 % is 1250) when set, else `discount_percent` (whole percents, as stores wrote it
    /// before). Only the hub sets or changes the discount (`CustomerModule.centralColumns`).
    public static let institution = RecordKind(
        entity: .institution, table: "institution",
        columns: [Column("code", .text(max: PartnerCode.maxStoredLength), required: true), Column("name", name, required: true),
                  Column("kind", .text(max: 16), required: true), Column("discount_percent", .int(0...100)),
                  Column("active", .bool, required: true), Column("street", .text(max: 200)), Column("city", .text(max: 100)),
                  Column("postal_code", .text(max: 16)), Column("country", .text(max: 8)), Column("origin_node", .text(max: 32)),
                  Column("discount_hundredths", .int(0...10_000))],
        key: ["code"], writers: .stores, removal: .never,
        editable: ["name", "kind", "discount_percent", "discount_hundredths", "active", "street", "city", "postal_code", "country"], onClash: .storePrefix,
        validate: { row in
            try CustomerModule.requireName(row)
            guard let kind = row["kind"].text, CustomerModule.InstitutionKind(rawValue: kind) != nil else {
                throw FieldError(field: "kind", reason: "must be company, association or organisation")
            }
        })

    /// A customer's membership of an institution.
    public static let membership = RecordKind(
        entity: .membership, table: "membership",
        columns: [Column("partner_code", .text(max: PartnerCode.maxStoredLength), required: true),
                  Column("institution_code", .text(max: PartnerCode.maxStoredLength), required: true)],
        key: ["partner_code", "institution_code"], writers: .stores, removal: .delete, parent: "partner_code",
        partnerColumns: ["partner_code"], references: ["institution_code": .institution],
        personal: PersonalData(subject: "partner_code", record: "memberships", onErasure: .remove, onMove: .byRule))
}

extension CustomerModule {
    /// The institution's columns only the hub writes: a store's new institution has no
    /// discount, and a store's change of one is refused naming the rule.
    public static let centralInstitutionColumns: Set<String> = ["discount_percent", "discount_hundredths"]

    /// The discount an institution's row gives.
    public static func discount(_ fields: Fields) -> Discount {
        if let h = fields["discount_hundredths"]?.int { return Discount(hundredths: Int(h)) }
        return Discount(percent: Int(fields["discount_percent"]?.int ?? 0))
    }

    static func requireName(_ row: RecordRow) throws {
        guard let name = row["name"].text, !name.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw FieldError(field: "name", reason: "is missing")
        }
    }

    /// Three capital letters (ISO 4217), such as PLN.
    public static func requireCurrency(_ value: FieldValue, field: String = "currency") throws {
        guard let c = value.text, c.utf8.count == 3, c.utf8.allSatisfy({ $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else {
            throw FieldError(field: field, reason: "'\(value.text ?? "")' is not a three-letter currency code such as PLN")
        }
    }

    /// A discount given as text: a percent from 0 to 100 with at most two decimals (`12.5`).
    public static func parseDiscount(_ text: String, field: String = "discount") throws -> Discount {
        guard let d = Discount(text) else {
            throw FieldError(field: field, reason: "'\(text)' is not a percent from 0 to 100 with at most two decimals, such as 12.5")
        }
        return d
    }
}

// MARK: - Document lines and pricing

/// One line of a document, priced at the time of sale and kept as sold.
public struct DocumentLine: Sendable, Hashable, Codable {
    enum CodingKeys: String, CodingKey {
        case offer, quantity, unitPrice = "unit_price", source, discountPercent = "discount_percent", discountHundredths = "discount_hundredths"
        case discount, lineTotal = "line_total"
    }

    /// Where a unit price came from.
    public enum Source: String, Sendable, Hashable, Codable {
        /// The price table's cell for the customer's category and the offer's category.
        case table
        /// The offer's base price (the table has no such cell).
        case base
        /// The price the back office charged (a transferred invoice or order).
        case backoffice

        /// How a receipt or a listing names where the price came from.
        public var label: String {
            switch self {
            case .table: return "price table"
            case .base: return "base price"
            case .backoffice: return "priced by the back office"
            }
        }
    }

    public var offer: String
    public var quantity: Int
    /// Minor units.
    public var unitPrice: Int64
    public var source: Source
    /// The discount's whole percent (12 of 12.5 %).
    public var discountPercent: Int
    /// The discount in hundredths of a percent, when it is not a whole percent (1250 for
    /// 12.5 %); nil otherwise, so that lines of whole percents read as before.
    public var discountHundredths: Int?
    /// Minor units taken off `quantity × unitPrice`.
    public var discount: Int64
    /// Minor units: `quantity × unitPrice − discount`.
    public var lineTotal: Int64

    public init(offer: String, quantity: Int, unitPrice: Int64, source: Source, discountRate: Discount, discount: Int64, lineTotal: Int64) {
        self.offer = offer; self.quantity = quantity; self.unitPrice = unitPrice; self.source = source
        discountPercent = discountRate.hundredths / 100
        discountHundredths = discountRate.isWholePercent ? nil : discountRate.hundredths
        self.discount = discount; self.lineTotal = lineTotal
    }

    /// The discount the line was priced with.
    public var discountRate: Discount { Discount(hundredths: discountHundredths ?? discountPercent * 100) }

    /// The most lines one document has.
    public static let maxLines = 100
    /// The longest text of a document's lines (`maxLines` lines of about 160 characters).
    public static let maxLinesJSON = 20_000
    /// The largest quantity of one line.
    public static let maxQuantity = 100_000

    /// The lines as the document's `lines` column holds them: JSON, keys sorted, byte for byte
    /// what `JSONEncoder` with `.sortedKeys` writes (a test compares the two).
    ///
    /// Written by hand, into bytes: with `JSONEncoder` the encoding took 36 % of the CPU time of
    /// an order's durable write at the till (perf, 5,000 orders of 5 lines, release build), and
    /// built with string interpolation still 5 µs of a document's write.
    public static func json(_ lines: [DocumentLine]) -> String {
        var out: [UInt8] = [UInt8(ascii: "[")]
        out.reserveCapacity(lines.count * 140 + 2)
        for (i, l) in lines.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: #"{"discount":"#.utf8)
            FlatJSON.appendInt(l.discount, to: &out)
            if let h = l.discountHundredths {
                out.append(contentsOf: #","discount_hundredths":"#.utf8)
                FlatJSON.appendInt(Int64(h), to: &out)
            }
            out.append(contentsOf: #","discount_percent":"#.utf8)
            FlatJSON.appendInt(Int64(l.discountPercent), to: &out)
            out.append(contentsOf: #","line_total":"#.utf8)
            FlatJSON.appendInt(l.lineTotal, to: &out)
            out.append(contentsOf: #","offer":"#.utf8)
            FlatJSON.appendEncoderString(l.offer, to: &out)
            out.append(contentsOf: #","quantity":"#.utf8)
            FlatJSON.appendInt(Int64(l.quantity), to: &out)
            out.append(contentsOf: #","source":"#.utf8)
            FlatJSON.appendEncoderString(l.source.rawValue, to: &out)
            out.append(contentsOf: #","unit_price":"#.utf8)
            FlatJSON.appendInt(l.unitPrice, to: &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
        return String(decoding: out, as: UTF8.self)
    }

    /// The lines of a document's `lines` column; each line's arithmetic must hold.
    public static func parse(_ text: String) throws -> [DocumentLine] {
        guard let lines = try? JSONDecoder().decode([DocumentLine].self, from: Data(text.utf8)) else {
            throw FieldError(field: "lines", reason: "is not a list of document lines")
        }
        guard lines.count <= maxLines else { throw FieldError(field: "lines", reason: "has \(lines.count) lines; at most \(maxLines)") }
        for (i, line) in lines.enumerated() {
            let again = try? Pricing.line(offer: line.offer, unitPrice: line.unitPrice, source: line.source,
                                         quantity: line.quantity, discount: line.discountRate)
            guard again == line else {
                throw FieldError(field: "lines", reason: "line \(i + 1) (\(line.offer)): quantity × unit price − discount is not its total")
            }
        }
        return lines
    }

    /// A `--line OFFER:QTY` argument (quantity 1 when left out).
    public static func parseRequest(_ text: String) throws -> (offer: String, quantity: Int) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty else {
            throw FieldError(field: "line", reason: "'\(text)' is not OFFER:QUANTITY")
        }
        let quantity = parts.count == 2 ? Int(parts[1]) : 1
        guard let quantity, (1...maxQuantity).contains(quantity) else {
            throw FieldError(field: "line", reason: "'\(text)': the quantity must be a whole number from 1 to \(maxQuantity)")
        }
        return (PartnerCode.normalized(String(parts[0])), quantity)
    }
}

/// The pricing rule, one place for node and hub: the unit price is the price table's cell for
/// (customer category, offer category), or the offer's base price when there is none; an
/// institution's discount percent comes off `quantity × unit price`, rounded half up to the
/// minor unit.
public enum Pricing {
    /// The offer, the table cell and the discount a line is priced from.
    public struct Inputs: Sendable, Equatable {
        public var offer: String
        public var offerCategory: String
        public var basePrice: Int64
        public var currency: String
        /// The price table's cell for the customer's category and the offer's category.
        public var cell: (amount: Int64, currency: String)?
        public var discount: Discount

        public init(offer: String, offerCategory: String, basePrice: Int64, currency: String,
                    cell: (amount: Int64, currency: String)?, discount: Discount) {
            self.offer = offer; self.offerCategory = offerCategory; self.basePrice = basePrice
            self.currency = currency; self.cell = cell; self.discount = discount
        }

        public static func == (a: Inputs, b: Inputs) -> Bool {
            a.offer == b.offer && a.offerCategory == b.offerCategory && a.basePrice == b.basePrice && a.currency == b.currency
                && a.cell?.amount == b.cell?.amount && a.cell?.currency == b.cell?.currency && a.discount == b.discount
        }
    }

    /// The priced line for `quantity` units.
    public static func price(_ inputs: Inputs, quantity: Int) throws -> DocumentLine {
        let (unit, source) = try unitPrice(inputs)
        return try line(offer: inputs.offer, unitPrice: unit, source: source, quantity: quantity, discount: inputs.discount)
    }

    /// The unit price and where it comes from: the table's cell, else the offer's base price.
    public static func unitPrice(_ inputs: Inputs) throws -> (amount: Int64, source: DocumentLine.Source) {
        if let cell = inputs.cell, cell.currency != inputs.currency {
            throw FieldError(field: "currency", reason: "the price table's cell for offer category \(inputs.offerCategory) is in \(cell.currency), offer \(inputs.offer) in \(inputs.currency)")
        }
        return inputs.cell.map { ($0.amount, .table) } ?? (inputs.basePrice, .base)
    }

    /// A line's discount and total from its unit price, quantity and discount percent.
    public static func line(offer: String, unitPrice: Int64, source: DocumentLine.Source, quantity: Int, discount rate: Discount) throws -> DocumentLine {
        guard (1...DocumentLine.maxQuantity).contains(quantity) else {
            throw FieldError(field: "quantity", reason: "\(quantity) is not a whole number from 1 to \(DocumentLine.maxQuantity)")
        }
        guard (0...10_000).contains(rate.hundredths) else { throw FieldError(field: "discount_percent", reason: "must be from 0 to 100") }
        guard (0...ColumnRules.maxAmountMinor).contains(unitPrice) else { throw FieldError(field: "unit_price", reason: "is out of range") }
        let (gross, overflow) = unitPrice.multipliedReportingOverflow(by: Int64(quantity))
        guard !overflow, gross <= ColumnRules.maxAmountMinor else {
            throw FieldError(field: "quantity", reason: "\(quantity) × \(Document.formatAmount(unitPrice)) exceeds the largest amount of a document")
        }
        // gross ≤ 10^11, so gross × 10,000 cannot overflow.
        let discount = (gross * Int64(rate.hundredths) + 5_000) / 10_000
        return DocumentLine(offer: offer, quantity: quantity, unitPrice: unitPrice, source: source,
                            discountRate: rate, discount: discount, lineTotal: gross - discount)
    }

    /// The total of `lines`, refused beyond the largest amount of a document.
    public static func total(_ lines: [DocumentLine]) throws -> Int64 {
        let sum = lines.reduce(Int64(0)) { $0 + $1.lineTotal }  // ≤ 100 lines × 10^11
        guard sum <= ColumnRules.maxAmountMinor else { throw FieldError(field: "lines", reason: "the total exceeds the largest amount of a document") }
        return sum
    }
}

/// An institution's discount: a percent with up to two decimals, kept in hundredths of a
/// percent (12.5 % is 1250), so that every store computes the same minor units.
public struct Discount: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var hundredths: Int

    public init(hundredths: Int) { self.hundredths = hundredths }
    public init(percent: Int) { hundredths = percent * 100 }

    public static let none = Discount(hundredths: 0)

    /// `12.5`, `12,5`, `10`, `0.25` (0 to 100, at most two decimals); nil otherwise.
    public init?(_ text: String) {
        let t = text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: ",", with: ".")
        let parts = t.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let whole = Int(parts[0]), !parts[0].hasPrefix("-"), !parts[0].hasPrefix("+") else { return nil }
        var fraction = 0
        if parts.count == 2 {
            let f = parts[1]
            guard (1...2).contains(f.count), f.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            fraction = Int(f)! * (f.count == 1 ? 10 : 1)
        }
        let h = whole * 100 + fraction
        guard (0...10_000).contains(h) else { return nil }
        hundredths = h
    }

    public var isWholePercent: Bool { hundredths % 100 == 0 }

    /// `12.5`, `10`, `0.25`.
    public var description: String {
        let whole = hundredths / 100, rest = hundredths % 100
        if rest == 0 { return "\(whole)" }
        return rest % 10 == 0 ? "\(whole).\(rest / 10)" : "\(whole).\(rest < 10 ? "0" : "")\(rest)"
    }

    public static func < (a: Discount, b: Discount) -> Bool { a.hundredths < b.hundredths }
}
