import Foundation

/// The accounting connector's rules that do not depend on an ERP (docs/rules.md,
/// "Accounting connector"): what a run does with a document, how installments split an
/// amount, how an invoice is found again, and how the ERP's state of an invoice reads as an
/// invoice status.
public enum InvoiceRules {
    /// What a run does with one document.
    public enum Action: Sendable, Hashable {
        /// Left alone; the reason says why (`no invoice status`, `cancelled`, `paid`).
        case ignore(String)
        /// Create the provisional invoice(s).
        case create
        /// An `open` document that lacks what creating needs: the fields, by JSON name.
        case missing([String])
        /// Ask the ERP for the invoice(s) and update status and numbers.
        case ask
    }

    /// The status table: paid is ignored whatever the status; no status and cancelled are
    /// ignored; open creates when payment method and payment terms are set; provisional,
    /// invoice, reminder and dunning 1–3 ask the ERP.
    public static func action(for d: Document) -> Action {
        if d.paymentStatus == .paid { return .ignore("paid") }
        guard let status = d.invoiceStatus else { return .ignore("no invoice status") }
        switch status {
        case .cancelled: return .ignore("cancelled")
        case .open:
            var missing: [String] = []
            if (d.paymentMethod ?? "").isEmpty { missing.append("payment_method") }
            if (d.paymentTerms ?? "").isEmpty { missing.append("payment_terms") }
            return missing.isEmpty ? .create : .missing(missing)
        case .provisional, .invoice, .reminder, .dunning1, .dunning2, .dunning3: return .ask
        }
    }

    /// The statuses a run asks the ERP about: the pending ones of the e-mail overview.
    public static let pending: [InvoiceStatus] = [.provisional, .invoice, .reminder, .dunning1, .dunning2, .dunning3]

    /// `amount` split into `count` parts that add up to it exactly: equal parts, the cents
    /// that do not divide going one each to the first parts (100.00 in 3: 33.34, 33.33, 33.33).
    public static func installments(_ amount: Int64, count: Int) -> [Int64] {
        let n = Int64(max(count, 1))
        let base = amount / n, rest = amount - base * n
        return (0..<n).map { i in base + (rest >= 0 ? (i < rest ? 1 : 0) : (i < -rest ? -1 : 0)) }
    }

    /// The external document number that identifies one installment of a document in the ERP
    /// (`WAW1-I17/2`, installment 2), the key a lost creation reply is found again by. Business
    /// Central allows 35 characters; a longer document id is shortened to a stable hash.
    public static func externalNumber(document id: String, installment: Int) -> String {
        let plain = "\(id)/\(installment)"
        if plain.utf8.count <= 35 { return plain }
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in id.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return "POS-\(String(h, radix: 16, uppercase: true))/\(installment)"
    }

    /// Why a salesperson code cannot be one (several lines, a phone number, text around a
    /// code), or nil. Whether the ERP knows the code is asked separately: only an exact match
    /// counts.
    public static func salespersonProblem(_ code: String) -> String? {
        if code.contains(where: { $0.isNewline }) { return "has several lines: enter only the ERP's salesperson code" }
        if code != code.trimmingCharacters(in: .whitespaces) { return "has spaces around it: enter only the ERP's salesperson code" }
        if code.filter(\.isNumber).count >= 6 { return "looks like it holds a phone number: enter only the ERP's salesperson code" }
        return nil
    }

    /// An invoice as the ERP reports it.
    public struct ERPState: Sendable, Hashable {
        public enum Stage: String, Sendable { case draft, posted, paid, cancelled }
        public var stage: Stage
        /// 0 none, 1 payment reminder, 2–4 dunning 1–3.
        public var reminderLevel: Int
        public init(stage: Stage, reminderLevel: Int = 0) { self.stage = stage; self.reminderLevel = reminderLevel }
    }

    /// The document's invoice and payment status from the states of its invoices (one per
    /// installment): cancelled when all are cancelled, provisional while any is a draft, else
    /// posted at the highest reminder level the ERP reached; paid when all are paid (the level
    /// stays as it was, so a store sees that a dunned invoice was paid).
    public static func status(of parts: [ERPState]) -> (InvoiceStatus, PaymentStatus) {
        let live = parts.filter { $0.stage != .cancelled }
        if live.isEmpty { return (.cancelled, .unpaid) }
        if live.contains(where: { $0.stage == .draft }) { return (.provisional, .unpaid) }
        let payment: PaymentStatus = live.allSatisfy { $0.stage == .paid } ? .paid : .unpaid
        switch live.map(\.reminderLevel).max() ?? 0 {
        case ...0: return (.invoice, payment)
        case 1: return (.reminder, payment)
        case 2: return (.dunning1, payment)
        case 3: return (.dunning2, payment)
        default: return (.dunning3, payment)
        }
    }
}
