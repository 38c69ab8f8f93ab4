import Foundation

/// The kinds of document that reference a partner address.
public enum DocumentKind: String, Sendable, Codable, CaseIterable {
    case receipt, invoice, order, receivable
    /// A delivery note (Lieferschein): goods handed to a customer; the one document whose
    /// customer data the back office fetches from the chain (docs/backoffice.md).
    case deliveryNote = "delivery-note"
}

/// Where a document stands with the accounting ERP (docs/rules.md, "Invoicing"): the
/// accounting connector acts on it; nil (no status): the document is not invoiced.
public enum InvoiceStatus: String, Sendable, Codable, CaseIterable {
    /// To be invoiced: the connector creates the provisional invoice(s) once payment method
    /// and payment terms are set.
    case open
    case provisional, invoice, reminder
    case dunning1 = "dunning-1", dunning2 = "dunning-2", dunning3 = "dunning-3"
    /// Not invoiced any more: the connector ignores the document.
    case cancelled

    public static var list: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// Whether the customer has paid a document's invoice (the ERP's answer); `paid`: the
/// connector ignores the document whatever its invoice status.
public enum PaymentStatus: String, Sendable, Codable, CaseIterable {
    case unpaid, paid
}

/// A document (receipt, invoice, order, receivable) referencing a partner's address at a site.
/// Amounts are integer minor units (grosze, cents).
public struct Document: Sendable, Hashable, Codable {
    enum CodingKeys: String, CodingKey {
        case id, kind, partnerCode = "partner_code", addressSeq = "address_seq", site, amountMinor = "amount_minor", currency, status, issuedAt = "issued_at", node
        case customerCategory = "customer_category", institution, priceVersion = "price_version", lines
        case invoiceStatus = "invoice_status", paymentMethod = "payment_method", paymentTerms = "payment_terms", installments, salesperson
        case billToSeq = "bill_to_seq", paymentStatus = "payment_status", referenceNumbers = "reference_numbers", booking
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

    // Invoicing (invoices, receivables and orders only; docs/rules.md, "Invoicing").
    /// Where the document stands with the accounting ERP; nil: not invoiced.
    public var invoiceStatus: InvoiceStatus?
    public var paymentMethod: String?
    public var paymentTerms: String?
    /// Invoices in installments: how many (nil: one invoice).
    public var installments: Int?
    /// The ERP's salesperson code, exactly as the ERP has it.
    public var salesperson: String?
    /// A deviating bill-to address: another address (`seq`) of the customer at this site.
    public var billToSeq: Int?
    /// Written by the ERP's answers: paid or not, the invoice numbers (`;`-joined, one per
    /// installment: the provisional ones, then the posted ones) and its booking data.
    public var paymentStatus: PaymentStatus?
    public var referenceNumbers: String?
    public var booking: String?

    /// The columns of the invoicing fields.
    public static let invoicingColumns = ["invoice_status", "payment_method", "payment_terms", "installments", "salesperson",
                                          "bill_to_seq", "payment_status", "reference_numbers", "booking"]

    /// The kinds a document may carry invoicing fields on.
    public static let invoicedKinds: Set<DocumentKind> = [.invoice, .receivable, .order]

    /// Whether any invoicing field is set.
    public var hasInvoicing: Bool {
        invoiceStatus != nil || paymentMethod != nil || paymentTerms != nil || installments != nil || salesperson != nil
            || billToSeq != nil || paymentStatus != nil || referenceNumbers != nil || booking != nil
    }

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
        + invoicingColumns

    /// Each column's position in `columns`.
    static let columnPosition = Dictionary(uniqueKeysWithValues: columns.enumerated().map { ($1, $0) })

