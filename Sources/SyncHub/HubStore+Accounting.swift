import Foundation
import GRDB
import SyncModel
import SyncStore

/// How the hub reaches the accounting ERP and whom it mails (`poshub erp configure`). The
/// password is kept sealed (`passwordSealed`): the key is in a file beside the hub's
/// database, not in it (docs/security.md, "The ERP password").
public struct AccountingConfig: Sendable, Hashable, Codable {
    enum CodingKeys: String, CodingKey {
        case baseURL = "base_url", company, user, timeZone = "time_zone", schedule, articleSchedule = "article_schedule"
        case smtp, mailFrom = "mail_from", mailTo = "mail_to", revenueAccount = "revenue_account", updatedAt = "updated_at"
    }
    public var baseURL: String
    public var company: String
    public var user: String
    public var passwordSealed: Data = Data()
    public var timeZone: String
    public var schedule: String
    public var articleSchedule: String
    /// `host:port` of the SMTP server.
    public var smtp: String
    public var mailFrom: String
    public var mailTo: [String]
    /// The ERP's G/L account an installment or a document without lines is invoiced to.
    public var revenueAccount: String
    public var updatedAt: String = ""

    public static let defaultSchedule = "Mon-Fri 08:00,10:00,12:00,15:00,19:00"
    public static let defaultArticleSchedule = "daily 12:00"
    public static let defaultTimeZone = "Europe/Zurich"

    public init(baseURL: String, company: String, user: String, timeZone: String = Self.defaultTimeZone,
                schedule: String = Self.defaultSchedule, articleSchedule: String = Self.defaultArticleSchedule,
                smtp: String, mailFrom: String, mailTo: [String], revenueAccount: String = "6000") {
        self.baseURL = baseURL; self.company = company; self.user = user; self.timeZone = timeZone
        self.schedule = schedule; self.articleSchedule = articleSchedule; self.smtp = smtp
        self.mailFrom = mailFrom; self.mailTo = mailTo; self.revenueAccount = revenueAccount
    }

    public var invoiceSchedule: RunSchedule { get throws { try RunSchedule(schedule, timeZone: timeZone, field: "schedule") } }
    public var articleRunSchedule: RunSchedule { get throws { try RunSchedule(articleSchedule, timeZone: timeZone, field: "article_schedule") } }
}

/// The two jobs of the connector.
public enum AccountingJob: String, Sendable, Codable, CaseIterable {
    /// Invoices: create the provisional ones, ask the ERP about the pending ones, mail.
    case invoices
    /// Article codes: read the ERP's items.
    case articles
}

/// One run of the connector as the hub keeps it.
public struct AccountingRunRecord: Sendable, Hashable, Codable {
    enum CodingKeys: String, CodingKey {
        case id, job, slot, trigger, startedAt = "started_at", finishedAt = "finished_at", outcome, summary
    }
    public var id: Int64
    public var job: AccountingJob
    /// The schedule's moment it served (nil: run by hand).
    public var slot: String?
    /// `schedule`, `missed` (a moment passed while the hub was down) or `manual`.
    public var trigger: String
    public var startedAt: String
    public var finishedAt: String?
    /// `running`, `completed`, `actionable` (completed with errors a person must fix) or
    /// `system-error`.
    public var outcome: String
    /// The run's counts and system errors, as JSON.
    public var summary: String?
}

/// An error a person must fix, kept open and mailed at every run until a run no longer meets it.
public struct AccountingIssue: Sendable, Hashable, Codable {
    enum CodingKeys: String, CodingKey {
        case document, kind, customer, invoice, message, fix, firstRun = "first_run", lastRun = "last_run", times
    }
    public var document: String
    /// `missing-information`, `duplicate-debtor`, `unknown-salesperson`, `unknown-article`,
    /// `unknown-reference`, `unknown-payment-method`, `unknown-payment-terms`, `bill-to-address`.
    public var kind: String
    public var customer: String
    /// The invoice numbers concerned, if any.
    public var invoice: String?
    public var message: String
    /// How to fix it.
    public var fix: String
    public var firstRun: Int64 = 0
    public var lastRun: Int64 = 0
    /// In how many runs it was met.
    public var times: Int = 0

