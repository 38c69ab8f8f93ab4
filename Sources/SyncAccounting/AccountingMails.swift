import Foundation
import SyncHub
import SyncModel

/// The mails after a run (docs/accounting.md, "E-mail"): the provisional invoices created,
/// the overview of pending statuses, one mail per error a person must fix (again at every run
/// until it is fixed), one per system error with its three-digit code.
extension AccountingConnector {
    /// The mails of a run, in the order they are sent: (kind, subject, body).
    public func mails(for report: AccountingRunReport) throws -> [(kind: String, subject: String, body: String)] {
        var out: [(String, String, String)] = []
        let prefix = "[POS accounting]"
        var names: [String: String] = [:]
        func customer(_ code: String) -> String {
            if names[code] == nil { names[code] = ((try? hub.partner(code: code)) ?? nil)?.displayName ?? "" }
            return names[code]!.isEmpty ? code : "\(code) \(names[code]!)"
        }
        if report.job == .invoices, !report.createdInvoices.isEmpty {
            let rows = report.createdInvoices.map { c in
                [c.document, customer(c.customer), c.installments > 1 ? "\(c.installment)/\(c.installments)" : "-", c.number,
                 Self.money(c.amountMinor, c.currency), c.foundAgain ? "found again after a lost reply" : ""]
            }
            out.append(("created", "\(prefix) \(report.createdInvoices.count) provisional invoice\(report.createdInvoices.count == 1 ? "" : "s") created",
                        "Run \(report.runID) created these provisional invoices in the ERP. They wait to be posted by accounting.\n\n"
                        + Self.table(["Document", "Customer", "Installment", "Invoice", "Amount", "Note"], rows)))
        }
        if report.job == .invoices, report.systemErrors.isEmpty || report.documents > 0 {
            let pending = try hub.invoicedDocuments().filter { d in
                d.paymentStatus != .paid && d.invoiceStatus.map { InvoiceRules.pending.contains($0) } == true
            }
            if !pending.isEmpty {
                let rows = pending.map { d in
                    [d.id, customer(d.partnerCode), d.invoiceStatus?.rawValue ?? "", d.referenceNumbers ?? "", Self.money(d.amountMinor, d.currency),
                     d.paymentStatus?.rawValue ?? ""]
                }
                let counts = Dictionary(grouping: pending, by: { $0.invoiceStatus?.rawValue ?? "" })
                    .sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.count)" }.joined(separator: ", ")
                out.append(("pending", "\(prefix) Pending invoices: \(pending.count) (\(counts))",
                            "Invoices the ERP is asked about at every run, after run \(report.runID):\n\n"
                            + Self.table(["Document", "Customer", "Status", "Reference numbers", "Amount", "Payment"], rows)))
            }
        }
        for i in report.actionableErrors {
            out.append(("action", "\(prefix) Action needed: document \(i.document) (\(i.kind))",
                        """
                        A document needs a person before it can be invoiced or followed up.

                        Document:  \(i.document)
                        Customer:  \(customer(i.customer))
                        Invoice:   \(i.invoice ?? "-")
                        Problem:   \(i.message)
                        To fix it: \(i.fix)

                        This message is sent again at every run until it is fixed (met \(i.times) time\(i.times == 1 ? "" : "s") since run \(i.firstRun)).
                        To stop it for a document that is not to be invoiced, clear its invoice status:
                        poshub document update --db HUB --id \(i.document) --clear invoice-status
                        """))
        }
        for e in report.systemErrors {
            out.append(("system", "\(prefix) System error \(e.code): \(e.message)",
                        """
                        The accounting connector's run \(report.runID) (\(report.job.rawValue)) stopped on a technical problem.
                        This is for the IT team (ERP and hub); it needs no action by the stores.

                        Error code: \(e.code)
                        Message:    \(e.message)
                        Detail:     \(e.detail)

                        The next run tries again; an invoice whose creation was asked for is looked up by its
                        external document number before it is created again.
                        """))
        }
        return out
    }

    /// Sends the run's mails; a mail the server refuses is recorded in the report and the
    /// hub, not retried (the next run sends its own).
    func sendMails(_ report: inout AccountingRunReport) async {
        guard let mailer else { return }
        let mails: [(kind: String, subject: String, body: String)]
        do { mails = try self.mails(for: report) } catch {
            report.mailErrors.append("cannot compose the mails: \(error)"); return
        }
        for m in mails {
            var failure: String? = nil
            do {
                try await mailer.send(MailMessage(from: config.mailFrom, to: config.mailTo, subject: m.subject, body: m.body))
                report.mailsSent += 1
            } catch {
                failure = "\(error)"
                report.mailErrors.append("system error \(ERPSystemError.Code.mail.rawValue): \(m.subject): \(error)")
            }
            try? hub.noteAccountingMail(run: report.runID, kind: m.kind, subject: m.subject, recipients: config.mailTo, error: failure)
        }
    }

    static func money(_ minor: Int64, _ currency: String) -> String {
        let sign = minor < 0 ? "-" : ""
        let v = abs(minor)
        return "\(sign)\(v / 100).\(String(format: "%02d", Int(v % 100))) \(currency)"
    }

    /// A plain-text table with aligned columns.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { c in all.map { $0[c].count }.max() ?? 0 }
        func line(_ r: [String]) -> String {
            r.indices.map { $0 == r.count - 1 ? r[$0] : r[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        return ([line(header), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")] + rows.map(line)).joined(separator: "\n") + "\n"
    }
}
