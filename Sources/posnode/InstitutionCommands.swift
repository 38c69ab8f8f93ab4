import ArgumentParser
import CLISupport
import Foundation
import SyncModel
import SyncStore

struct InstitutionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "institution", abstract: "Institutions (companies, associations, organisations) and their members.",
        subcommands: [Add.self, Update.self, Show.self, List.self])


    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register an institution at this store (offline too).")
        @OptionGroup var store: StoreOptionGroup
        @Option(help: "The institution's code.") var code: String
        @Option(help: "Its name.") var name: String
        @Option(help: "company, association or organisation.") var kind: CustomerModule.InstitutionKind = .company
        @Option(parsing: .unconditional, help: "Refused unless 0: an institution's discount is central data, set at the hub (poshub institution update --discount).") var discount: String = "0"
        @OptionGroup var address: InstitutionAddressOptions
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let rate = try CustomerModule.parseDiscount(discount)
            var fields: Fields = ["code": .text(code), "name": .text(name), "kind": .text(kind.rawValue),
                                  "discount_hundredths": .int(Int64(rate.hundredths))]
            address.apply(to: &fields)
            let i = try store.open().addInstitution(fields)
            if json { try printJSON(i) } else { print("added institution \(i.code) (\(i.kind), discount \(i.discount) %)") }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change an institution (offline too); --active false deactivates it.",
            discussion: "An institution is never deleted: a deactivated one keeps its members and orders readable, and new addresses, memberships and sales at it are refused.")
        @OptionGroup var store: StoreOptionGroup
        @Option(help: "The institution's code.") var code: String
        @Option(help: "A new name.") var name: String?
        @Option(help: "company, association or organisation.") var kind: CustomerModule.InstitutionKind?
        @Option(parsing: .unconditional, help: "Refused: an institution's discount is central data, set at the hub (poshub institution update --discount).") var discount: String?
        @Option(help: "true or false.") var active: Bool?
        @OptionGroup var address: InstitutionAddressOptions
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            var fields: Fields = [:]
            if let name { fields["name"] = .text(name) }
            if let kind { fields["kind"] = .text(kind.rawValue) }
            if let discount { fields["discount_hundredths"] = .int(Int64(try CustomerModule.parseDiscount(discount).hundredths)) }
            if let active { fields["active"] = .bool(active) }
            address.apply(to: &fields)
            let institution = try store.open().updateInstitution(code: code, fields)
            if json { try printJSON(institution); return }
            print("updated institution \(InstitutionText.line(institution))")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "An institution, its member customers and the orders placed with addresses at it.")
        @OptionGroup var store: StoreOptionGroup
        @Option(help: "The institution's code.") var code: String
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let listing = try store.open().institutionListing(code: code)
            if json { try printJSON(listing) } else { print(InstitutionText.listing(listing), terminator: "") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the institutions this store holds.")
        @OptionGroup var store: StoreOptionGroup
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let all = try store.open().institutions()
            if json { try printJSON(all); return }
            for i in all { print(InstitutionText.line(i)) }
        }
    }
}

extension CustomerModule.InstitutionKind: ExpressibleByArgument {}

struct MemberCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "member", abstract: "Customers' memberships of institutions.",
                                                    subcommands: [Add.self, Remove.self, List.self])

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "End a customer's membership of an institution (journaled, offline too).")
        @OptionGroup var store: StoreOptionGroup
        @Option(help: "The customer's partner code.") var partner: String
        @Option(help: "The institution's code.") var institution: String
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            try store.open().removeMember(partner: partner, institution: institution)
            if json { try printJSON(Membership(partner: PartnerCode.normalized(partner), institution: PartnerCode.normalized(institution))) }
            else { print("\(PartnerCode.normalized(partner)) is no longer a member of \(PartnerCode.normalized(institution))") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Memberships: of a customer, of an institution, or all.")
        @OptionGroup var store: StoreOptionGroup
        @Option(help: "Only this customer's.") var partner: String?
        @Option(help: "Only this institution's.") var institution: String?
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let all = try store.open().memberships(partner: partner, institution: institution)
            if json { try printJSON(all); return }
            for m in all { print("\(m.partner)\t\(m.institution)") }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a customer a member of an institution.")
        @OptionGroup var store: StoreOptionGroup
        @Option(help: "The customer's partner code.") var partner: String
        @Option(help: "The institution's code.") var institution: String
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let added = try store.open().addMember(partner: partner, institution: institution)
            if json { try printJSON(["partner": PartnerCode.normalized(partner), "institution": institution, "added": added == nil ? "false" : "true"]); return }
            print(added == nil ? "\(partner) is already a member of \(institution)" : "\(partner) is now a member of \(institution)")
        }
    }
}