    public init(document: String, kind: String, customer: String, invoice: String? = nil, message: String, fix: String) {
        self.document = document; self.kind = kind; self.customer = customer; self.invoice = invoice
        self.message = message; self.fix = fix
    }
}

/// One invoice (one installment) of a document in the ERP, or its creation under way.
public struct InvoicePart: Sendable, Hashable, Codable {
    public var document: String
    public var installment: Int
    public var externalNumber: String
    /// nil: asked for, the reply not seen (find it by `externalNumber` before creating again).
    public var invoiceID: String?
    public var number: String?

    public init(document: String, installment: Int, externalNumber: String, invoiceID: String? = nil, number: String? = nil) {
        self.document = document; self.installment = installment; self.externalNumber = externalNumber
        self.invoiceID = invoiceID; self.number = number
    }
}

/// What the ERP answered for a document, and the statuses the run read it with.
public struct ERPAnswer: Sendable {
    public var document: String
    public var fields: Fields
    public var readInvoiceStatus: String?
    public var readPaymentStatus: String?
    public init(document: String, fields: Fields, readInvoiceStatus: String?, readPaymentStatus: String?) {
        self.document = document; self.fields = fields; self.readInvoiceStatus = readInvoiceStatus; self.readPaymentStatus = readPaymentStatus
    }
}

/// An invoice's id and number in the ERP, to record for its external number.
public struct InvoiceNote: Sendable, Hashable {
    public var externalNumber: String
    public var id: String
    public var number: String
    public init(externalNumber: String, id: String, number: String) { self.externalNumber = externalNumber; self.id = id; self.number = number }
}

/// The connector's state at the hub (docs/accounting.md): configuration, runs and the lease
/// that keeps two from overlapping, the invoices created per document, open errors, the ERP's
/// article codes, the mails sent.
extension HubStore {
    static func registerAccounting(_ m: inout DatabaseMigrator) {
        m.registerMigration("v20-hub-accounting") { db in
            try db.execute(sql: """
                CREATE TABLE erp_config (id INTEGER PRIMARY KEY CHECK (id = 1), config TEXT NOT NULL, password_sealed BLOB NOT NULL);
                CREATE TABLE erp_run (
                    id INTEGER PRIMARY KEY, job TEXT NOT NULL, slot TEXT, trigger TEXT NOT NULL,
                    started_at TEXT NOT NULL, finished_at TEXT, outcome TEXT NOT NULL, summary TEXT,
                    UNIQUE (job, slot)
                );
                CREATE TABLE erp_lease (job TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at REAL NOT NULL);
                CREATE TABLE erp_invoice (
                    external_number TEXT PRIMARY KEY, document_id TEXT NOT NULL, installment INTEGER NOT NULL,
                    invoice_id TEXT, number TEXT, attempted_at TEXT NOT NULL, run_id INTEGER NOT NULL
                );
                CREATE INDEX erp_invoice_document ON erp_invoice (document_id, installment);
                CREATE TABLE erp_issue (
                    document_id TEXT NOT NULL, kind TEXT NOT NULL, customer TEXT NOT NULL, invoice TEXT,
                    message TEXT NOT NULL, fix TEXT NOT NULL, first_run INTEGER NOT NULL, last_run INTEGER NOT NULL,
                    times INTEGER NOT NULL, resolved_run INTEGER,
                    PRIMARY KEY (document_id, kind)
                );
                CREATE TABLE erp_article (code TEXT PRIMARY KEY, description TEXT NOT NULL, read_at TEXT NOT NULL);
                CREATE TABLE erp_mail (
                    id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, kind TEXT NOT NULL, subject TEXT NOT NULL,
                    recipients TEXT NOT NULL, sent_at TEXT, error TEXT
                );
                """)
        }
    }

    /// ISO 8601 UTC to the second, as the audit writes its times (`AuditRecord.iso`).
    static func timestamp(_ date: Date = Date()) -> String { AuditRecord.iso(millis: UInt64(max(0, date.timeIntervalSince1970) * 1000)) }

    // MARK: Configuration

