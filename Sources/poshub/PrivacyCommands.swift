import ArgumentParser
import CLISupport
import Foundation
import SyncHub
import SyncModel
import SyncStore

/// Data-subject requests (docs/privacy.md): access requests (GDPR Art. 15) and erasure (Art. 17).
struct AccessRequestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "access-request", abstract: "Data-subject access requests (GDPR Art. 15): cases, due dates, reports.",
        subcommands: [Add.self, List.self, Extend.self, Close.self, Report.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open a case for a person named by partner code(s), record code(s), e-mail, national ID or VAT ID; prints the case and its due date.",
            discussion: "The answer is due one month after receipt. An e-mail or ID that matches several customers, or a code that is or was more than one customer's (a store-prefix rename), is refused with the candidates; name the person's records with --record (repeatable): the record that holds that code now. IDs are compared as the checks compare them (spaces, dashes, a PL prefix ignored). Notes hold no personal data beyond the identifiers given.")
        @OptionGroup var store: HubStoreOption
        @Option(help: "A code of the person's record, now or before a store-prefix rename (repeatable).") var partner: [String] = []
        @Option(help: "The code a record of the person holds now; former codes are not followed (repeatable).") var record: [String] = []
        @Option(help: "The person's e-mail.") var email: String?
        @Option(help: "The person's national ID (PESEL).") var nationalId: String?
        @Option(help: "The person's VAT ID.") var vatId: String?
        @Option(help: "The day the request was received, YYYY-MM-DD (default: today).") var received: String?
        @Option(help: "A note (no personal data).") var note: String?
        @Flag(help: "JSON output.") var json = false

        func validate() throws {
            let given = [!partner.isEmpty, !record.isEmpty, email != nil, nationalId != nil, vatId != nil].filter { $0 }.count
            if given != 1 { throw ValidationError("name the person by one of --partner, --record, --email, --national-id, --vat-id") }
        }

        func run() async throws {
            let (identifier, values): (AccessIdentifier, [String]) =
                !partner.isEmpty ? (.partner, partner) : !record.isEmpty ? (.record, record) : email.map { (.email, [$0]) } ?? nationalId.map { (.nationalID, [$0]) } ?? (.vatID, [vatId!])
            let c = try store.open().addAccessRequest(identifier, values: values, received: received, note: note)
            if json { try printJSON(c); return }
            print("case \(c.id): due \(c.due); records \(c.partners.isEmpty ? "none found" : c.partners.joined(separator: ", "))")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Open cases with the days left, overdue ones first.")
        @OptionGroup var store: HubStoreOption
        @Flag(help: "Closed cases too.") var all = false
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let cases = try store.open().accessRequests(includeClosed: all)
            if json { try printJSON(cases); return }
            for c in cases {
                let left = c.daysLeft.map { $0 < 0 ? "OVERDUE by \(-$0) day(s)" : "\($0) day(s) left" } ?? c.status
                print("\(c.id)\treceived \(c.received)\tdue \(c.due)\t\(left)\t\(c.identifierKind) \(c.identifier)\t\(c.partners.joined(separator: ","))")
            }
        }
    }

    struct Extend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Extend the due date by one or two months (Art. 12(3)), with the reason.")
        @OptionGroup var store: HubStoreOption
        @Option(name: .customLong("case"), help: "The case.") var caseID: String
        @Option(help: "1 or 2.") var months: Int
        @Option(help: "Why the answer takes longer (the person is told).") var reason: String
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let c = try store.open().extendAccessRequest(caseID, months: months, reason: reason)
            if json { try printJSON(c) } else { print("case \(c.id): due \(c.due) (extended by \(c.extendedMonths) month(s))") }
        }
    }

    struct Close: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Close a case, recording how it was answered.")
        @OptionGroup var store: HubStoreOption
        @Option(name: .customLong("case"), help: "The case.") var caseID: String
        @Option(help: "How the request was answered, e.g. 'report sent by post on 2026-12-10'.") var answer: String
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let c = try store.open().closeAccessRequest(caseID, answer: answer)
            if json { try printJSON(c) } else { print("case \(c.id) closed") }
        }
    }

    enum Format: String, ExpressibleByArgument, CaseIterable { case json, html }

    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The report answering a case: purposes, categories, recipients, sources and a copy of the data.",
            discussion: "Purposes, legal basis and storage period come from --policy (a JSON array of {category, data, purposes, legal_basis, storage_period}; default: docs/privacy.md).")
        @OptionGroup var store: HubStoreOption
        @Option(name: .customLong("case"), help: "The case.") var caseID: String
        @Option(help: "json or html.") var format: Format = .json
        @Option(help: "Write the report to this file instead of standard output.") var out: String?
        @Option(help: "The chain's privacy policy file.") var policy: String?

        func run() async throws {
            let statement = try policy.map(PrivacyPolicy.load) ?? PrivacyPolicy.standard
            let report = try store.open().accessReport(caseID, policy: statement)
            let text: String
            switch format {
            case .html: text = AccessReportHTML.render(report)
            case .json:
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                text = String(decoding: try encoder.encode(report), as: UTF8.self) + "\n"
            }
            if let out {
                try text.write(toFile: out, atomically: true, encoding: .utf8)
                try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: out)
                print("report of case \(caseID) written to \(out) (\(report.subjects.count) record(s), \(report.stores.filter { $0.answeredAt == nil }.count) store(s) pending)")
            } else {
                print(text, terminator: "")
            }
        }
    }
}

