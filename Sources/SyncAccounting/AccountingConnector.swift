import Foundation
import Logging
import SyncHub
import SyncModel
import SyncStore

/// What one run did: its counts, the invoices it created, its errors (`poshub erp run --json`).
public struct AccountingRunReport: Sendable, Codable {
    enum CodingKeys: String, CodingKey {
        case runID = "run_id", job, trigger, slot, outcome, documents, created, updated, ignored
        case actionableErrors = "actionable_errors", systemErrors = "system_errors", requests, throttled
        case mailsSent = "mails_sent", mailErrors = "mail_errors", seconds, articles, createdInvoices = "created_invoices"
    }
    public struct SystemErrorEntry: Sendable, Codable, Hashable {
        public var code: Int
        public var message: String
        public var detail: String
    }
    public struct CreatedInvoice: Sendable, Codable, Hashable {
        enum CodingKeys: String, CodingKey {
            case document, customer, installment, installments, number, amountMinor = "amount_minor", currency, foundAgain = "found_again"
        }
        public var document: String
        public var customer: String
        public var installment: Int
        public var installments: Int
        public var number: String
        public var amountMinor: Int64
        public var currency: String
        /// The reply of its creation was lost; it was found by its external document number.
        public var foundAgain: Bool
    }

    public var runID: Int64 = 0
    public var job: AccountingJob
    public var trigger: String
    public var slot: String?
    /// `completed`, `actionable` or `system-error`.
    public var outcome: String = "completed"
    /// Documents with an invoice status looked at.
    public var documents = 0
    /// Documents whose provisional invoices were created.
    public var created = 0
    /// Documents whose status or numbers the ERP's answer changed.
    public var updated = 0
    public var ignored = 0
    public var actionableErrors: [AccountingIssue] = []
    public var systemErrors: [SystemErrorEntry] = []
    public var requests = 0
    public var throttled = 0
    public var mailsSent = 0
    public var mailErrors: [String] = []
    public var seconds = 0.0
    /// Article codes read (article runs).
    public var articles: Int?
    public var createdInvoices: [CreatedInvoice] = []

    /// `erp run`'s exit code: 0 completed, 3 completed with actionable errors, 1 a system error.
    public var exitCode: Int32 { outcome == "system-error" ? 1 : outcome == "actionable" ? 3 : 0 }
}

/// The accounting connector (docs/accounting.md): turns the chain's `open` documents into
/// provisional invoices in the ERP, brings the ERP's status and numbers back to the
/// documents (and through the feed to every store), and mails what happened.
public struct AccountingConnector: Sendable {
    public let hub: HubStore
    public let config: AccountingConfig
    public let erp: any ERPAdapter
    public let mailer: SMTPMailer?
    public var logger: Logger = {
        var l = Logger(label: "poshub.erp")
        l.logLevel = .warning
        return l
    }()
    /// Who holds a run's lease (host and process).
    public var holder = "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier):\(UUID().uuidString.prefix(8))"
    /// Answers written per transaction.
    public var answerBatch = 200

    public init(hub: HubStore, config: AccountingConfig, erp: any ERPAdapter, mailer: SMTPMailer?) {
        self.hub = hub; self.config = config; self.erp = erp; self.mailer = mailer
    }

    /// The connector of hub `hub` as configured (`poshub erp configure`), its password opened
    /// with the key in `keyPath` (beside a SQLite store, `PasswordSeal.keyPath`, by default).
    public static func configured(hub: HubStore, keyPath: String, requestsPer5Minutes: Int = 6000) throws -> AccountingConnector {
        guard let config = try hub.accountingConfig() else {
            throw ERPSystemError(.configuration, "the accounting connector is not configured: run poshub erp configure")
        }
        let password = try PasswordSeal.open(config.passwordSealed, keyPath: keyPath)
        let erp = BusinessCentralAdapter(baseURL: config.baseURL, company: config.company, user: config.user, password: password,
                                         requestsPer5Minutes: requestsPer5Minutes)
        return AccountingConnector(hub: hub, config: config, erp: erp, mailer: try SMTPMailer(config.smtp))
    }

