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
        @Option(help: "The institution this is the customer's address at (the customer becomes its member; orders with it get its discount).") var institution: String?

        func run() async throws {
            let a = try store.open().addAddress(Address(partnerCode: partner, site: "", seq: seq, label: label, street: street,
                                                        city: city, postalCode: postalCode, country: country, institution: institution))
            print("saved address \(a.partnerCode) seq \(a.seq) at site \(a.site)\(a.institution.map { " at institution \($0)" } ?? "")")
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
    @Option(help: "Partner code (left out: an anonymous receipt, priced for the default category).") var partner: String?
    @Option(name: [.customLong("address"), .customLong("seq")], help: "The partner's address at this site (0 = bill-to); an address at an institution gets its discount.")
    var address: Int?
    @Option(parsing: .unconditionalSingleValue, help: ArgumentHelp("A line: offer code and quantity (repeatable); priced now from the store's price table.", valueName: "OFFER:QTY"))
    var line: [String] = []
    @Option(parsing: .unconditional, help: "Amount, e.g. 12.50 (a document without lines; a receipt's may be negative: a refund).") var amount: String?
    @Option(help: ArgumentHelp("A receipt for a picked-up order: its lines and prices as ordered (the order's id or external number).", valueName: "ORDER"))
    var order: String?
    @Option(help: "Currency code, e.g. PLN (a document without lines; default the customer's currency; lines take their offers').") var currency: String?
    @Flag(help: "JSON output.") var json = false

    func add(kind: DocumentKind, store: StoreOptionGroup, invoicing: Fields = [:]) throws {
        let doc: Document
        if let order {
            guard kind == .receipt else { throw FieldError(field: "order", reason: "only a receipt is made from an order") }
            guard line.isEmpty, amount == nil, partner == nil, address == nil else {
                throw FieldError(field: "order", reason: "a receipt for an order takes its customer, lines and amount from the order")
            }
            doc = try store.open().addReceipt(forOrder: order)
        } else if !line.isEmpty {
            if amount != nil { throw FieldError(field: "amount", reason: "a document with lines takes its amount from them") }
            if currency != nil { throw FieldError(field: "currency", reason: "a document with lines is in its offers' currency") }
            let lines = try line.map(DocumentLine.parseRequest)
            doc = try store.open().addDocument(kind: kind, partnerCode: partner, addressSeq: address, lines: lines, invoicing: invoicing)
        } else {
            guard let amount else { throw FieldError(field: "line", reason: "give --line OFFER:QTY (or --amount for a document without lines)") }
            guard let partner else { throw FieldError(field: "partner", reason: "is mandatory for a document without lines") }
            doc = try store.open().addDocument(kind: kind, partnerCode: partner, addressSeq: address ?? 0,
                                               amountMinor: try Document.parseAmount(amount), currency: currency?.uppercased(), invoicing: invoicing)
        }
        if json { try printJSON(doc); return }
        print("added \(kind.rawValue) \(doc.id) for \(doc.isAnonymous ? "an anonymous customer" : doc.partnerCode): \(Document.formatAmount(doc.amountMinor)) \(doc.currency)"
              + (doc.institution.map { " (institution \($0))" } ?? ""))
        if !doc.lines.isEmpty { print(DocumentText.withLines(doc).split(separator: "\n").dropFirst().joined(separator: "\n")) }
        let text = DocumentText.invoicing(doc)
        if !text.isEmpty { print(text) }
    }
}


struct ReceiptCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "receipt", abstract: "Sales receipts.", subcommands: [Add.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record a receipt: priced lines (for a partner or anonymous), or an amount for a partner.")
        @OptionGroup var store: StoreOptionGroup
        @OptionGroup var document: DocumentOptions
        func run() async throws { try document.add(kind: .receipt, store: store) }
    }
}

struct OrderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "order", abstract: "Orders.", subcommands: [Add.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record an order with priced lines.",
            discussion: "Placed with the customer's address at an institution (--address), the order belongs to the institution and every line gets its discount.")
        @OptionGroup var store: StoreOptionGroup
        @OptionGroup var document: DocumentOptions
        func run() async throws { try document.add(kind: .order, store: store) }
    }
}

struct DocumentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "document", abstract: "Invoices, orders, receivables and receipts.", subcommands: [Add.self, Update.self, Show.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record a document for a partner (an invoice, receivable or order with its invoicing fields).")
        @OptionGroup var store: StoreOptionGroup
        @Option(help: "Document kind.") var kind: DocumentKind
        @OptionGroup var document: DocumentOptions
        @OptionGroup var invoicing: InvoicingOptions

        func run() async throws {
            try document.add(kind: kind, store: store, invoicing: try invoicing.fields(clearing: []))
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set or clear invoicing fields of one of this store's documents (nothing else of a document changes).",
            discussion: "Clearing the invoice status takes a document out of the accounting connector's runs (and its notifications).")
        @OptionGroup var store: StoreOptionGroup
        @Option(help: "The document's id.") var id: String
        @OptionGroup var invoicing: InvoicingOptions
        @Option(help: ArgumentHelp("Clear this field (repeatable): \(InvoicingOptions.names.joined(separator: ", ")).", valueName: "FIELD"))
        var clear: [String] = []
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let changes = try invoicing.fields(clearing: clear)
            guard !changes.isEmpty else {
                throw ValidationError("nothing to change: give an invoicing field (--invoice-status ...) or --clear FIELD")
            }
            let doc = try store.open().updateDocumentInvoicing(id: id, changes: changes)
            if json { try printJSON(doc); return }
            print("updated \(doc.kind.rawValue) \(doc.id)")
            print(DocumentText.invoicing(doc))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one document with its lines and invoicing fields.")
        @OptionGroup var store: StoreOptionGroup
        @Option(help: "The document's id.") var id: String
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            guard let doc = try store.open().document(id: id) else {
                throw FieldError(field: "id", reason: "document \(id) does not exist at this store", code: .notFound)
            }
            if json { try printJSON(doc); return }
            print(DocumentText.withLines(doc), terminator: "")
            let invoicing = DocumentText.invoicing(doc)
            if !invoicing.isEmpty { print(invoicing) }
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
                for d in docs { print(DocumentText.line(d) + "\t" + d.status) }
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