struct EraseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "erase", abstract: "Erase the person of a case (GDPR Art. 17) at the hub and, through the feed, at every store.",
        discussion: "Personal fields and addresses are replaced; receipts and invoices stay with their amounts and codes (tax retention), open ones too. Older copies are scrubbed and the database rebuilt, so no file keeps the erased values (docs/privacy.md).")
    @OptionGroup var store: HubStoreOption
    @Option(name: .customLong("case"), help: "The case.") var caseID: String
    @Option(help: "Why (recorded in the audit, without personal data).") var reason: String?
    @Flag(help: "JSON output.") var json = false

    func run() async throws {
        let result = try store.open().erase(case: caseID, reason: reason)
        if json { try printJSON(result); return }
        if result.partners.isEmpty {
            print("case \(caseID) was erased before; the database file is now rebuilt and its log emptied")
            return
        }
        print("erased \(result.partners.joined(separator: ", ")) (\(result.addresses) address(es), \(result.records) other record(s)) under case \(caseID); \(result.scrubbed) older copies scrubbed")
        if !result.openDocuments.isEmpty {
            print("open documents kept without personal data: \(result.openDocuments.joined(separator: ", "))")
        }
        if !result.compacted {
            printError("the database file could not be rebuilt (a reader kept old pages for 5 s): the erased values may still be in free pages or the log; run `poshub compact --db ...` (the hub also finishes it at its next start)")
            throw ExitCode(4)
        }
    }
}

struct CompactCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact", abstract: "Finish an erasure's rebuild of the hub's database file (VACUUM, log emptied) that could not end.",
        discussion: "An erasure rebuilds the file so that no free page or log frame keeps an erased value. When a reader held old pages, or the hub stopped during the rebuild, the rebuild stays pending; the hub finishes it at start, and this command finishes it now. Exit 0: done (or nothing pending); 4: a reader still holds old pages.")
    @OptionGroup var store: HubStoreOption
    @Flag(help: "Rebuild even when nothing is pending.") var force = false
    @Flag(help: "JSON output.") var json = false

    func run() async throws {
        let hub = try store.open()
        let pending = try hub.compactionPending()
        if pending || force { try hub.compact() }
        if json { try printJSON(["pending_before": pending, "compacted": pending || force]); return }
        print(pending || force ? "database file rebuilt and its log emptied" : "no rebuild pending")
    }
}
