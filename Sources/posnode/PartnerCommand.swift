import ArgumentParser
import CLISupport
import Foundation
import SyncModel
import SyncNode
import SyncStore

struct PartnerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "partner",
        abstract: "Register, change, show, list and delete business partners.",
        discussion: "The partner rules (mandatory fields, national checks, codes, duplicate VAT IDs, the store-prefix rule) are in docs/rules.md.",
        subcommands: [Add.self, Update.self, Show.self, List.self, Delete.self])
}

/// Partner fields as command-line options (column names in parentheses for error messages).
struct PartnerFieldOptions: ParsableArguments {
    @Option(help: "Salutation (consumers).") var salutation: String?
    @Option(help: "First name (mandatory for consumers).") var firstName: String?
    @Option(help: "Last name (mandatory for consumers).") var lastName: String?
    @Option(help: "Name (mandatory for business customers).") var name: String?
    @Option(help: "Birth date, YYYY-MM-DD.") var birthDate: String?
    @Option(help: "VAT ID (NIP for country PL: checked and unique unless confirmed).") var vatId: String?
    @Option(help: "Issued by (business customers).") var issuedBy: String?
    @Option(help: "Phone number.") var phone: String?
    @Option(help: "E-mail address.") var email: String?
    @Option(help: "Free attribute KEY=VALUE (repeatable).") var attribute: [String] = []
    @Option(help: "Consent NAME=ISO-DATE given (repeatable).") var consent: [String] = []
    @Option(help: "Reverse charge: true or false.") var reverseCharge: Bool?
    @Option(help: "Country code, e.g. PL.") var country: String?
    @Option(help: "National ID (PESEL for country PL: 11 digits, check digit).") var nationalId: String?
    @Option(help: "Trade register number.") var tradeRegister: String?
    @Option(help: "ID document (needed for Tax Free documents).") var idDocument: String?
    @Option(help: "Currency code of the customer account, e.g. PLN.") var currency: String?
    @Option(help: "Corporate customer (Konzernkunde).") var corporateCustomer: String?
    @Option(help: "Customer category (its prices); a new customer without one gets the chain's default category.") var category: String?

    func pairs(_ list: [String], field: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for item in list {
            guard let eq = item.firstIndex(of: "="), eq != item.startIndex else {
                throw FieldError(field: field, reason: "'\(item)' is not KEY=VALUE")
            }
            out[String(item[..<eq])] = String(item[item.index(after: eq)...])
        }
        return out
    }

    /// The given options as column changes (only options that were given).
    func changes() throws -> Fields {
        var f: Fields = [:]
        func set(_ col: String, _ v: String?) { if let v { f[col] = v.isEmpty ? .null : .text(v) } }
        set("salutation", salutation); set("first_name", firstName); set("last_name", lastName); set("name", name)
        set("birth_date", birthDate); set("vat_id", vatId); set("issued_by", issuedBy); set("phone", phone)
        set("email", email); set("country", country?.uppercased()); set("national_id", nationalId)
        set("trade_register", tradeRegister); set("id_document", idDocument); set("currency", currency?.uppercased())
        set("corporate_customer", corporateCustomer); set("category", category)
        if let reverseCharge { f["reverse_charge"] = .bool(reverseCharge) }
        let attrs = try pairs(attribute, field: "attribute")
        if !attrs.isEmpty { f["attributes"] = .text(Fields(uniqueKeysWithValues: attrs.map { ($0.key, .text($0.value)) }).canonicalJSON()) }
        let cons = try pairs(consent, field: "consent")
        if !cons.isEmpty { f["consents"] = .text(Fields(uniqueKeysWithValues: cons.map { ($0.key, .text($0.value)) }).canonicalJSON()) }
        return f
    }
}

/// A partner as printed by show and list.
struct PartnerView: Encodable {
    enum CodingKeys: String, CodingKey {
        case partner, addresses, institutions, renamedTo = "renamed_to", external, effectiveCategory = "effective_category", categoryNote = "category_note"
    }

    var partner: Partner
    var addresses: [Address]?
    /// The institutions the customer is a member of.
    var institutions: [String]?
    /// The code this store's customer registered under the asked code has now (store-prefix rule).
    var renamedTo: String?
    /// The external system a transferred customer came from, with its ids and debtor number.
    var external: Fields?
    /// The category the customer is priced by, and why (`own`, `chain default`).
    var effectiveCategory: String? = nil
    var categoryNote: String? = nil

