import ArgumentParser
import CLISupport
import Foundation
import SyncConsole
import SyncHub
import SyncModel
import SyncStore

/// The customer module's central master data at the hub: customer categories, offer categories,
/// offers and the price table (fed to every store), operators, and the institution listings.
/// Each command also works while `poshub serve` runs on the same store.
struct CategoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "category", abstract: "Customer categories: the segments the price table prices.",
        subcommands: [Add.self, Update.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a customer category.")
        @OptionGroup var store: HubStoreOption
        @Option(help: "The category's code.") var code: String
        @Option(help: "The category's name.") var name: String
        @Flag(help: "Customers registered without a category get this one (the previous default stops being it).") var `default` = false
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let c = try store.open().addCustomerCategory(code: code, name: name, isDefault: `default`)
            if json { try printJSON(c) } else { print("added customer category \(c.code)\(c.isDefault == true ? " (default)" : "")") }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rename, deactivate, reactivate a customer category or make it the default.",
            discussion: "Categories are never deleted: a deactivated one keeps every customer and document that names it readable; stores refuse new references to it. The default category cannot be deactivated.")
        @OptionGroup var store: HubStoreOption
        @Option(help: "The category's code.") var code: String
        @Option(help: "A new name.") var name: String?
        @Option(help: "true or false.") var active: Bool?
        @Flag(help: "Make it the default category.") var `default` = false
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let c = try store.open().updateCustomerCategory(code: code, name: name, active: active, isDefault: `default` ? true : nil)
            if json { try printJSON(c) } else { print("customer category \(c.code): \(c.name), \(c.active ? "active" : "inactive")\(c.isDefault == true ? ", default" : "")") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the customer categories.")
        @OptionGroup var store: HubStoreOption
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let all = try store.open().customerCategories()
            if json { try printJSON(all); return }
            for c in all { print("\(c.code)\t\(c.name)\t\(c.active ? "active" : "inactive")\(c.isDefault == true ? "\tdefault" : "")") }
        }
    }
}

struct OfferCategoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "offer-category", abstract: "Offer categories: the columns of the price table.",
        subcommands: [Add.self, Update.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add an offer category.")
        @OptionGroup var store: HubStoreOption
        @Option(help: "The offer category's code.") var code: String
        @Option(help: "Its name.") var name: String
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let c = try store.open().addOfferCategory(code: code, name: name)
            if json { try printJSON(c) } else { print("added offer category \(c.code)") }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rename, deactivate or reactivate an offer category.",
            discussion: "Offer categories are never deleted. Deactivating one is refused while it has active offers (deactivate them first); a deactivated one keeps its offers, price cells and every document readable, and takes no new offer or price cell.")
        @OptionGroup var store: HubStoreOption
        @Option(help: "The offer category's code.") var code: String
        @Option(help: "A new name.") var name: String?
        @Option(help: "true or false.") var active: Bool?
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let c = try store.open().updateOfferCategory(code: code, name: name, active: active)
            if json { try printJSON(c) } else { print("offer category \(c.code): \(c.name), \(c.active ? "active" : "inactive")") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the offer categories.")
        @OptionGroup var store: HubStoreOption
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let all = try store.open().offerCategories()
            if json { try printJSON(all); return }
            for c in all { print("\(c.code)\t\(c.name)\t\(c.active ? "active" : "inactive")") }
        }
    }
}

struct OfferCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "offer", abstract: "Offers: what a document line sells, at a base price.",
        subcommands: [Add.self, Update.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add an offer with its base price (used where the price table has no cell).")
        @OptionGroup var store: HubStoreOption
        @Option(help: "The offer's code.") var code: String
        @Option(help: "Its name.") var name: String
        @Option(help: "Its offer category.") var offerCategory: String
        @Option(parsing: .unconditional, help: "Base price, such as 20.00 (0 or more).") var price: String
        @Option(help: "Currency (ISO 4217), such as PLN.") var currency: String
        @Option(help: "Article code for accounting.") var articleCode: String?
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let minor = try CatalogArguments.amount(price, field: "price")
            let o = try store.open().addOffer(code: code, name: name, offerCategory: offerCategory, priceMinor: minor,
                                              currency: currency.uppercased(), articleCode: articleCode)
            if json { try printJSON(o) } else { print("added offer \(o.code) at \(Document.formatAmount(o.priceMinor)) \(o.currency)") }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change an offer's name, base price or article code, or deactivate or reactivate it.",
            discussion: "A new base price or a change of --active takes the next price table version: documents already written keep their prices, and sales a store priced with the older version are listed in the audit (kind old-price). Stores refuse a deactivated offer on a new line. Code, offer category and currency do not change.")
        @OptionGroup var store: HubStoreOption
        @Option(help: "The offer's code.") var code: String
        @Option(help: "A new name.") var name: String?
        @Option(parsing: .unconditional, help: "A new base price, such as 22.00 (0 or more).") var price: String?
        @Option(help: "A new article code for accounting.") var articleCode: String?
        @Option(help: "true or false.") var active: Bool?
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let minor = try price.map { try CatalogArguments.amount($0, field: "price") }
            let o = try store.open().updateOffer(code: code, name: name, priceMinor: minor, articleCode: articleCode, active: active)
            if json { try printJSON(o) } else {
                print("offer \(o.code): \(o.name), \(Document.formatAmount(o.priceMinor)) \(o.currency), \(o.active ? "active" : "inactive"), price version \(o.priceVersion)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the offers with their base prices.")
        @OptionGroup var store: HubStoreOption
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let all = try store.open().offers()
            if json { try printJSON(all); return }
            for o in all {
                print("\(o.code)\t\(o.name)\t\(o.offerCategory)\t\(Document.formatAmount(o.priceMinor)) \(o.currency)\(o.articleCode.map { "\tarticle \($0)" } ?? "")\(o.active ? "" : "\tinactive")")
            }
        }
    }
}

