import ArgumentParser
import SyncModel

/// The invoicing fields of an invoice, receivable or order (docs/rules.md, "Invoicing"), as
/// options of `posnode document add|update` and `poshub document update`.
public struct InvoicingOptions: ParsableArguments {
    public init() {}
    @Option(help: ArgumentHelp("Invoice status: \(InvoiceStatus.list) (open: invoice it at the next run).", valueName: "status"))
    var invoiceStatus: String?
    @Option(help: "Payment method, as the accounting ERP names it.") var paymentMethod: String?
    @Option(help: "Payment terms, as the accounting ERP names them.") var paymentTerms: String?
    @Option(help: "Invoice in this many installments (1-120).") var installments: Int?
    @Option(help: "The ERP's salesperson code, exactly (no phone number, one line).") var salesperson: String?
    @Option(help: "A deviating bill-to address: another address number of the customer at this site.") var billToSeq: Int?
    @Option(help: "Payment status: unpaid or paid (paid: the connector leaves the document alone).") var paymentStatus: String?

    /// The option names `--clear` takes, and their columns.
    public static let clearable: [(name: String, column: String)] = [
        ("invoice-status", "invoice_status"), ("payment-method", "payment_method"), ("payment-terms", "payment_terms"),
        ("installments", "installments"), ("salesperson", "salesperson"), ("bill-to-seq", "bill_to_seq"), ("payment-status", "payment_status"),
    ]
    public static var names: [String] { clearable.map(\.name) }

    /// The fields given, and nulls for the ones `clearing` names (by option or column name).
    public func fields(clearing: [String]) throws -> Fields {
        var f = Document.invoicingFields(invoiceStatus: invoiceStatus, paymentMethod: paymentMethod, paymentTerms: paymentTerms,
                                         installments: installments, salesperson: salesperson, billToSeq: billToSeq, paymentStatus: paymentStatus)
        for name in clearing {
            guard let entry = Self.clearable.first(where: { $0.name == name || $0.column == name }) else {
                throw FieldError(field: "clear", reason: "'\(name)' is not an invoicing field (\(Self.names.joined(separator: ", ")))")
            }
            guard f[entry.column] == nil else { throw FieldError(field: entry.column, reason: "is both given and cleared") }
            f[entry.column] = .null
        }
        return f
    }
}