struct PriceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "price", abstract: "The price of an offer at this store, from its replica of the price table (offline too).",
        discussion: "The unit price is the price table's cell for the customer's category and the offer's category, else the offer's base price; an address at an institution takes the institution's discount off.")
    @OptionGroup var store: StoreOptionGroup
    @Option(help: "The offer's code.") var offer: String
    @Option(help: "The customer (left out: an anonymous sale, the default category).") var partner: String?
    @Option(help: "The customer's address at this site.") var address: Int?
    @Option(parsing: .unconditional, help: "Quantity (1 or more).") var quantity: Int = 1
    @Flag(help: "JSON output.") var json = false

    func validate() throws {
        if address != nil && partner == nil { throw ValidationError("--address needs --partner") }
    }

    func run() async throws {
        let q = try store.open().quote(offer: offer, quantity: quantity, partner: partner, addressSeq: address)
        if json { try printJSON(q); return }
        let l = q.line
        print("offer \(l.offer) (\(q.offerName)), category \(q.customerCategory ?? "-")")
        print("unit price: \(Document.formatAmount(l.unitPrice)) \(q.currency) (\(l.source.label))")
        if let institution = q.institution { print("institution \(institution): discount \(l.discountRate) % = \(Document.formatAmount(l.discount))") }
        // The arithmetic as the till shows it: 1 x 12.35 − 1.24 = 11.11 PLN.
        let less = l.discount > 0 ? " \u{2212} \(Document.formatAmount(l.discount))" : ""
        print("total: \(l.quantity) x \(Document.formatAmount(l.unitPrice))\(less) = \(Document.formatAmount(l.lineTotal)) \(q.currency)")
    }
}

struct CatalogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog", abstract: "The chain's customer categories, offers and price table as this store holds them (written at the hub).",
        subcommands: [Categories.self, Offers.self, Prices.self])

    struct Categories: AsyncParsableCommand {
        @OptionGroup var store: StoreOptionGroup
        @Flag(help: "JSON output.") var json = false
        func run() async throws {
            let all = try store.open().customerCategories()
            if json { try printJSON(all); return }
            for c in all { print("\(c.code)\t\(c.name)\t\(c.active ? "active" : "inactive")\(c.isDefault == true ? "\tdefault" : "")") }
        }
    }

    struct Offers: AsyncParsableCommand {
        @OptionGroup var store: StoreOptionGroup
        @Flag(help: "JSON output.") var json = false
        func run() async throws {
            let all = try store.open().offers()
            if json { try printJSON(all); return }
            for o in all { print("\(o.code)\t\(o.name)\t\(o.offerCategory)\t\(Document.formatAmount(o.priceMinor)) \(o.currency)") }
        }
    }

    struct Prices: AsyncParsableCommand {
        @OptionGroup var store: StoreOptionGroup
        @Flag(help: "JSON output.") var json = false
        func run() async throws {
            let all = try store.open().priceCells()
            if json { try printJSON(all); return }
            for c in all { print("\(c.customerCategory)\t\(c.offerCategory)\t\(Document.formatAmount(c.amountMinor)) \(c.currency)\tversion \(c.priceVersion)") }
        }
    }
}

/// An institution's own address, as `institution add` and `update` take it.
struct InstitutionAddressOptions: ParsableArguments {
    @Option(help: "Street and number of its own address.") var street: String?
    @Option(help: "City.") var city: String?
    @Option(help: "Postal code.") var postalCode: String?
    @Option(help: "Country code.") var country: String?

    func apply(to fields: inout Fields) {
        for (column, value) in [("street", street), ("city", city), ("postal_code", postalCode), ("country", country?.uppercased())] {
            if let value { fields[column] = .text(value) }
        }
    }
}
