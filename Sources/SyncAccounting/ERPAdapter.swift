import Foundation

/// A debtor (customer) in the ERP.
public struct ERPCustomer: Sendable, Hashable, Codable {
    public var id: String
    public var number: String
    public var displayName: String
    public var taxRegistrationNumber: String?
    public var postalCode: String?
    /// The ERP's id of the customer's payment method (nil or empty: none).
    public var paymentMethodId: String?
    /// For `If-Match` on a change.
    public var etag: String?

    public init(id: String, number: String, displayName: String, taxRegistrationNumber: String? = nil,
                postalCode: String? = nil, paymentMethodId: String? = nil, etag: String? = nil) {
        self.id = id; self.number = number; self.displayName = displayName; self.taxRegistrationNumber = taxRegistrationNumber
        self.postalCode = postalCode; self.paymentMethodId = paymentMethodId; self.etag = etag
    }
}

/// A debtor to create, from the chain's customer and the address it is billed at.
public struct ERPCustomerDraft: Sendable, Hashable {
    public var number: String
    public var displayName: String
    public var taxRegistrationNumber: String?
    public var email: String?
    public var phone: String?
    public var street: String?
    public var city: String?
    public var postalCode: String?
    public var country: String?
    public var currency: String?
    public var paymentMethodId: String?
}

/// One line of an invoice to create.
public struct ERPInvoiceLine: Sendable, Hashable {
    /// `Item` (an article code) or `Account` (a G/L account: an installment, a document
    /// without lines).
    public var lineType: String
    public var objectNumber: String
    public var description: String
    public var quantity: Int
    public var unitPriceMinor: Int64
    public var discountMinor: Int64

    public init(lineType: String, objectNumber: String, description: String, quantity: Int, unitPriceMinor: Int64, discountMinor: Int64) {
        self.lineType = lineType; self.objectNumber = objectNumber; self.description = description
        self.quantity = quantity; self.unitPriceMinor = unitPriceMinor; self.discountMinor = discountMinor
    }
}

/// An invoice to create: one installment of a document.
public struct ERPInvoiceDraft: Sendable, Hashable {
    public var customerNumber: String
    /// Identifies document and installment (`InvoiceRules.externalNumber`): how a creation
    /// whose reply was lost is found again.
    public var externalNumber: String
    public var invoiceDate: String
    public var salesperson: String?
    public var paymentTermsId: String?
    public var currency: String
    public var billTo: (name: String, street: String?, city: String?, postalCode: String?, country: String?)?
    public var lines: [ERPInvoiceLine]

    public init(customerNumber: String, externalNumber: String, invoiceDate: String, salesperson: String? = nil, paymentTermsId: String? = nil,
                currency: String, billTo: (name: String, street: String?, city: String?, postalCode: String?, country: String?)? = nil,
                lines: [ERPInvoiceLine]) {
        self.customerNumber = customerNumber; self.externalNumber = externalNumber; self.invoiceDate = invoiceDate
        self.salesperson = salesperson; self.paymentTermsId = paymentTermsId; self.currency = currency; self.billTo = billTo
        self.lines = lines
    }

    public static func == (a: Self, b: Self) -> Bool { a.externalNumber == b.externalNumber }
    public func hash(into h: inout Hasher) { h.combine(externalNumber) }
}

/// An invoice as the ERP reports it.
public struct ERPInvoice: Sendable, Hashable {
    public var id: String
    public var number: String
    public var externalNumber: String?
    /// The ERP's status: `Draft`, `In Review`, `Open` (posted, unpaid), `Paid`, `Canceled`.
    public var status: String
    public var postingDate: String?
    public var totalMinor: Int64

    public init(id: String, number: String, externalNumber: String?, status: String, postingDate: String?, totalMinor: Int64) {
        self.id = id; self.number = number; self.externalNumber = externalNumber; self.status = status
        self.postingDate = postingDate; self.totalMinor = totalMinor
    }

    /// The ERP's status as the connector's rules read it.
    public var stage: InvoiceStage {
        switch status.lowercased() {
        case "paid": return .paid
        case "canceled", "cancelled": return .cancelled
        case "open", "posted", "corrective": return .posted
        default: return .draft
        }
    }
}

public enum InvoiceStage: String, Sendable { case draft, posted, paid, cancelled }

/// A code in an ERP list (payment terms, payment method, salesperson) and its id.
public struct ERPCode: Sendable, Hashable {
    public var id: String
    public var code: String
    public var name: String
    public init(id: String, code: String, name: String) { self.id = id; self.code = code; self.name = name }
}

/// What the connector needs of an ERP: one protocol, so that another ERP is one more
/// implementation (`BusinessCentralAdapter` speaks Business Central's API v2.0). Errors are
/// `ERPSystemError`s.
public protocol ERPAdapter: Sendable {
    func customer(number: String) async throws -> ERPCustomer?
    /// ERP customers with the same VAT ID, or the same name and postal code (the duplicate
    /// check), under any number.
    func duplicateCandidates(name: String, postalCode: String?, taxRegistrationNumber: String?) async throws -> [ERPCustomer]
    func createCustomer(_ draft: ERPCustomerDraft) async throws -> ERPCustomer
    func setPaymentMethod(id: String, of customer: ERPCustomer) async throws
    func salespeople() async throws -> [ERPCode]
    func paymentTerms() async throws -> [ERPCode]
    func paymentMethods() async throws -> [ERPCode]
    func items() async throws -> [ERPCode]
    func invoice(externalNumber: String) async throws -> ERPInvoice?
    func invoice(id: String) async throws -> ERPInvoice?
    func invoice(number: String) async throws -> ERPInvoice?
    /// Creates the invoice with its lines in one request. Never repeated by the adapter on a
    /// lost reply: `ERPSystemError.replyLost` says the ERP may have created it.
    func createInvoice(_ draft: ERPInvoiceDraft) async throws -> ERPInvoice
    /// The reminder level of a posted invoice: 0 none, 1 payment reminder, 2–4 dunning 1–3.
    func reminderLevel(invoiceNumber: String) async throws -> Int
    /// Requests sent and 429 answers seen so far.
    func counters() async -> (requests: Int, throttled: Int)
}

/// A technical failure (the ERP unreachable, an answer that cannot be processed): mailed to
/// the IT team with a three-digit code (docs/accounting.md, "System errors").
public struct ERPSystemError: Error, Sendable, CustomStringConvertible {
    public enum Code: Int, Sendable, Codable {
        /// The ERP cannot be reached (connection refused, timeout).
        case unreachable = 101
        /// The ERP refused the connector's credentials (401, 403).
        case authentication = 102
        /// The ERP answered with a server error (5xx) after the retries.
        case serverError = 103
        /// An answer the connector cannot read.
        case unreadable = 104
        /// The ERP kept answering 429 (too many requests) beyond the wait the connector allows.
        case throttled = 105
        /// The ERP refused a request (4xx) with its own error.
        case refused = 106
        /// The connection closed after an invoice was asked for, and the invoice cannot be found
        /// by its external document number: asked again at the next run.
        case replyLost = 107
        /// The connector is not configured, or its password cannot be read.
        case configuration = 201
        /// The mail server did not take a message.
        case mail = 301
        /// The hub's store failed.
        case store = 401
    }
    public var code: Code
    public var message: String
    /// Technical detail: the request, the status and the ERP's own error.
    public var detail: String

    public init(_ code: Code, _ message: String, detail: String = "") {
        self.code = code; self.message = message; self.detail = detail
    }

    public var description: String { "system error \(code.rawValue): \(message)\(detail.isEmpty ? "" : " (\(detail))")" }
}