    /// The values in `columns` order (what `fields` holds, without building a dictionary).
    public var columnValues: [FieldValue] {
        func t(_ s: String?) -> FieldValue { s.map(FieldValue.text) ?? .null }
        return [.text(id), .text(kind.rawValue), .text(partnerCode), .int(Int64(addressSeq)), .text(site), .int(amountMinor),
                .text(currency), .text(status), .text(issuedAt), .text(node), t(customerCategory), t(institution),
                priceVersion.map(FieldValue.int) ?? .null, lines.isEmpty ? .null : .text(DocumentLine.json(lines)),
                t(invoiceStatus?.rawValue), t(paymentMethod), t(paymentTerms), installments.map { .int(Int64($0)) } ?? .null, t(salesperson),
                billToSeq.map { .int(Int64($0)) } ?? .null, t(paymentStatus?.rawValue), t(referenceNumbers), t(booking)]
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
        try setInvoicing(Array(v[14...]))
    }

    /// The invoicing fields a request or a command gives, by column (nil: not given).
    public static func invoicingFields(invoiceStatus: String?, paymentMethod: String?, paymentTerms: String?, installments: Int?,
                                       salesperson: String?, billToSeq: Int?, paymentStatus: String?) -> Fields {
        var f: Fields = [:]
        if let invoiceStatus { f["invoice_status"] = .text(invoiceStatus) }
        if let paymentMethod { f["payment_method"] = .text(paymentMethod) }
        if let paymentTerms { f["payment_terms"] = .text(paymentTerms) }
        if let installments { f["installments"] = .int(Int64(installments)) }
        if let salesperson { f["salesperson"] = .text(salesperson) }
        if let billToSeq { f["bill_to_seq"] = .int(Int64(billToSeq)) }
        if let paymentStatus { f["payment_status"] = .text(paymentStatus) }
        return f
    }

    /// The document with the invoicing fields of `fields` (by column name; others refused),
    /// checked as `setInvoicing` checks them and by their columns' bounds.
    public func withInvoicing(_ fields: Fields) throws -> Document {
        guard !fields.isEmpty else { return self }
        for name in fields.keys.sorted() where !Self.invoicingColumns.contains(name) {
            throw FieldError(field: name, reason: "is not an invoicing field (\(Self.invoicingColumns.joined(separator: ", ")))")
        }
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) {
            if let problem = ColumnRules.problem(.document, name, value) { throw problem }
        }
        var copy = self
        try copy.setInvoicing(Self.invoicingColumns.map { fields[$0] })
        return copy
    }

    /// Sets the invoicing fields from their values in `invoicingColumns` order (nil or null:
    /// not set), checked: the status and payment status by their lists, installments 1 to 120,
    /// a bill-to address number, and only on the kinds that are invoiced.
    mutating func setInvoicing(_ v: [FieldValue?]) throws {
        func text(_ i: Int) -> String? { v[i].flatMap { $0 == .null ? nil : $0.text } }
        /// Value `i` as one of `E`'s values (nil: not given); another text is refused with the list.
        func value<E: RawRepresentable & CaseIterable>(_ i: Int, _ what: String) throws -> E? where E.RawValue == String {
            guard let s = text(i) else { return nil }
            guard let e = E(rawValue: s) else {
                throw FieldError(field: Self.invoicingColumns[i], reason: "'\(s)' is not \(what) (\(E.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return e
        }
        if let status: InvoiceStatus = try value(0, "an invoice status") { invoiceStatus = status }
        paymentMethod = text(1)
        paymentTerms = text(2)
        if let n = v[3]?.int {
            guard (1...120).contains(n) else { throw FieldError(field: "installments", reason: "must be 1 to 120, got \(n)") }
            installments = Int(n)
        }
        salesperson = text(4)
        if let seq = v[5]?.int {
            guard seq >= 0 else { throw FieldError(field: "bill_to_seq", reason: "must be an address number (0 or more), got \(seq)") }
            billToSeq = Int(seq)
        }
        if let status: PaymentStatus = try value(6, "a payment status") { paymentStatus = status }
        referenceNumbers = text(7)
        booking = text(8)
        if hasInvoicing, !Self.invoicedKinds.contains(kind) {
            let given = v.indices.first { v[$0].map { $0 != .null } ?? false }
            let field = given.map { Self.invoicingColumns[$0] } ?? "invoice_status"
            throw FieldError(field: field, reason: "a \(kind.rawValue) is not invoiced: only invoices, receivables and orders carry invoicing fields")
        }
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