struct PriceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "price", abstract: "The price table: a price per customer category and offer category.",
        subcommands: [Set.self, Import.self, List.self])

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set the price of every offer of an offer category for the customers of a customer category.",
            discussion: "Documents already written keep the prices they were sold at; a store that sold offline with the old price is listed in the audit (kind old-price) when it reconnects.")
        @OptionGroup var store: HubStoreOption
        @Option(help: "The customer category.") var customerCategory: String
        @Option(help: "The offer category.") var offerCategory: String
        @Option(parsing: .unconditional, help: "The price, such as 12.50 (0 or more).") var amount: String
        @Option(help: "Currency (ISO 4217): the one of the offer category's offers.") var currency: String
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let minor = try CatalogArguments.amount(amount, field: "amount")
            let cell = try store.open().setPrice(customerCategory: customerCategory, offerCategory: offerCategory, amountMinor: minor,
                                                 currency: currency.uppercased())
            if json { try printJSON(cell) } else {
                print("price \(cell.customerCategory) x \(cell.offerCategory) = \(Document.formatAmount(cell.amountMinor)) \(cell.currency) (version \(cell.priceVersion))")
            }
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set many cells of the price table at once from a CSV file, as one new version of the table.",
            discussion: """
                The file has the header customer_category,offer_category,amount,currency and one cell a line \
                (STD,TIX,20.00,PLN). Every cell is checked first; one bad line refuses the whole file, naming \
                the line, and nothing is written.
                """)
        @OptionGroup var store: HubStoreOption
        @Option(help: "The CSV file.") var file: String
        @Flag(help: "JSON output.") var json = false

        struct Reply: Encodable {
            var cells: Int
            var priceVersion: Int64
            enum CodingKeys: String, CodingKey { case cells, priceVersion = "price_version" }
        }

        func run() async throws {
            let cells = try PriceList.parse(try String(contentsOfFile: file, encoding: .utf8))
            let hub = try store.open()
            let count = try hub.setPrices(cells)
            let version = try hub.priceTableVersion()
            if json { try printJSON(Reply(cells: count, priceVersion: version)) } else { print("set \(count) price cells (version \(version))") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the price table's cells.")
        @OptionGroup var store: HubStoreOption
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let all = try store.open().priceCells()
            if json { try printJSON(all); return }
            for c in all {
                print("\(c.customerCategory)\t\(c.offerCategory)\t\(Document.formatAmount(c.amountMinor)) \(c.currency)\tversion \(c.priceVersion)")
            }
        }
    }
}

struct InstitutionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "institution", abstract: "Institutions registered at the stores, as the hub holds them.",
        subcommands: [List.self, Show.self, Update.self])

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set an institution's discount (central data: only the hub sets it) or its active flag; the stores receive it at their next sync.",
            discussion: "The discount is a percent from 0 to 100 with up to two decimals (12.5). Documents already priced keep theirs.")
        @OptionGroup var store: HubStoreOption
        @Option(help: "The institution's code.") var code: String
        @Option(parsing: .unconditional, help: "Discount in percent, e.g. 12.5 (0 to 100).") var discount: String?
        @Option(help: "true or false.") var active: Bool?
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let rate = try discount.map { try CustomerModule.parseDiscount($0) }
            let i = try store.open().updateInstitution(code: code, discount: rate, active: active)
            if json { try printJSON(i) } else { print(InstitutionText.line(i)) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the institutions.")
        @OptionGroup var store: HubStoreOption
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let all = try store.open().institutions()
            if json { try printJSON(all); return }
            for i in all { print(InstitutionText.line(i)) }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "An institution, its member customers and the orders placed with addresses at it.")
        @OptionGroup var store: HubStoreOption
        @Option(help: "The institution's code.") var code: String
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let listing = try store.open().institutionListing(code: code)
            if json { try printJSON(listing) } else { print(InstitutionText.listing(listing), terminator: "") }
        }
    }
}