    func text() -> String {
        let p = partner
        var lines: [String] = []
        if let renamedTo {
            lines.append(renameNote(p.code, now: renamedTo))
        }
        lines += ["\(p.code)  \(p.kind.rawValue)  \(p.displayName)\(p.deleted ? "  [deleted]" : "")"]
        let extra: [(String, String?)] = [
            ("vat_id", p.vatID), ("national_id", p.nationalID), ("country", p.country), ("phone", p.phone),
            ("email", p.email), ("currency", p.currency), ("corporate_customer", p.corporateCustomer),
            ("lowest_price", String(p.lowestPrice)), ("origin_node", p.originNode),
            ("category", effectiveCategory.map { code in categoryNote == "own" ? code : "\(code) (\(categoryNote ?? ""))" } ?? p.category),
        ]
        for (k, v) in extra { if let v { lines.append("  \(k): \(v)") } }
        if let institutions, !institutions.isEmpty { lines.append("  member of: \(institutions.joined(separator: ", "))") }
        if let external {
            func t(_ k: String) -> String { external[k]?.text ?? "-" }
            lines.append("  transferred from \(t("system")): customer \(t("external_customer_id")), address \(t("external_address_id")), debtor number \(t("debtor_number"))")
        }
        for a in addresses ?? [] {
            let at = a.institution.map { " at institution \($0)" } ?? ""
            lines.append("  address \(a.site)/\(a.seq)\(a.isBillTo ? " (bill-to)" : "")\(at): \([a.street, a.postalCode, a.city].compactMap { $0 }.joined(separator: ", "))")
        }
        return lines.joined(separator: "\n")
    }
}

extension PartnerCommand {
    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a new partner (consumer or business).")

        @OptionGroup var store: StoreOptionGroup
        @Option(help: "Partner code (mandatory, unique).") var code: String
        @Option(help: "consumer (Endkunde) or business (Geschäftskunde).") var kind: PartnerKind
        @OptionGroup var fields: PartnerFieldOptions
        @Flag(help: "Save even if another partner has the same VAT ID.") var allowDuplicateVat = false
        @Flag(help: "Do not ask the hub whether the code is free.") var offline = false
        @Flag(help: "Print the saved partner as JSON.") var json = false

        func run() async throws {
            var f = try fields.changes()
            f["code"] = .text(code)
            f["kind"] = .text(kind.rawValue)
            let partner = try Partner(fields: f)
            let node = try store.open()
            let confirmed = offline ? false : try await CodeCheck.checkOnline(store: node, partner: partner, allowDuplicateVat: allowDuplicateVat)
            let saved = try node.addPartner(partner, allowDuplicateVat: allowDuplicateVat)
            if json { try printJSON(saved) } else {
                print("added partner \(saved.code)" + (confirmed ? "" : " (offline: the code is confirmed when the store reconnects)"))
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change fields of a partner (only the options given).")

        @OptionGroup var store: StoreOptionGroup
        @Option(help: "Code of the partner to change.") var code: String
        @OptionGroup var fields: PartnerFieldOptions
        @Flag(help: "Save even if another partner has the same VAT ID.") var allowDuplicateVat = false
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let changes = try fields.changes()
            guard !changes.isEmpty else { throw FieldError(field: "fields", reason: "give at least one field to change") }
            let node = try store.open()
            try warnIfRenamed(node, code)
            let p = try node.updatePartner(code: code, changes: changes, allowDuplicateVat: allowDuplicateVat)
            if json { try printJSON(p) } else { print("updated partner \(p.code)") }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one partner with its addresses.")

        @OptionGroup var store: StoreOptionGroup
        @Option(help: "Partner code.") var code: String
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let node = try store.open()
            let p = try node.requirePartner(code: code)
            let renamedTo = try node.renamed(from: code)
            let category = try node.effectiveCategory(of: p)
            let view = PartnerView(partner: p, addresses: try node.addresses(partnerCode: code),
                                   institutions: try node.customerListing(code: p.code).institutions, renamedTo: renamedTo,
                                   external: try node.externalReference(code: p.code), effectiveCategory: category.code, categoryNote: category.note)
            if json { try printJSON(view) } else { print(view.text()) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List partners.")

        @OptionGroup var store: StoreOptionGroup
        @Flag(help: "Include deleted partners.") var includeDeleted = false
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let partners = try store.open().partners(includeDeleted: includeDeleted)
            if json { try printJSON(partners) } else {
                for p in partners { print("\(p.code)\t\(p.kind.rawValue)\t\(p.displayName)\(p.deleted ? "\t[deleted]" : "")") }
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a partner (kept as a tombstone; its documents stay).")

        @OptionGroup var store: StoreOptionGroup
        @Option(help: "Partner code.") var code: String
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let node = try store.open()
            try warnIfRenamed(node, code)
            try node.deletePartner(code: code)
            if json { try printJSON(["code": PartnerCode.normalized(code), "deleted": "true"]) } else { print("deleted partner \(PartnerCode.normalized(code))") }
        }
    }
}

/// Says on stderr when `code` was this store's customer's code before the store-prefix rule
/// renamed it and another store's customer holds it now: the command acts on that customer.
func warnIfRenamed(_ node: NodeStore, _ code: String) throws {
    guard let now = try node.renamed(from: code), let p = try node.partner(code: code),
          p.originNode != (try node.config().nodeID) else { return }
    printError(renameNote(p.code, now: now))
}

/// The note for a code the store-prefix rule took from this store's customer.
func renameNote(_ code: String, now: String) -> String {
    "note: this store's customer \(code) is now \(now) (store-prefix rule); \(code) is another store's customer"
}
