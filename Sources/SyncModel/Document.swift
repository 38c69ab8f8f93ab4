import Foundation

/// The kinds of document that reference a partner address.
public enum DocumentKind: String, Sendable, Codable, CaseIterable {
    case receipt, invoice, order, receivable
    /// A delivery note (Lieferschein): goods handed to a customer; the one document whose
    /// customer data the back office fetches from the chain (docs/backoffice.md).
    case deliveryNote = "delivery-note"
}

/// A document (receipt, invoice, order, receivable) referencing a partner's address at a site.
/// Amounts are integer minor units (grosze, cents).
public struct Document: Sendable, Hashable, Codable {
    enum CodingKeys: String, CodingKey {
        case id, kind, partnerCode = "partner_code", addressSeq = "address_seq", site, amountMinor = "amount_minor", currency, status, issuedAt = "issued_at", node
        case customerCategory = "customer_category", institution, priceVersion = "price_version", lines
    }

    /// Globally unique: `<node>-<kind letter><local number>`, assigned by the creating node.
    public var id: String
    public var kind: DocumentKind
    public var partnerCode: String
    public var addressSeq: Int
    public var site: String
    public var amountMinor: Int64
    public var currency: String
    /// `open` or `settled`; orders count towards the order balance while open.
    public var status: String
    public var issuedAt: String
    public var node: String
    /// The customer category the lines were priced for (nil: a document without lines).
    public var customerCategory: String?
    /// The institution the document belongs to: it was placed with the customer's address at
    /// that institution, whose discount its lines got.
    public var institution: String?
    /// The version of the price table (`PriceTable.version`) the store priced the lines with.
    public var priceVersion: Int64?
    /// The lines, priced at the time of sale; `amountMinor` is their sum. Empty: a document
    /// recorded by its amount alone.
    public var lines: [DocumentLine]

    /// A till sale without a customer (an anonymous receipt) has no partner code.
    public var isAnonymous: Bool { partnerCode.isEmpty }

    public init(id: String, kind: DocumentKind, partnerCode: String, addressSeq: Int = 0, site: String,
                amountMinor: Int64, currency: String, status: String = "open", issuedAt: String, node: String,
                customerCategory: String? = nil, institution: String? = nil, priceVersion: Int64? = nil, lines: [DocumentLine] = []) {
        self.id = id; self.kind = kind; self.partnerCode = partnerCode; self.addressSeq = addressSeq
        self.site = site; self.amountMinor = amountMinor; self.currency = currency; self.status = status
        self.issuedAt = issuedAt; self.node = node; self.customerCategory = customerCategory
        self.institution = institution; self.priceVersion = priceVersion; self.lines = lines
    }

    public static let columns = ["id", "kind", "partner_code", "address_seq", "site", "amount_minor", "currency",
                                 "status", "issued_at", "node", "customer_category", "institution", "price_version", "lines"]

    /// Each column's position in `columns`.
    static let columnPosition = Dictionary(uniqueKeysWithValues: columns.enumerated().map { ($1, $0) })

    /// The values in `columns` order (what `fields` holds, without building a dictionary).
    public var columnValues: [FieldValue] {
        func t(_ s: String?) -> FieldValue { s.map(FieldValue.text) ?? .null }
        return [.text(id), .text(kind.rawValue), .text(partnerCode), .int(Int64(addressSeq)), .text(site), .int(amountMinor),
                .text(currency), .text(status), .text(issuedAt), .text(node), t(customerCategory), t(institution),
                priceVersion.map(FieldValue.int) ?? .null, lines.isEmpty ? .null : .text(DocumentLine.json(lines))]
    }

    public var fields: Fields { Fields(uniqueKeysWithValues: zip(Self.columns, columnValues)) }

    public init(fields f: Fields) throws {
        var values = [FieldValue?](repeating: nil, count: Self.columns.count)
        for (name, value) in f { if let i = Self.columnPosition[name] { values[i] = value } }
        try self.init(columnValues: values)
    }

    /// Builds a document from its values in `columns` order (nil: not given; the one mapping
    /// from columns to document): missing optional values take their defaults.
    public init(columnValues v: [FieldValue?]) throws {
        precondition(v.count == Self.columns.count, "a document has \(Self.columns.count) columns")
        guard let id = v[0]?.text else { throw FieldError(field: "id", reason: "is missing") }
        guard let kind = v[1]?.text.flatMap(DocumentKind.init(rawValue:)) else {
            throw FieldError(field: "kind", reason: "must be receipt, invoice, order or receivable")
        }
        guard let code = v[2]?.text else { throw FieldError(field: "partner_code", reason: "is missing") }
        guard !code.isEmpty || kind == .receipt else {
            throw FieldError(field: "partner_code", reason: "is missing: only a receipt may be anonymous")
        }
        guard let amount = v[5]?.int else { throw FieldError(field: "amount_minor", reason: "is missing") }
        let lines = try v[13]?.text.map(DocumentLine.parse) ?? []
        if !lines.isEmpty {
            let sum = lines.reduce(Int64(0)) { $0 + $1.lineTotal }
            guard sum == amount else {
                throw FieldError(field: "amount_minor", reason: "is \(Self.formatAmount(amount)), the lines sum to \(Self.formatAmount(sum))")
            }
        }
        self.init(id: id, kind: kind, partnerCode: code, addressSeq: Int(v[3]?.int ?? 0),
                  site: v[4]?.text ?? "", amountMinor: amount, currency: v[6]?.text ?? "PLN",
                  status: v[7]?.text ?? "open", issuedAt: v[8]?.text ?? "", node: v[9]?.text ?? "",
                  customerCategory: v[10]?.text, institution: v[11]?.text, priceVersion: v[12]?.int, lines: lines)
    }

    /// Parses an amount such as "12.50" or "-3" into minor units (2 decimals), exactly. The
    /// amount must lie within ±`ColumnRules.maxAmountMinor` (999,999,999.99); no input traps.
    public static func parseAmount(_ text: String) throws -> Int64 {
        let t = text.trimmingCharacters(in: .whitespaces)
        let negative = t.hasPrefix("-")
        let body = negative ? String(t.dropFirst()) : t
        let parts = body.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty,
              parts[0].allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw FieldError(field: "amount", reason: "'\(text)' is not an amount like 12.50")
        }
        let limit = ColumnRules.maxAmountMinor
        let tooLarge = FieldError(field: "amount", reason: "'\(text)' is out of range: at most \(formatAmount(limit)) either way")
        // Digits beyond Int64 are out of range too, not "not a number".
        guard let whole = Int64(parts[0]) else { throw tooLarge }
        let (hundreds, overflow) = whole.multipliedReportingOverflow(by: 100)
        guard !overflow, hundreds <= limit else { throw tooLarge }
        var minor = hundreds
        if parts.count == 2 {
            let frac = parts[1]
            guard (1...2).contains(frac.count), frac.allSatisfy({ $0.isASCII && $0.isNumber }), let f = Int64(frac) else {
                throw FieldError(field: "amount", reason: "'\(text)' has more than 2 decimals or is not a number")
            }
            minor += frac.count == 1 ? f * 10 : f  // at most 99 more than `limit`: far below Int64.max
        }
        guard minor <= limit else { throw tooLarge }
        return negative ? -minor : minor
    }

    /// Formats minor units as "12.50".
    public static func formatAmount(_ minor: Int64) -> String {
        let sign = minor < 0 ? "-" : ""
        let m = minor.magnitude
        let frac = m % 100
        return "\(sign)\(m / 100).\(frac < 10 ? "0" : "")\(frac)"
    }
}