/// An operator's role in the console.
enum ConsoleRole: String, ExpressibleByArgument, CaseIterable {
    case viewer, `operator`
}

struct OperatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "operator", abstract: "Operators: tokens that write the central master data through the API.",
        subcommands: [Add.self, CredentialList<OperatorKind>.self, CredentialRevoke<OperatorKind>.self, CredentialRotate<OperatorKind>.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register an operator and print its bearer token (shown once; only a hash is stored).")
        @OptionGroup var store: HubStoreOptionOwnPassword
        @Option(help: "The operator's name.") var name: String
        @Option(help: "The operator console's role: viewer (reads) or operator (reads and acts); with --password-file.") var role: ConsoleRole?
        @Option(help: ArgumentHelp("A file holding the password for the operator console (at least 12 characters).", valueName: "file"))
        var passwordFile: String?
        @Flag(help: "JSON output.") var json = false

        func validate() throws {
            if (role == nil) != (passwordFile == nil) { throw ValidationError("--role and --password-file go together (the console's login)") }
        }

        func run() async throws {
            var hash: String?
            if let passwordFile {
                let password = try SecretFile.read(passwordFile)
                try ConsolePassword.check(password)
                hash = try ConsolePassword.hash(password)
            }
            let hub = try store.open()
            let token = try hub.addOperator(name: name)
            if let role, let hash { try hub.setConsoleLogin(name: name, role: role.rawValue, passwordHash: hash) }
            if json { try printJSON(["name": name, "token": token, "role": role?.rawValue ?? "operator"]) } else { print(token) }
        }
    }
}

enum CatalogArguments {
    static func amount(_ text: String, field: String) throws -> Int64 {
        do {
            let minor = try Document.parseAmount(text)
            guard minor >= 0 else { throw FieldError(field: field, reason: "'\(text)' is negative; a price is 0 or more") }
            return minor
        } catch let e as FieldError {
            throw FieldError(field: field, reason: e.reason)
        }
    }
}

/// A price list file: `customer_category,offer_category,amount,currency`, a header line, then
/// one cell a line; amounts as decimals (`12.50`). A problem names its line.
enum PriceList {
    static let header = ["customer_category", "offer_category", "amount", "currency"]

    static func parse(_ text: String) throws -> [PriceCellInput] {
        var lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let first = lines.first, first.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) == header else {
            throw FieldError(field: "file", reason: "line 1 must be the header \(header.joined(separator: ","))")
        }
        lines.removeFirst()
        var cells: [PriceCellInput] = []
        cells.reserveCapacity(lines.count)
        for (i, line) in lines.enumerated() where !line.isEmpty {
            let parts = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 4 else { throw FieldError(field: "file", reason: "line \(i + 2): \(parts.count) fields; 4 expected (\(header.joined(separator: ",")))") }
            let amount: Int64
            do { amount = try CatalogArguments.amount(parts[2], field: "amount") } catch let e as FieldError {
                throw FieldError(field: "amount", reason: "line \(i + 2): \(e.reason)")
            }
            cells.append(PriceCellInput(customerCategory: parts[0], offerCategory: parts[1], amountMinor: amount, currency: parts[3].uppercased()))
        }
        return cells
    }
}

struct SystemCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "system", abstract: "External systems that transfer customers to the chain (docs/backoffice.md).",
        subcommands: [Add.self, CredentialList<SystemKind>.self, CredentialRevoke<SystemKind>.self, CredentialRotate<SystemKind>.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register an external system and print its bearer token (shown once; it calls the transfer API only).")
        @OptionGroup var store: HubStoreOption
        @Option(help: "The system's name, e.g. booking.") var name: String
        @Option(help: "The code series of the customers it transfers (capital letters and digits), e.g. BO: BO1, BO2, ...") var series: String = "BO"

        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let token = try store.open().addSystem(name: name, series: series)
            if json { try printJSON(["name": name, "series": series, "token": token]) } else { print(token) }
        }
    }
}

/// Which credentials a `list`, `revoke` or `rotate-token` sub-command manages.
protocol CredentialCommandKind { static var kind: CredentialKind { get } }
enum SystemKind: CredentialCommandKind { static let kind = CredentialKind.system }
enum OperatorKind: CredentialCommandKind { static let kind = CredentialKind.operator }

