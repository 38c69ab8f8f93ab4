import ArgumentParser
import CLISupport
import Foundation
import SyncModel
import SyncStore

/// A store's part of data-subject requests (docs/privacy.md).
struct AccessRequestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "access-request", abstract: "A store's extract of a person's data (GDPR Art. 15).",
        subcommands: [Export.self])

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "This store's rows, unsent journal entries and audit of a person, by partner code.",
            discussion: "The same extract a store sends the hub at its next sync for an open case; for a store that is cut off for good, hand it over directly. --partner takes the code a record holds now or held here before a store-prefix rename; a code that is or was more than one customer's is refused with the candidates: name the record by the code it holds now with --record.")
        @OptionGroup var store: StoreOptionGroup
        @Option(help: "A code of the person's record, now or before a store-prefix rename here (repeatable).") var partner: [String] = []
        @Option(help: "The code a record of the person holds now; former codes are not followed (repeatable).") var record: [String] = []
        @Flag(help: "JSON output.") var json = false

        func validate() throws {
            if partner.isEmpty == record.isEmpty { throw ValidationError("give --partner CODE or --record CODE") }
        }

        func run() async throws {
            let x = try store.open().accessExtract(codes: partner.isEmpty ? record : partner, exact: partner.isEmpty)
            if json { try printJSON(x); return }
            print("store \(x.node) (site \(x.site)), \(x.at): codes \(x.codes.joined(separator: ", "))\(x.formerCodes.isEmpty ? "" : " (before a rename here: \(x.formerCodes.joined(separator: ", ")))")")
            for p in x.partners {
                print("partner " + p.keys.sorted().compactMap { k in p[k]?.auditText.map { "\(k)=\($0)" } }.joined(separator: " "))
            }
            for a in x.addresses { print("address \(a.site)/\(a.seq): \([a.street, a.postalCode, a.city].compactMap { $0 }.joined(separator: ", "))") }
            for d in x.documents { print("document \(d.id) \(d.kind.rawValue) \(Document.formatAmount(d.amountMinor)) \(d.currency) \(d.issuedAt)") }
            if !x.memberships.isEmpty { print("member of: \(x.memberships.joined(separator: ", "))") }
            for (kind, rows) in x.records.sorted(by: { $0.key < $1.key }) {
                for r in rows { print("\(kind) " + r.keys.sorted().compactMap { k in r[k]?.auditText.map { "\(k)=\($0)" } }.joined(separator: " ")) }
            }
            print("unsent journal entries: \(x.pending.count); audit entries: \(x.audit.count)")
        }
    }
}