    public func accountingConfig() throws -> AccountingConfig? {
        try pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT config, password_sealed FROM erp_config WHERE id = 1") else { return nil }
            var config = try JSONDecoder().decode(AccountingConfig.self, from: Data((row["config"] as String).utf8))
            config.passwordSealed = row["password_sealed"]
            return config
        }
    }

    public func setAccountingConfig(_ config: AccountingConfig) throws {
        var c = config
        c.updatedAt = Self.timestamp()
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try encoder.encode(c), as: UTF8.self)
        try pool.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO erp_config (id, config, password_sealed) VALUES (1, ?, ?)",
                           arguments: [json, c.passwordSealed])
            try db.appendAudit(AuditRecord(node: Self.hubNode, kind: .config, entity: "erp", key: c.company,
                                           reason: "accounting connector configured: \(c.baseURL), user \(c.user), mail to \(c.mailTo.joined(separator: ", "))"))
        }
    }

    // MARK: Runs

    /// Why a run did not start.
    public enum RunRefusal: Error, CustomStringConvertible {
        /// Another run of the job holds the lease (in this process or another on the same store).
        case busy(holder: String)
        /// The schedule's moment was served already.
        case served(slot: String)
        public var description: String {
            switch self {
            case .busy(let h): return "another run is in progress (\(h))"
            case .served(let s): return "the run of \(s) has run already"
            }
        }
    }

    /// Starts a run of `job`: takes the job's lease for `leaseSeconds` (runs never overlap,
    /// also not across hub processes on one store) and records the run; a moment of the
    /// schedule (`slot`) is served once. `now`: the run's time (given for a replay of the
    /// schedule); the lease always counts in wall-clock time. Returns the run's id.
    public func beginAccountingRun(job: AccountingJob, slot: Date?, trigger: String, holder: String,
                                   leaseSeconds: Double = 900, now: Date = Date()) throws -> Int64 {
        let wall = Date().timeIntervalSince1970
        return try pool.write { db in
            if let row = try Row.fetchOne(db, sql: "SELECT holder, expires_at FROM erp_lease WHERE job = ?", arguments: [job.rawValue]),
               (row["expires_at"] as Double) > wall {
                throw RunRefusal.busy(holder: row["holder"])
            }
            let slotText = slot.map { Self.timestamp($0) }
            if let slotText, try Bool.fetchOne(db, sql: "SELECT 1 FROM erp_run WHERE job = ? AND slot = ?", arguments: [job.rawValue, slotText]) == true {
                throw RunRefusal.served(slot: slotText)
            }
            try db.execute(sql: "INSERT OR REPLACE INTO erp_lease (job, holder, expires_at) VALUES (?, ?, ?)",
                           arguments: [job.rawValue, holder, wall + leaseSeconds])
            try db.execute(sql: "INSERT INTO erp_run (job, slot, trigger, started_at, outcome) VALUES (?, ?, ?, ?, 'running')",
                           arguments: [job.rawValue, slotText, trigger, Self.timestamp(now)])
            return db.lastInsertedRowID
        }
    }

    /// Extends the lease `holder` holds on `job` by `leaseSeconds` from now, while a long run
    /// goes on. Returns false when the lease is not `holder`'s any more.
    @discardableResult
    public func renewAccountingLease(job: AccountingJob, holder: String, leaseSeconds: Double = 900) throws -> Bool {
        try pool.write { db in
            try db.execute(sql: "UPDATE erp_lease SET expires_at = ? WHERE job = ? AND holder = ?",
                           arguments: [Date().timeIntervalSince1970 + leaseSeconds, job.rawValue, holder])
            return db.changesCount > 0
        }
    }

    /// Ends run `id` with its outcome and summary, and frees the job's lease if `holder` still
    /// holds it (nil: whoever holds it).
    public func finishAccountingRun(id: Int64, job: AccountingJob, outcome: String, summary: String, holder: String? = nil, now: Date = Date()) throws {
        try pool.write { db in
            try db.execute(sql: "UPDATE erp_run SET finished_at = ?, outcome = ?, summary = ? WHERE id = ?",
                           arguments: [Self.timestamp(now), outcome, summary, id])
            try db.execute(sql: "DELETE FROM erp_lease WHERE job = ? AND (?2 IS NULL OR holder = ?2)", arguments: [job.rawValue, holder])
        }
    }

    /// Whether `holder` holds the lease of `job` now (checked before each creation in the ERP).
    public func holdsAccountingLease(job: AccountingJob, holder: String) throws -> Bool {
        try pool.read { db in
            try Bool.fetchOne(db, sql: "SELECT 1 FROM erp_lease WHERE job = ? AND holder = ? AND expires_at > ?",
                              arguments: [job.rawValue, holder, Date().timeIntervalSince1970]) == true
        }
    }

    /// The last runs, newest first.
    public func accountingRuns(job: AccountingJob? = nil, limit: Int = 20) throws -> [AccountingRunRecord] {
        try pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT id, job, slot, trigger, started_at, finished_at, outcome, summary FROM erp_run
                WHERE ?1 IS NULL OR job = ?1 ORDER BY id DESC LIMIT ?2
                """, arguments: [job?.rawValue, limit]).map { r in
                AccountingRunRecord(id: r["id"], job: AccountingJob(rawValue: r["job"]) ?? .invoices, slot: r["slot"], trigger: r["trigger"],
                                    startedAt: r["started_at"], finishedAt: r["finished_at"], outcome: r["outcome"], summary: r["summary"])
            }
        }
    }

    /// The latest moment of the schedule a run of `job` served (nil: none). A run by hand serves
    /// no moment: the schedule goes on as it is.
    public func lastServedSlot(job: AccountingJob) throws -> Date? {
        try pool.read { db in
            let text = try String.fetchOne(db, sql: "SELECT MAX(slot) FROM erp_run WHERE job = ?", arguments: [job.rawValue])
            return text.flatMap { try? Date($0, strategy: .iso8601) }
        }
    }

    // MARK: Invoices per document

    /// The invoices (installments) of `document` the connector created or began to create.
    public func invoiceParts(document: String) throws -> [InvoicePart] {
        try pool.read { db in try Self.invoiceParts(db, document: document) }
    }

    static func invoiceParts(_ db: Database, document: String) throws -> [InvoicePart] {
        try Row.fetchAll(db, sql: """
            SELECT external_number, installment, invoice_id, number FROM erp_invoice WHERE document_id = ? ORDER BY installment
            """, arguments: [document]).map {
            InvoicePart(document: document, installment: $0["installment"], externalNumber: $0["external_number"],
                        invoiceID: $0["invoice_id"], number: $0["number"])
        }
    }

    /// Notes, before the creation is asked for, that installment `part` of a document is being
    /// created: if the reply is lost, the next attempt looks for it first.
    public func noteInvoiceAttempt(_ part: InvoicePart, run: Int64) throws {
        try pool.write { db in
            try db.execute(sql: """
                INSERT INTO erp_invoice (external_number, document_id, installment, attempted_at, run_id) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (external_number) DO UPDATE SET attempted_at = excluded.attempted_at, run_id = excluded.run_id
                """, arguments: [part.externalNumber, part.document, part.installment, Self.timestamp(), run])
        }
    }

    /// Records the ERP's id and number of an invoice (created, found again, or renumbered by
    /// posting).
    public func noteInvoice(externalNumber: String, id: String, number: String) throws {
        try pool.write { db in
            try db.execute(sql: "UPDATE erp_invoice SET invoice_id = ?, number = ? WHERE external_number = ?",
                           arguments: [id, number, externalNumber])
        }
    }

    // MARK: Errors a person must fix

    /// Records the actionable errors `issues` a run met; with `complete` (the run looked at
    /// every document) the open errors it no longer met count as fixed. Returns the open errors,
    /// each with how often it was met.
    @discardableResult
    public func noteAccountingIssues(run: Int64, _ issues: [AccountingIssue], complete: Bool) throws -> [AccountingIssue] {
        try pool.write { db in
            for i in issues {
                try db.execute(sql: """
                    INSERT INTO erp_issue (document_id, kind, customer, invoice, message, fix, first_run, last_run, times, resolved_run)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, NULL)
                    ON CONFLICT (document_id, kind) DO UPDATE SET
                        customer = excluded.customer, invoice = excluded.invoice, message = excluded.message, fix = excluded.fix,
                        first_run = CASE WHEN erp_issue.resolved_run IS NULL THEN erp_issue.first_run ELSE excluded.first_run END,
                        times = CASE WHEN erp_issue.resolved_run IS NULL THEN erp_issue.times + 1 ELSE 1 END,
                        last_run = excluded.last_run, resolved_run = NULL
                    """, arguments: [i.document, i.kind, i.customer, i.invoice, i.message, i.fix, run, run])
            }
            if complete {
                try db.execute(sql: "UPDATE erp_issue SET resolved_run = ? WHERE resolved_run IS NULL AND last_run <> ?", arguments: [run, run])
            }
            return try Self.openIssues(db)
        }
    }

    /// The errors a person must fix that are still open, by document.
    public func openAccountingIssues() throws -> [AccountingIssue] { try pool.read { try Self.openIssues($0) } }

    static func openIssues(_ db: Database) throws -> [AccountingIssue] {
        try Row.fetchAll(db, sql: """
            SELECT document_id, kind, customer, invoice, message, fix, first_run, last_run, times FROM erp_issue
            WHERE resolved_run IS NULL ORDER BY document_id, kind
            """).map { r in
            var i = AccountingIssue(document: r["document_id"], kind: r["kind"], customer: r["customer"], invoice: r["invoice"],
                                    message: r["message"], fix: r["fix"])
            i.firstRun = r["first_run"]; i.lastRun = r["last_run"]; i.times = r["times"]
            return i
        }
    }

    // MARK: Article codes

    /// Replaces the ERP's article codes the hub knows by `items` (code, description).
    public func replaceArticleCodes(_ items: [(code: String, description: String)]) throws {
        let at = Self.timestamp()
        try pool.write { db in
            try db.execute(sql: "DELETE FROM erp_article")
            let stmt = try db.makeStatement(sql: "INSERT OR REPLACE INTO erp_article (code, description, read_at) VALUES (?, ?, ?)")
            for item in items { try stmt.execute(arguments: [item.code, item.description, at]) }
        }
    }

    /// The ERP's article codes as last read, and when (nil: never read).
    public func articleCodes() throws -> (codes: Set<String>, readAt: String?) {
        try pool.read { db in
            (Set(try String.fetchAll(db, sql: "SELECT code FROM erp_article")),
             try String.fetchOne(db, sql: "SELECT MAX(read_at) FROM erp_article"))
        }
    }

    // MARK: Mails

    /// Records a mail of run `run` (sent, or why not).
    public func noteAccountingMail(run: Int64, kind: String, subject: String, recipients: [String], error: String?) throws {
        try pool.write { db in
            try db.execute(sql: "INSERT INTO erp_mail (run_id, kind, subject, recipients, sent_at, error) VALUES (?, ?, ?, ?, ?, ?)",
                           arguments: [run, kind, subject, recipients.joined(separator: ", "), error == nil ? Self.timestamp() : nil, error])
        }
    }

    // MARK: The ERP's answers

    /// Writes what the ERP answered into documents' invoicing fields (status, payment status,
    /// reference numbers, booking), as the hub's changes on the stores' behalf, fed to every
    /// store, and the ids and numbers of the invoices `notes` (`noteInvoice`). One transaction.
    /// A document that is gone, or whose invoice or payment status changed since the run read it
    /// (silenced, marked paid), is left as it is now: the next run reads it again.
    public func applyERPAnswers(_ answers: [ERPAnswer], notes: [InvoiceNote] = []) throws {
        guard !answers.isEmpty || !notes.isEmpty else { return }
        try write(storeRecords: true, { db in
            try answers.filter { a in
                guard let row = try ReplicatedTable.document.fetch(db, key: a.document) else { return false }
                return row["invoice_status"]?.text == a.readInvoiceStatus && row["payment_status"]?.text == a.readPaymentStatus
            }.map { CentralChange(.document, .update, key: $0.document, fields: $0.fields) }
        }, after: { db in
            for n in notes {
                try db.execute(sql: "UPDATE erp_invoice SET invoice_id = ?, number = ? WHERE external_number = ?",
                               arguments: [n.id, n.number, n.externalNumber])
            }
        })
    }

    /// The partner (customer) record `code` at the hub.
    public func partner(code: String) throws -> Partner? {
        try pool.read { db in try ReplicatedTable.partner.fetch(db, key: code).map { try Partner(fields: $0) } }
    }

    /// Address `seq` of customer `code` at `site`.
    public func address(partner code: String, site: String, seq: Int) throws -> Address? {
        try pool.read { db in
            try ReplicatedTable.address.fetch(db, key: Address.key(partnerCode: code, site: site, seq: seq)).map { try Address(fields: $0) }
        }
    }
}
