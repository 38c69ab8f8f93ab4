import ArgumentParser
import CLISupport
import Foundation
import SyncModel
import SyncStore

struct AddressCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "address", abstract: "Partner addresses (seq 0 = bill-to, >0 = ship-to).",
        subcommands: [Add.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add or replace an address of a partner at this node's site.")

        @OptionGroup var store: StoreOptionGroup
        @Option(help: "Partner code.") var partner: String
        @Option(help: "Sequence number: 0 = bill-to, >0 = ship-to.") var seq: Int
        @Option(help: "Label, e.g. 'Warehouse'.") var label: String?
        @Option(help: "Street and number.") var street: String?
        @Option(help: "City.") var city: String?
        @Option(help: "Postal code.") var postalCode: String?
        @Option(help: "Country code.") var country: String?

        func run() async throws {
            let a = try store.open().addAddress(Address(partnerCode: partner, site: "", seq: seq, label: label, street: street,
                                                        city: city, postalCode: postalCode, country: country))
            print("saved address \(a.partnerCode) seq \(a.seq) at site \(a.site)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List addresses (all sites).")

        @OptionGroup var store: StoreOptionGroup
        @Option(help: "Only this partner.") var partner: String?
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let list = try store.open().addresses(partnerCode: partner)
            if json { try printJSON(list) } else {
                for a in list { print("\(a.partnerCode)\t\(a.site)\t\(a.seq)\t\([a.street, a.city].compactMap { $0 }.joined(separator: ", "))") }
            }
        }
    }
}

/// Options shared by the document commands.
struct DocumentOptions: ParsableArguments {
    @Option(help: "Partner code.") var partner: String
    @Option(help: "Address sequence at this site (0 = bill-to).") var seq: Int = 0
    @Option(help: "Amount, e.g. 12.50.") var amount: String
    @Option(help: "Currency code, e.g. PLN.") var currency: String = "PLN"
    @Flag(help: "JSON output.") var json = false

    func add(kind: DocumentKind, store: StoreOptionGroup) throws {
        let minor = try Document.parseAmount(amount)
        let doc = try store.open().addDocument(kind: kind, partnerCode: partner, addressSeq: seq, amountMinor: minor,
                                               currency: currency.uppercased())
        if json { try printJSON(doc) } else {
            print("added \(kind.rawValue) \(doc.id) for \(doc.partnerCode): \(Document.formatAmount(doc.amountMinor)) \(doc.currency)")
        }
    }
}

struct ReceiptCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "receipt", abstract: "Sales receipts.", subcommands: [Add.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record a receipt for a partner.")
        @OptionGroup var store: StoreOptionGroup
        @OptionGroup var document: DocumentOptions
        func run() async throws { try document.add(kind: .receipt, store: store) }
    }
}

struct DocumentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "document", abstract: "Invoices, orders, receivables and receipts.", subcommands: [Add.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record a document for a partner.")
        @OptionGroup var store: StoreOptionGroup
        @Option(help: "Document kind.") var kind: DocumentKind
        @OptionGroup var document: DocumentOptions

        func run() async throws {
            try document.add(kind: kind, store: store)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List documents.")
        @OptionGroup var store: StoreOptionGroup
        @Option(help: "Only this partner.") var partner: String?
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let docs = try store.open().documents(partnerCode: partner)
            if json { try printJSON(docs) } else {
                for d in docs {
                    print("\(d.id)\t\(d.kind.rawValue)\t\(d.partnerCode):\(d.addressSeq)\t\(d.site)\t\(Document.formatAmount(d.amountMinor)) \(d.currency)\t\(d.status)")
                }
            }
        }
    }
}

struct JournalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "journal", abstract: "Show journal entries the hub has not acknowledged yet.")

    @OptionGroup var store: StoreOptionGroup
    @Option(help: "At most this many entries.") var limit: Int = 1000
    @Flag(help: "JSON output.") var json = false

    func run() async throws {
        let entries = try store.open().pendingJournal(limit: limit)
        if json { try printJSON(entries) } else {
            for e in entries {
                let c = e.change
                print("\(c.seq)\t\(c.hlc)\t\(c.entity.rawValue)\t\(c.op.rawValue)\t\(c.key)\t\(c.fields.canonicalJSON())")
            }
            if entries.isEmpty { print("no pending entries") }
        }
    }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Node identity, journal and sync state, recent renames.")

    @OptionGroup var store: StoreOptionGroup
    @Flag(help: "JSON output.") var json = false

    func run() async throws {
        let s = try store.open().status()
        if json { try printJSON(s); return }
        print("node \(s.node) site \(s.site) series \(s.series)")
        print("hub: \(s.hub ?? "(none: offline only)")")
        print("center: lowest price for new business customers \(s.center.lowestPriceForNewBusiness ? "yes" : "no"), for new consumers \(s.center.lowestPriceForNewConsumer ? "yes" : "no"); default country \(s.center.defaultCountry ?? "none")")
        print("journal: \(s.pending) pending, \(s.acknowledged) acknowledged (\(s.refused) refused by the hub), last seq \(s.lastSeq)")
        if s.warnings > 0 { print("warnings: \(s.warnings) (duplicate VAT IDs registered offline; see 'posnode duplicates')") }
        print("feed cursor: \(s.cursor)")
        print("records: \(s.partners) partners, \(s.addresses) addresses, \(s.documents) documents")
        print("last sync: \(s.lastSyncAt ?? "never")\(s.lastSyncError.map { " (last error: \($0))" } ?? "")")
        if let offset = s.clockOffsetMillis {
            let seconds = Double(offset) / 1000
            let beyond = offset.magnitude > HLC.defaultMaxLeadMillis
            print(String(format: "clock: %+.1f s against the hub's at the last push", seconds)
                  + (beyond ? " (more than the \(HLC.defaultMaxLeadMillis / 1000) s allowed: set the till's clock right)" : ""))
        }
        for r in s.renames { print("renamed \(r.oldValue ?? "?") -> \(r.newValue ?? "?") at \(r.at): \(r.reason)") }
        for r in s.problems { print("\(r.kind) \(r.entity) \(r.key) at \(r.at): \(r.reason)") }
    }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "audit", abstract: "Show the audit log (renames, overwrites, moves, refusals).")

    @OptionGroup var store: StoreOptionGroup
    @Option(help: "Only records of this kind.") var kind: AuditKind?
    @Flag(help: "JSON output.") var json = false

    func run() async throws {
        let records = try store.open().audit(kind: kind)
        if json { try printJSON(records); return }
        for r in records {
            print("\(r.at)\t\(r.kind)\t\(r.entity) \(r.key)\t\(r.field ?? "")\t\(r.oldValue ?? "") -> \(r.newValue ?? "")\t\(r.reason)")
        }
    }
}
