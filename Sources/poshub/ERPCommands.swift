import ArgumentParser
import CLISupport
import Foundation
import SyncAccounting
import SyncHub
import SyncModel

/// `poshub erp`: the accounting connector (docs/accounting.md).
struct ERPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "erp", abstract: "The accounting connector: the chain's invoices as debtor invoices in the accounting ERP.",
        subcommands: [Configure.self, Run.self, Status.self])

    struct Configure: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Configure the ERP (Business Central API v2.0), the schedules and the mail recipients.",
            discussion: "The password is read from --password-file and kept sealed in the hub's store under a key in HUB.erp-key (mode 0600, beside the store): the store alone does not reveal it.")
        @OptionGroup var store: HubStoreOptionOwnPassword
        @Option(help: ArgumentHelp("The ERP API's root, up to /api/v2.0.", valueName: "url")) var baseURL: String
        @Option(help: "The company's id in the ERP.") var company: String
        @Option(help: "The ERP user (HTTP Basic).") var user: String
        @Option(help: ArgumentHelp("A file holding the ERP user's password.", valueName: "file")) var passwordFile: String
        @Option(help: "The time zone the schedules are read in (IANA name).") var timeZone = AccountingConfig.defaultTimeZone
        @Option(help: "When invoices run: days and times, such as \"Mon-Fri 08:00,10:00,12:00,15:00,19:00\".") var schedule = AccountingConfig.defaultSchedule
        @Option(help: "When the ERP's article codes are read, such as \"daily 12:00\".") var articleSchedule = AccountingConfig.defaultArticleSchedule
        @Option(help: ArgumentHelp("The SMTP server the mails go through.", valueName: "host:port")) var smtp: String
        @Option(help: "The mails' sender address.") var mailFrom: String
        @Option(help: ArgumentHelp("The recipients, comma-separated.", valueName: "a,b")) var mailTo: String
        @Option(help: "The ERP's G/L account for installments and documents without lines.") var revenueAccount = "6000"
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            guard let url = URL(string: baseURL), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
                throw FieldError(field: "base_url", reason: "'\(baseURL)' is not an http(s) URL")
            }
            if scheme == "http", !Loopback.isLoopback(host: url.host ?? "") {
                throw FieldError(field: "base_url", reason: "'\(baseURL)' would send the ERP password unencrypted: use https")
            }
            let password = try SecretFile.read(passwordFile)
            let recipients = mailTo.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard !recipients.isEmpty else { throw FieldError(field: "mail_to", reason: "give at least one recipient") }
            for a in recipients + [mailFrom] where !a.contains("@") || a.contains(" ") || a.contains(where: \.isNewline) {
                throw FieldError(field: a == mailFrom ? "mail_from" : "mail_to", reason: "'\(a)' is not an e-mail address")
            }
            _ = try SMTPMailer(smtp)
            var config = AccountingConfig(baseURL: baseURL, company: company, user: user, timeZone: timeZone, schedule: schedule,
                                          articleSchedule: articleSchedule, smtp: smtp, mailFrom: mailFrom, mailTo: recipients,
                                          revenueAccount: revenueAccount)
            _ = try config.invoiceSchedule
            _ = try config.articleRunSchedule
            let hub = try store.open()
            config.passwordSealed = try PasswordSeal.seal(password, keyPath: store.erpKeyPath())
            try hub.setAccountingConfig(config)
            if json { try printJSON(config); return }
            print("erp configured: \(baseURL) company \(company) user \(user); invoices \(try config.invoiceSchedule), articles \(try config.articleRunSchedule); mail to \(recipients.joined(separator: ", "))")
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the connector once: create provisional invoices, ask the ERP about pending ones, mail.",
            discussion: "Exit status: 0 the run completed, 3 it completed with errors a person must fix (mailed), 1 a system error (mailed with its code). --due runs what the schedules make due at --at (default now), as poshub serve does.")
        @OptionGroup var store: HubStoreOption
        @Flag(help: "Run now, whatever the schedule.") var now = false
        @Flag(help: "Run what the schedules make due (runs missed since the last one: once).") var due = false
        @Flag(help: "Read the ERP's article codes instead of the invoice run.") var articles = false
        @Option(help: ArgumentHelp("The time the run takes as now (ISO 8601, such as 2026-12-07T08:00:00+01:00).", valueName: "time")) var at: String?
        @Option(help: "The ERP's request limit per 5 minutes the connector keeps to.") var requestsPer5min = 6000
        @Flag(help: "JSON output.") var json = false

        func validate() throws {
            if now == due { throw ValidationError("give --now or --due") }
            if articles && due { throw ValidationError("--articles goes with --now; --due runs both jobs as they are due") }
        }

        func run() async throws {
            let hub = try store.open()
            var moment = Date()
            if let at {
                guard let d = try? Date(at, strategy: .iso8601) else { throw FieldError(field: "at", reason: "'\(at)' is not an ISO 8601 time such as 2026-12-07T08:00:00+01:00") }
                moment = d
            }
            let connector = try AccountingConnector.configured(hub: hub, keyPath: store.erpKeyPath(), requestsPer5Minutes: requestsPer5min)
            var reports: [AccountingRunReport] = []
            do {
                if now {
                    reports.append(try await connector.run(articles ? .articles : .invoices, trigger: "manual", now: moment))
                } else {
                    for d in try AccountingSchedule.due(hub: hub, config: connector.config, now: moment) {
                        reports.append(try await connector.run(d.job, trigger: d.trigger, slot: d.slot, now: moment))
                    }
                }
            } catch let refusal as HubStore.RunRefusal {
                throw HubCLIError("erp run not started: \(refusal)")
            }
            if json {
                if now { try printJSON(reports[0]) } else { try printJSON(["runs": reports]) }
            } else {
                if reports.isEmpty { print("nothing due at \(moment.formatted(.iso8601))") }
                for r in reports { print(Self.text(r)) }
            }
            throw ExitCode(reports.map(\.exitCode).max() ?? 0)
        }

        static func text(_ r: AccountingRunReport) -> String {
            var lines = ["run \(r.runID) (\(r.job.rawValue), \(r.trigger)\(r.slot.map { ", \($0)" } ?? "")): \(r.outcome)"]
            if r.job == .articles {
                lines.append("  article codes read: \(r.articles ?? 0)")
            } else {
                lines.append("  documents \(r.documents), provisional invoices created for \(r.created), updated \(r.updated), ignored \(r.ignored)")
            }
            for c in r.createdInvoices {
                lines.append("  created \(c.number) for \(c.document)\(c.installments > 1 ? " (installment \(c.installment)/\(c.installments))" : "")\(c.foundAgain ? ", found again after a lost reply" : "")")
            }
            for i in r.actionableErrors { lines.append("  action needed: \(i.document) (\(i.kind)): \(i.message)") }
            for e in r.systemErrors { lines.append("  system error \(e.code): \(e.message)\(e.detail.isEmpty ? "" : " (\(e.detail))")") }
            lines.append("  requests \(r.requests), 429s \(r.throttled), mails sent \(r.mailsSent)\(r.mailErrors.isEmpty ? "" : ", mail errors \(r.mailErrors.count)")")
            return lines.joined(separator: "\n")
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The connector: configuration (never the password), last runs, next runs, pending documents, open errors.")
        @OptionGroup var store: HubStoreOption
        @Option(help: "How many of the last runs to show.") var runs = 10
        @Flag(help: "JSON output.") var json = false

        struct Report: Encodable {
            enum CodingKeys: String, CodingKey {
                case configured, config, lastRuns = "last_runs", nextRuns = "next_runs", pending, openErrors = "open_errors", articleCodes = "article_codes"
            }
            var configured: Bool
            var config: AccountingConfig?
            var lastRuns: [AccountingRunRecord]
            var nextRuns: [String: String]
            var pending: [String: Int]
            var openErrors: [AccountingIssue]
            var articleCodes: Int
        }

        func run() async throws {
            let hub = try store.open()
            let config = try hub.accountingConfig()
            var next: [String: String] = [:]
            if let config {
                let now = Date()
                next["invoices"] = try config.invoiceSchedule.next(after: now)?.formatted(.iso8601)
                next["articles"] = try config.articleRunSchedule.next(after: now)?.formatted(.iso8601)
            }
            var pending: [String: Int] = [:]
            for d in try hub.invoicedDocuments() where d.paymentStatus != .paid {
                if let s = d.invoiceStatus, s != .cancelled { pending[s.rawValue, default: 0] += 1 }
            }
            let report = Report(configured: config != nil, config: config, lastRuns: try hub.accountingRuns(limit: runs), nextRuns: next,
                                pending: pending, openErrors: try hub.openAccountingIssues(), articleCodes: try hub.articleCodes().codes.count)
            if json { try printJSON(report); return }
            guard let config else { print("the accounting connector is not configured: run poshub erp configure"); return }
            print("erp: \(config.baseURL) company \(config.company) user \(config.user); mail to \(config.mailTo.joined(separator: ", ")) via \(config.smtp)")
            print("schedule: invoices \(config.schedule), articles \(config.articleSchedule) (\(config.timeZone))")
            print("next runs: invoices \(next["invoices"] ?? "-"), articles \(next["articles"] ?? "-")")
            print("article codes known: \(report.articleCodes)")
            print("pending documents: " + (pending.isEmpty ? "none" : InvoiceStatus.allCases.compactMap { s in pending[s.rawValue].map { "\(s.rawValue) \($0)" } }.joined(separator: ", ")))
            print("open errors: \(report.openErrors.count)")
            for i in report.openErrors { print("  \(i.document) (\(i.kind), met \(i.times)×): \(i.message)") }
            print("last runs:")
            for r in report.lastRuns { print("  \(r.id) \(r.job.rawValue) \(r.trigger) \(r.startedAt) \(r.outcome)") }
        }
    }
}