    // MARK: Runs

    /// One run of `job`. `slot`: the schedule's moment it serves (nil: by hand). A run that
    /// cannot start (another is in progress, the moment was served) throws
    /// `HubStore.RunRefusal`; everything else ends in the report.
    public func run(_ job: AccountingJob, trigger: String = "manual", slot: Date? = nil, now: Date = Date()) async throws -> AccountingRunReport {
        let started = Date()
        let id = try hub.beginAccountingRun(job: job, slot: slot, trigger: trigger, holder: holder, now: now)
        var report = AccountingRunReport(job: job, trigger: trigger, slot: slot.map { $0.formatted(.iso8601) })
        report.runID = id
        let before = await erp.counters()
        // The lease is renewed every minute while the run goes on (its requests may wait out 429s).
        let heartbeat = Task { [hub, holder] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(60))
                if Task.isCancelled { break }
                _ = try? hub.renewAccountingLease(job: job, holder: holder)
            }
        }
        defer { heartbeat.cancel() }
        do {
            switch job {
            case .invoices: try await invoiceRun(&report, now: now)
            case .articles: report.articles = try await readArticles()
            }
        } catch let e as ERPSystemError {
            report.systemErrors.append(.init(code: e.code.rawValue, message: e.message, detail: e.detail))
        } catch {
            report.systemErrors.append(.init(code: ERPSystemError.Code.store.rawValue, message: "the hub's store failed", detail: "\(error)"))
        }
        let after = await erp.counters()
        report.requests = after.requests - before.requests
        report.throttled = after.throttled - before.throttled
        report.outcome = !report.systemErrors.isEmpty ? "system-error" : !report.actionableErrors.isEmpty ? "actionable" : "completed"
        await sendMails(&report)
        report.seconds = Date().timeIntervalSince(started)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        var stored = report
        stored.createdInvoices = []
        try hub.finishAccountingRun(id: id, job: job, outcome: report.outcome,
                                    summary: String(decoding: try encoder.encode(stored), as: UTF8.self), holder: holder)
        logger.notice("erp run \(id) (\(job.rawValue), \(trigger)): \(report.outcome), created \(report.created), updated \(report.updated), actionable \(report.actionableErrors.count), system \(report.systemErrors.count)")
        return report
    }

    /// Reads the ERP's article codes into the hub. Returns how many.
    func readArticles() async throws -> Int {
        let items = try await erp.items()
        try hub.replaceArticleCodes(items.map { ($0.code, $0.name) })
        return items.count
    }

    /// The lists a run checks documents against, read once per run.
    struct Lists {
        var salespeople: Set<String>
        var terms: [String: String]
        var methods: [String: String]
        var articles: Set<String>
        var articleOfOffer: [String: String]
    }

    func invoiceRun(_ report: inout AccountingRunReport, now: Date) async throws {
        var (articles, readAt) = try hub.articleCodes()
        if readAt == nil { _ = try await readArticles(); articles = try hub.articleCodes().codes }
        let lists = Lists(salespeople: Set(try await erp.salespeople().map(\.code)),
                          terms: Dictionary(try await erp.paymentTerms().map { ($0.code, $0.id) }, uniquingKeysWith: { a, _ in a }),
                          methods: Dictionary(try await erp.paymentMethods().map { ($0.code, $0.id) }, uniquingKeysWith: { a, _ in a }),
                          articles: articles,
                          articleOfOffer: Dictionary(try hub.offers().compactMap { o in o.articleCode.map { (o.code, $0) } }, uniquingKeysWith: { a, _ in a }))
        var debtors: [String: ERPCustomer] = [:]
        var answers: [ERPAnswer] = []
        func answer(_ d: Document, _ fields: Fields) -> ERPAnswer {
            ERPAnswer(document: d.id, fields: fields, readInvoiceStatus: d.invoiceStatus?.rawValue, readPaymentStatus: d.paymentStatus?.rawValue)
        }
        // The invoices' ids and numbers, written with the answers: the attempt, written before
        // each creation, is what keeps an invoice from being created twice.
        var notes: [InvoiceNote] = []
        var complete = false
        do {
            for d in try hub.invoicedDocuments() {
                report.documents += 1
                let action = InvoiceRules.action(for: d)
                switch action {
                case .ignore:
                    report.ignored += 1
                case .missing(let fields):
                    report.actionableErrors.append(issue(d, "missing-information",
                        "the document lacks \(fields.map { $0.replacingOccurrences(of: "_", with: " ") }.joined(separator: " and ")): an open invoice needs invoice status, payment method and payment terms",
                        fix: "set \(fields.joined(separator: " and ")) on the document (posnode document update --id \(d.id) ...), or clear its invoice status"))
                case .create, .ask:
                    do {
                        if action == .create {
                            if let fields = try await create(d, lists: lists, debtors: &debtors, notes: &notes, report: &report, now: now) {
                                answers.append(answer(d, fields)); report.created += 1
                            }
                        } else if let fields = try await ask(d, notes: &notes, report: &report) {
                            answers.append(answer(d, fields)); report.updated += 1
                        }
                    } catch let e as ERPSystemError where e.code == .refused {
                        // The ERP refused this document's request with its own error: the document
                        // needs a person; the run goes on with the others.
                        report.actionableErrors.append(issue(d, "erp-refused", "the ERP refused it: \(e.message) (\(e.detail))",
                                                             fix: "correct the document or its customer so that the ERP takes it (the ERP's message says what it needs), or clear the invoice status"))
                    }
                }
                if answers.count >= answerBatch { try hub.applyERPAnswers(answers, notes: notes); answers = []; notes = [] }
            }
            complete = true
        } catch {
            try? hub.applyERPAnswers(answers, notes: notes)
            if let open = try? hub.noteAccountingIssues(run: report.runID, report.actionableErrors, complete: false) {
                report.actionableErrors = Self.counted(report.actionableErrors, open: open)
            }
            throw error
        }
        try hub.applyERPAnswers(answers, notes: notes)
        let open = try hub.noteAccountingIssues(run: report.runID, report.actionableErrors, complete: complete)
        report.actionableErrors = Self.counted(report.actionableErrors, open: open)
    }

    /// The run's errors as the hub keeps them: with how often and since which run each was met.
    static func counted(_ issues: [AccountingIssue], open: [AccountingIssue]) -> [AccountingIssue] {
        let byKey = Dictionary(open.map { ("\($0.document)|\($0.kind)", $0) }, uniquingKeysWith: { a, _ in a })
        return issues.map { byKey["\($0.document)|\($0.kind)"] ?? $0 }
    }

    func issue(_ d: Document, _ kind: String, _ message: String, fix: String, invoice: String? = nil) -> AccountingIssue {
        AccountingIssue(document: d.id, kind: kind, customer: d.partnerCode, invoice: invoice ?? d.referenceNumbers, message: message, fix: fix)
    }

    // MARK: Creating

    /// Creates the provisional invoice(s) of an `open` document; returns the fields to write
    /// (status provisional, the numbers), or nil when an actionable error stopped it.
    func create(_ d: Document, lists: Lists, debtors: inout [String: ERPCustomer], notes: inout [InvoiceNote], report: inout AccountingRunReport,
                now: Date) async throws -> Fields? {
        var problems: [AccountingIssue] = []
        let method = d.paymentMethod ?? "", terms = d.paymentTerms ?? ""
        if lists.methods[method] == nil {
            problems.append(issue(d, "unknown-payment-method", "payment method '\(method)' is not one the ERP has (\(lists.methods.keys.sorted().joined(separator: ", ")))",
                                  fix: "set one of the ERP's payment methods on the document"))
        }
        if lists.terms[terms] == nil {
            problems.append(issue(d, "unknown-payment-terms", "payment terms '\(terms)' are not ones the ERP has (\(lists.terms.keys.sorted().joined(separator: ", ")))",
                                  fix: "set one of the ERP's payment terms on the document"))
        }
        if let s = d.salesperson {
            if let why = InvoiceRules.salespersonProblem(s) {
                problems.append(issue(d, "unknown-salesperson", "salesperson '\(s)' \(why)", fix: "enter exactly the ERP's salesperson code, nothing else"))
            } else if !lists.salespeople.contains(s) {
                problems.append(issue(d, "unknown-salesperson", "salesperson '\(s)' is not a salesperson code in the ERP",
                                      fix: "enter exactly the ERP's salesperson code (its second column), or remove the salesperson"))
            }
        }
        let articles = d.lines.map { lists.articleOfOffer[$0.offer] ?? $0.offer }
        let unknown = Array(Set(articles.filter { !lists.articles.contains($0) })).sorted()
        if !unknown.isEmpty {
            problems.append(issue(d, "unknown-article", "article code\(unknown.count == 1 ? "" : "s") \(unknown.joined(separator: ", ")) \(unknown.count == 1 ? "is" : "are") not an item in the ERP",
                                  fix: "give the offer the ERP's article code (poshub offer update --code OFFER --article-code CODE), or create the item in the ERP; the ERP's items are read daily"))
        }
        guard let partner = try hub.partner(code: d.partnerCode), !partner.deleted else {
            report.actionableErrors.append(issue(d, "missing-information", "the document has no customer the hub knows (\(d.partnerCode.isEmpty ? "no customer" : d.partnerCode))",
                                                 fix: "an invoice needs a customer; clear the invoice status of this document"))
            return nil
        }
        let billSeq = d.billToSeq ?? d.addressSeq
        let address = try hub.address(partner: d.partnerCode, site: d.site, seq: billSeq)
        if address == nil, d.billToSeq != nil {
            problems.append(issue(d, "bill-to-address", "bill-to address \(billSeq) of customer \(d.partnerCode) at \(d.site) does not exist",
                                  fix: "choose another address of the customer, or remove the deviating bill-to address"))
        }
        guard problems.isEmpty else { report.actionableErrors += problems; return nil }

        // The debtor: found by its number, else checked for duplicates, else created.
        var debtor: ERPCustomer
        if let known = debtors[d.partnerCode] {
            debtor = known
        } else if let found = try await erp.customer(number: d.partnerCode) {
            debtor = found
        } else {
            let home = try hub.address(partner: d.partnerCode, site: d.site, seq: d.addressSeq) ?? address
            let duplicates = try await erp.duplicateCandidates(name: partner.displayName, postalCode: home?.postalCode, taxRegistrationNumber: partner.vatID)
            if !duplicates.isEmpty {
                let list = duplicates.map { "\($0.number) (\($0.displayName)\($0.taxRegistrationNumber.map { ", VAT ID \($0)" } ?? ""))" }.joined(separator: ", ")
                report.actionableErrors.append(issue(d, "duplicate-debtor",
                    "customer \(d.partnerCode) (\(partner.displayName)) is not in the ERP under its number, but the duplicate check found \(list) with the same \(partner.vatID != nil && duplicates.contains { $0.taxRegistrationNumber == partner.vatID } ? "VAT ID" : "name and postal code")",
                    fix: "in the ERP, give the existing debtor the number \(d.partnerCode) if it is the same customer, or correct the customer's data in the chain if it is not"))
                return nil
            }
            try requireLease()
            debtor = try await erp.createCustomer(ERPCustomerDraft(
                number: d.partnerCode, displayName: partner.displayName, taxRegistrationNumber: partner.vatID, email: partner.email,
                phone: partner.phone, street: home?.street, city: home?.city, postalCode: home?.postalCode, country: home?.country ?? partner.country,
                currency: d.currency, paymentMethodId: lists.methods[method]))
        }
        if debtor.paymentMethodId == nil, let methodID = lists.methods[method] {
            try await erp.setPaymentMethod(id: methodID, of: debtor)
            debtor.paymentMethodId = methodID
        }
        debtors[d.partnerCode] = debtor

        // The invoices, one per installment; each found again before it is created again.
        let count = max(d.installments ?? 1, 1)
        let amounts = InvoiceRules.installments(d.amountMinor, count: count)
        var known = Dictionary(try hub.invoiceParts(document: d.id).map { ($0.installment, $0) }, uniquingKeysWith: { a, _ in a })
        var numbers: [String] = []
        let day = Self.day(now, zone: config.timeZone)
        for i in 1...count {
            let ext = InvoiceRules.externalNumber(document: d.id, installment: i)
            if let part = known[i], let number = part.number, part.invoiceID != nil { numbers.append(number); continue }
            if known[i] != nil, let found = try await erp.invoice(externalNumber: ext) {
                notes.append(InvoiceNote(externalNumber: ext, id: found.id, number: found.number))
                report.createdInvoices.append(.init(document: d.id, customer: d.partnerCode, installment: i, installments: count,
                                                    number: found.number, amountMinor: amounts[i - 1], currency: d.currency, foundAgain: true))
                numbers.append(found.number); continue
            }
            let part = InvoicePart(document: d.id, installment: i, externalNumber: ext)
            try hub.noteInvoiceAttempt(part, run: report.runID)
            known[i] = part
            let draft = ERPInvoiceDraft(
                customerNumber: debtor.number, externalNumber: ext, invoiceDate: day, salesperson: d.salesperson,
                paymentTermsId: lists.terms[terms], currency: d.currency,
                billTo: d.billToSeq == nil ? nil : address.map { (partner.displayName, $0.street, $0.city, $0.postalCode, $0.country) },
                lines: lines(d, articles: articles, installment: i, of: count, amount: amounts[i - 1]))
            var created: ERPInvoice
            var foundAgain = false
            do {
                try requireLease()
                created = try await erp.createInvoice(draft)
            } catch let e as ERPSystemError where e.code == .replyLost || e.code == .serverError {
                // The ERP may have created it: look before anything is created again.
                guard let found = try await erp.invoice(externalNumber: ext) else {
                    throw ERPSystemError(.replyLost, "invoice \(ext) of document \(d.id) was asked for and its answer lost; not found in the ERP, asked again at the next run", detail: e.detail)
                }
                created = found; foundAgain = true
            }
            notes.append(InvoiceNote(externalNumber: ext, id: created.id, number: created.number))
            report.createdInvoices.append(.init(document: d.id, customer: d.partnerCode, installment: i, installments: count,
                                                number: created.number, amountMinor: amounts[i - 1], currency: d.currency, foundAgain: foundAgain))
            numbers.append(created.number)
        }
        return ["invoice_status": .text(InvoiceStatus.provisional.rawValue), "reference_numbers": .text(numbers.joined(separator: ";")),
                "payment_status": .text(PaymentStatus.unpaid.rawValue)]
    }

    /// Throws unless this run still holds its lease: nothing is created in the ERP by a run that
    /// another may have taken over.
    func requireLease() throws {
        guard try hub.holdsAccountingLease(job: .invoices, holder: holder) else {
            throw ERPSystemError(.store, "the run's lease passed to another run while it ran: stopped before creating anything, so that two runs do not overlap")
        }
    }

    /// The invoice lines of installment `i` of `count`: the document's lines (article,
    /// quantity, price, discount) for a single invoice; one line on the revenue account for an
    /// installment or a document without lines.
    func lines(_ d: Document, articles: [String], installment i: Int, of count: Int, amount: Int64) -> [ERPInvoiceLine] {
        if count == 1, !d.lines.isEmpty {
            return zip(d.lines, articles).map { line, article in
                ERPInvoiceLine(lineType: "Item", objectNumber: article, description: line.offer, quantity: line.quantity,
                               unitPriceMinor: line.unitPrice, discountMinor: line.discount)
            }
        }
        let text = count == 1 ? "Document \(d.id)" : "Installment \(i) of \(count), document \(d.id)"
        return [ERPInvoiceLine(lineType: "Account", objectNumber: config.revenueAccount, description: text, quantity: 1,
                               unitPriceMinor: amount, discountMinor: 0)]
    }

    static func day(_ date: Date, zone: String) -> String {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: zone) ?? .gmt
        let d = c.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", d.year ?? 0, d.month ?? 0, d.day ?? 0)
    }

    // MARK: Asking

    /// Asks the ERP about a pending document's invoices; returns the fields that changed, or
    /// nil (nothing changed, or an actionable error).
    func ask(_ d: Document, notes: inout [InvoiceNote], report: inout AccountingRunReport) async throws -> Fields? {
        var parts = try hub.invoiceParts(document: d.id).filter { $0.invoiceID != nil }
        if parts.isEmpty {
            // Numbers entered in the chain (the connector did not create them): found by number.
            let given = (d.referenceNumbers ?? "").split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard !given.isEmpty else {
                report.actionableErrors.append(issue(d, "unknown-reference", "the document is \(d.invoiceStatus?.rawValue ?? "") but has no reference number the ERP could be asked about",
                                                     fix: "enter the ERP's invoice number(s), set the status to open to have the invoice created, or clear the invoice status"))
                return nil
            }
            parts = given.enumerated().map { InvoicePart(document: d.id, installment: $0.offset + 1, externalNumber: "", invoiceID: nil, number: $0.element) }
        }
        var states: [InvoiceRules.ERPState] = [], numbers: [String] = [], booking: [String] = []
        for part in parts {
            var invoice: ERPInvoice? = nil
            if let id = part.invoiceID { invoice = try await erp.invoice(id: id) }
            if invoice == nil, let number = part.number { invoice = try await erp.invoice(number: number) }
            // An ERP that gives a posted invoice a new id and number still has its external number.
            if invoice == nil, !part.externalNumber.isEmpty { invoice = try await erp.invoice(externalNumber: part.externalNumber) }
            guard let found = invoice else {
                report.actionableErrors.append(issue(d, "unknown-reference", "invoice \(part.number ?? part.externalNumber) of the document does not exist in the ERP",
                                                     fix: "check the reference number in the ERP and correct it on the document, or clear the invoice status",
                                                     invoice: part.number))
                return nil
            }
            if !part.externalNumber.isEmpty, found.number != part.number {
                notes.append(InvoiceNote(externalNumber: part.externalNumber, id: found.id, number: found.number))
            }
            let stage = InvoiceRules.ERPState.Stage(rawValue: found.stage.rawValue) ?? .draft
            let level = stage == .posted || stage == .paid ? try await erp.reminderLevel(invoiceNumber: found.number) : 0
            states.append(.init(stage: stage, reminderLevel: level))
            numbers.append(found.number)
            if let date = found.postingDate, stage != .draft { booking.append("\(found.number) posted \(date)") }
        }
        let (status, payment) = InvoiceRules.status(of: states)
        var fields: Fields = [:]
        if d.invoiceStatus != status { fields["invoice_status"] = .text(status.rawValue) }
        if d.paymentStatus != payment { fields["payment_status"] = .text(payment.rawValue) }
        let refs = numbers.joined(separator: ";")
        if d.referenceNumbers != refs { fields["reference_numbers"] = .text(refs) }
        let book = booking.isEmpty ? nil : booking.joined(separator: "; ")
        if d.booking != book { fields["booking"] = book.map { .text($0) } ?? .null }
        return fields.isEmpty ? nil : fields
    }
}