struct CredentialList<K: CredentialCommandKind>: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "list", abstract: "List the registered \(K.kind.rawValue)s (never their tokens).")
    }
    @OptionGroup var store: HubStoreOption
    @Flag(help: "JSON output.") var json = false

    func run() async throws {
        let all = try store.open().credentials(K.kind)
        if json { try printJSON(all); return }
        for c in all { print("\(c.name)\t\(c.revoked ? "revoked" : "active")\tsince \(c.createdAt)\(c.series.map { "\tseries \($0)" } ?? "")") }
    }
}

struct CredentialRevoke<K: CredentialCommandKind>: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "revoke", abstract: "Revoke a \(K.kind.rawValue)'s token at once (audited).")
    }
    @OptionGroup var store: HubStoreOption
    @Option(help: "The name.") var name: String
    @Flag(help: "JSON output.") var json = false

    func run() async throws {
        try store.open().revokeCredential(K.kind, name: name)
        if json { try printJSON(["name": name, "revoked": "true"]) } else { print("\(K.kind.rawValue) \(name): token revoked") }
    }
}

struct CredentialRotate<K: CredentialCommandKind>: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "rotate-token", abstract: "Give a \(K.kind.rawValue) a new token, printed once; the old one stops at once (audited).")
    }
    @OptionGroup var store: HubStoreOption
    @Option(help: "The name.") var name: String
    @Flag(help: "JSON output.") var json = false

    func run() async throws {
        let token = try store.open().rotateCredential(K.kind, name: name)
        if json { try printJSON(["name": name, "token": token]) } else { print(token) }
    }
}

struct DocumentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "document", abstract: "The stores' documents at the hub: their invoicing fields.",
                                                    subcommands: [List.self, Update.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the documents with an invoice status (what the accounting runs work on).")
        @OptionGroup var store: HubStoreOption
        @Option(help: ArgumentHelp("Only this invoice status: \(InvoiceStatus.list).", valueName: "status")) var invoiceStatus: String?
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let status = try invoiceStatus.map { text in
                guard let s = InvoiceStatus(rawValue: text) else {
                    throw FieldError(field: "invoice_status", reason: "'\(text)' is not an invoice status (\(InvoiceStatus.list))")
                }
                return s
            }
            let docs = try store.open().invoicedDocuments(status: status)
            if json { try printJSON(docs); return }
            for d in docs {
                print([d.invoiceStatus?.rawValue ?? "", DocumentText.line(d), d.paymentMethod ?? "-", d.paymentTerms ?? "-",
                       d.referenceNumbers ?? ""].joined(separator: "\t"))
            }
            if docs.isEmpty { print("no documents with \(status.map { "invoice status \($0.rawValue)" } ?? "an invoice status")") }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set or clear invoicing fields of documents at the hub, for their stores (fed to every store).",
            discussion: "Clearing the invoice status silences a document: the accounting runs and their notifications leave it alone. One at a time (--id, repeatable) or all of a status: --where invoice-status=provisional --clear invoice-status.")
        @OptionGroup var store: HubStoreOption
        @Option(help: "A document's id (repeatable).") var id: [String] = []
        @Option(help: ArgumentHelp("Every document of this invoice status: invoice-status=STATUS.", valueName: "filter")) var `where`: String?
        @OptionGroup var invoicing: InvoicingOptions
        @Option(help: ArgumentHelp("Clear this field (repeatable): \(InvoicingOptions.names.joined(separator: ", ")).", valueName: "FIELD"))
        var clear: [String] = []
        @Flag(help: "JSON output.") var json = false

        func validate() throws {
            if id.isEmpty == (`where` == nil) { throw ValidationError("give --id (one or more) or --where invoice-status=STATUS, not both") }
        }

        func run() async throws {
            let hub = try store.open()
            var ids = id
            if let filter = `where` {
                let parts = filter.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, parts[0] == "invoice-status" || parts[0] == "invoice_status" else {
                    throw FieldError(field: "where", reason: "'\(filter)' is not a filter: give invoice-status=STATUS")
                }
                guard let status = InvoiceStatus(rawValue: parts[1]) else {
                    throw FieldError(field: "where", reason: "'\(parts[1])' is not an invoice status (\(InvoiceStatus.list))")
                }
                ids = try hub.documentIDs(invoiceStatus: status)
            }
            let changes = try invoicing.fields(clearing: clear)
            let updated = ids.isEmpty ? [] : try hub.updateDocumentInvoicing(ids: ids, changes: changes)
            if json { try printJSON(["updated": updated]); return }
            print("updated \(updated.count) document\(updated.count == 1 ? "" : "s")" + (updated.isEmpty ? "" : ": " + updated.joined(separator: ", ")))
        }
    }
}
