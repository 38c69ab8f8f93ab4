import Foundation
import GRDB
import Testing
@testable import SyncHub
import SyncModel
import SyncStore
import SyncTesting

@Suite("Customer module: the catalog from the hub, institutions and priced documents from the stores")
struct CustomerModuleTests {
    @Test("the hub's categories, offers and prices reach every store; a store prices offline from its replica, with the institution's discount")
    func pricesOffline() async throws {
        let world = try World()
        try publishCatalog(world.hub)
        try await world.syncAll()
        let a = world.store("A"), b = world.store("B")
        #expect(try b.priceCells().map(\.amountMinor) == [1250])
        #expect(try b.customerCategories().first { $0.isDefault == true }?.code == "STD")
        // The school registered at A; its discount is central data, set at the hub.
        try a.addInstitution(["code": .text("SZK1"), "name": .text("Szkoła 1"), "kind": .text("organisation")])
        try await world.sync("A")
        try world.hub.updateInstitution(code: "SZK1", discount: Discount(percent: 10))
        try await world.sync("A")

        // A is offline from here on.
        _ = try a.addPartner(Partner(code: "P1", kind: .consumer, firstName: "Anna", lastName: "Nowak", category: "SCH"))
        let plain = try a.addPartner(consumer("P2"))
        #expect(plain.category == "STD", "a customer registered without a category gets the default one")
        try a.addAddress(Address(partnerCode: "P1", site: "", seq: 1, street: "Szkolna 1", city: "Warszawa", institution: "SZK1"))
        let quote = try a.quote(offer: "ADULT", quantity: 3, partner: "P1", addressSeq: 1)
        #expect(quote.line.unitPrice == 1250 && quote.line.source == .table && quote.line.discount == 375 && quote.line.lineTotal == 3375)
        let order = try a.addDocument(kind: .order, partnerCode: "P1", addressSeq: 1, lines: [("ADULT", 3)])
        #expect(order.amountMinor == 3375 && order.institution == "SZK1" && order.customerCategory == "SCH" && order.priceVersion == 2)
        let anonymous = try a.addDocument(kind: .receipt, partnerCode: nil, addressSeq: nil, lines: [("ADULT", 2)])
        #expect(anonymous.isAnonymous && anonymous.amountMinor == 4000 && anonymous.customerCategory == "STD")
        #expect(try a.customerListing(code: "P1").institutions == ["SZK1"], "an address at an institution makes the customer its member")

        // Meanwhile the hub changes the schools' price.
        try world.hub.setPrice(customerCategory: "SCH", offerCategory: "TIX", amountMinor: 1100, currency: "PLN")
        try await world.syncAll()

        // Sold as sold: the document keeps its lines; the hub's audit names the old price.
        let atHub = try world.hub.institutionListing(code: "SZK1")
        #expect(atHub.members.map(\.code) == ["P1"])
        #expect(atHub.documents.map(\.id) == [order.id])
        #expect(atHub.documents.first?.lines.first?.unitPrice == 1250 && atHub.documents.first?.amountMinor == 3375)
        let oldPrices = try world.hub.audit(kind: .oldPrice)
        #expect(oldPrices.map(\.key) == [order.id], "\(oldPrices)")
        #expect(oldPrices.first?.reason.contains("ADULT sold at 12.50, now 11.00") == true)
        #expect(try b.institutionListing(code: "SZK1").documents.map(\.amountMinor) == [3375])
        #expect(try b.documents().contains { $0.id == anonymous.id && $0.isAnonymous })
        // Priced after the sync: the new price.
        #expect(try a.quote(offer: "ADULT", partner: "P1").line.unitPrice == 1100)
        #expect(try world.hashesAgree())
    }

    @Test("an offer repriced and then withdrawn at the hub: stores price and refuse by it after a sync; their offline sales are kept as sold and audited")
    func offerRepricedAndWithdrawn() async throws {
        let world = try World()
        try publishCatalog(world.hub)
        try await world.syncAll()
        let a = world.store("A"), b = world.store("B")
        try a.addPartner(consumer("P2"))  // the default category: no cell, the base price
        let old = try a.addDocument(kind: .order, partnerCode: "P2", addressSeq: nil, lines: [("ADULT", 1)])
        #expect(old.amountMinor == 2000)

        let repriced = try world.hub.updateOffer(code: "ADULT", priceMinor: 2200)
        #expect(repriced.priceMinor == 2200 && repriced.priceVersion == 3)
        #expect(try world.hub.updateOffer(code: "ADULT", name: "Adult ticket (day)").priceVersion == 3, "a new name prices nothing: no new version")
        try await world.syncAll()
        #expect(try world.hub.audit(kind: .oldPrice).map(\.reason).contains { $0.contains("ADULT sold at 20.00, now 22.00") })
        #expect(try b.addDocument(kind: .receipt, partnerCode: nil, addressSeq: nil, lines: [("ADULT", 1)]).amountMinor == 2200)
        #expect(try b.offers().first { $0.code == "ADULT" }?.name == "Adult ticket (day)")

        // Withdrawn while A sells offline: A's sale is kept; after a sync A refuses the offer.
        try world.hub.updateOffer(code: "ADULT", active: false)
        let offline = try a.addDocument(kind: .order, partnerCode: "P2", addressSeq: nil, lines: [("ADULT", 2)])
        #expect(offline.amountMinor == 4400)
        try await world.syncAll()
        let audits = try world.hub.audit(kind: .oldPrice).filter { $0.key == offline.id }
        #expect(audits.first?.reason.contains("ADULT sold at 22.00, now withdrawn") == true, "\(audits)")
        let atHub = try await world.hub.pool.read { try ReplicatedTable.document.fetch($0, key: offline.id) }
        #expect(atHub?["amount_minor"]?.int == 4400, "the hub keeps the sale as sold")
        let refused = #expect(throws: FieldError.self) { try a.addDocument(kind: .order, partnerCode: "P2", addressSeq: nil, lines: [("ADULT", 1)]) }
        #expect(refused?.field == "offer" && refused?.reason.contains("inactive") == true)
        #expect(try world.hashesAgree())
    }

    @Test("a sale whose line the hub's new price would refuse (a total over the largest amount) is kept as sold and audited; the push goes through")
    func auditOfAPriceThatNoLongerFits() async throws {
        let world = try World()
        try publishCatalog(world.hub)
        try await world.syncAll()
        let a = world.store("A")
        try a.addPartner(consumer("P2"))
        let sold = try a.addDocument(kind: .order, partnerCode: "P2", addressSeq: nil, lines: [("ADULT", 1000)])
        #expect(sold.amountMinor == 2_000_000)
        try world.hub.updateOffer(code: "ADULT", priceMinor: ColumnRules.maxAmountMinor)
        let summary = try await world.sync("A")
        #expect(summary.applied >= 2 && summary.rejected.isEmpty, "\(summary)")
        let audit = try world.hub.audit(kind: .oldPrice).first { $0.key == sold.id }
        #expect(audit?.reason.contains("ADULT sold at 20.00, now 999999999.99") == true, "\(String(describing: audit))")
    }

    @Test("an offer category is deactivated only when none of its offers is active; offer changes are checked like new offers")
    func offerCategoryDeactivation() async throws {
        let world = try World()
        try publishCatalog(world.hub)
        /// The refusal's field error (a field the reconciler names is in `reason`).
        func refusal(_ body: () throws -> Void) -> FieldError? {
            do { try body(); return nil } catch HubError.invalid(let e) { return e } catch HubError.refused(let reason) {
                return FieldError(field: "", reason: reason)
            } catch { return nil }
        }
        let busy = refusal { try world.hub.updateOfferCategory(code: "TIX", active: false) }
        #expect(busy?.field == "active" && busy?.code == .conflict && busy?.reason.contains("1 active offer (ADULT)") == true, "\(String(describing: busy))")
        #expect(refusal { try world.hub.updateOffer(code: "NONE", priceMinor: 1) }?.code == .notFound)
        let negative = refusal { try world.hub.updateOffer(code: "ADULT", priceMinor: -1) }
        #expect(negative?.reason.contains("price_minor") == true, "\(String(describing: negative))")
        #expect(try world.hub.offers().first?.priceMinor == 2000, "nothing written")
        try world.hub.updateOffer(code: "ADULT", active: false)
        #expect(try world.hub.updateOfferCategory(code: "TIX", active: false).active == false)
        #expect(refusal { try world.hub.updateOffer(code: "ADULT", active: true) }?.reason.contains("offer category TIX is inactive") == true)
        #expect(refusal { try world.hub.addOffer(code: "CHILD", name: "Child", offerCategory: "TIX", priceMinor: 1000, currency: "PLN") }?.field == "offer_category")
        try world.hub.updateOfferCategory(code: "TIX", active: true)
        #expect(try world.hub.updateOffer(code: "ADULT", active: true).active)
    }

    @Test("a store cannot write the central master data, locally or by a push; the refusal names the record")
    func storesCannotWriteCatalog() async throws {
        let world = try World()
        try publishCatalog(world.hub)
        try await world.syncAll()
        let a = world.store("A")
        do {
            try a.write(.price, op: .update, key: "SCH|TIX", fields: ["amount_minor": .int(1)])
            Issue.record("a store changed the price table")
        } catch let e as StoreError {
            #expect("\(e)".contains("price") && "\(e)".contains("SCH|TIX") && "\(e)".contains("hub"), "\(e)")
        }
        let reply = try world.push("A", [change("A", 1, hlc: 1 << 20, .price, "SCH|TIX", .update, ["amount_minor": .int(1)])])
        #expect(reply.results.first?.outcome == .rejected)
        #expect(reply.results.first?.reason?.contains("price SCH|TIX: central master data") == true, "\(reply.results)")
        #expect(try world.hub.priceCells().first?.amountMinor == 1250)
    }

    @Test("unknown or inactive references, a negative price, a discount over 100 % and a currency that does not match are refused naming the field, nothing written")
    func badInput() async throws {
        let world = try World()
        try publishCatalog(world.hub)
        func field(_ body: () throws -> Void) -> String? {
            do { try body(); return nil } catch let e as FieldError { return e.field } catch let e as InvalidFields { return e.problems.first?.field } catch let e as HubError {
                if case .invalid(let f) = e { return f.field }
                return "\(e)"
            } catch { return "\(error)" }
        }
        let hub = world.hub
        #expect(field { try hub.setPrice(customerCategory: "VIP", offerCategory: "TIX", amountMinor: 100, currency: "PLN") } == "customer_category")
        #expect(field { try hub.setPrice(customerCategory: "SCH", offerCategory: "TIX", amountMinor: 100, currency: "EUR") } == "currency")
        #expect(field { try hub.setPrice(customerCategory: "SCH", offerCategory: "TIX", amountMinor: -1, currency: "PLN") } != nil)
        #expect(field { try hub.addOffer(code: "X", name: "X", offerCategory: "NONE", priceMinor: 100, currency: "PLN") } == "offer_category")
        #expect(field { try hub.addOffer(code: "X", name: "X", offerCategory: "TIX", priceMinor: 100, currency: "EUR") } == "currency")
        #expect(field { try hub.addCustomerCategory(code: "SCH", name: "again") } == "code")
        #expect(field { try hub.updateCustomerCategory(code: "STD", active: false) } == "active", "the default category cannot be deactivated")
        #expect(try hub.priceCells().map(\.amountMinor) == [1250])
        #expect(try hub.offers().map(\.code) == ["ADULT"])

        // One default: making SCH the default ends STD's.
        try hub.updateCustomerCategory(code: "SCH", isDefault: true)
        #expect(try hub.customerCategories().filter { $0.isDefault == true }.map(\.code) == ["SCH"])
        try hub.updateCustomerCategory(code: "STD", active: false)
        try await world.syncAll()

        let a = world.store("A")
        #expect(field { try a.addPartner(Partner(code: "P1", kind: .consumer, firstName: "A", lastName: "B", category: "VIP")) } == "category")
        #expect(field { try a.addPartner(Partner(code: "P1", kind: .consumer, firstName: "A", lastName: "B", category: "STD")) } == "category",
                "an inactive category takes no new customers")
        #expect(try a.partner(code: "P1") == nil)
        _ = try a.addPartner(consumer("P1"))
        #expect(try a.partner(code: "P1")?.category == "SCH")
        #expect(field { try a.addInstitution(["code": .text("I1"), "name": .text("I"), "discount_percent": .int(10)]) } == "discount", "a discount is central data")
        #expect(throws: (any Error).self) { try world.hub.updateInstitution(code: "I1", discount: Discount(percent: 10)) }
        #expect(field { try a.addInstitution(["code": .text("I1"), "name": .text("I"), "kind": .text("club")]) } == "kind")
        #expect(field { try a.addMember(partner: "P1", institution: "NONE") } == "institution")
        #expect(field { try a.addAddress(Address(partnerCode: "P1", site: "", seq: 1, institution: "NONE")) } == "institution")
        #expect(field { try a.addDocument(kind: .order, partnerCode: "P1", addressSeq: nil, lines: [("NOPE", 1)]) } == "offer")
        #expect(field { try a.addDocument(kind: .order, partnerCode: nil, addressSeq: nil, lines: [("ADULT", 1)]) } == "partner")
        #expect(try a.documents().isEmpty && a.institutions().isEmpty && a.addresses(partnerCode: "P1").isEmpty)
    }

    @Test("a price list is imported as one version of the table; one bad cell refuses the whole list, naming the cell; the stores receive every cell")
    func priceListImport() async throws {
        let world = try World()
        try publishCatalog(world.hub)
        let hub = world.hub
        let before = try hub.priceTableVersion()
        let good = [PriceCellInput(customerCategory: "STD", offerCategory: "TIX", amountMinor: 1900, currency: "PLN"),
                    PriceCellInput(customerCategory: "SCH", offerCategory: "TIX", amountMinor: 1100, currency: "PLN")]
        for (bad, expected) in [(PriceCellInput(customerCategory: "VIP", offerCategory: "TIX", amountMinor: 1, currency: "PLN"), "cell 3 (VIP x TIX): no customer category VIP"),
                                (PriceCellInput(customerCategory: "STD", offerCategory: "TIX", amountMinor: 1, currency: "EUR"), "cell 3 (STD x TIX): offer ADULT"),
                                (PriceCellInput(customerCategory: "STD", offerCategory: "TIX", amountMinor: 5, currency: "PLN"), "cell 3 (STD x TIX): the same cell is given twice")] {
            do {
                try hub.setPrices(good + [bad])
                Issue.record("a list with a bad cell was imported")
            } catch let HubError.invalid(e) {
                #expect(e.reason.contains(expected), "\(e.reason)")
            }
        }
        #expect(try hub.priceCells().map(\.amountMinor) == [1250], "nothing of a refused list is written")
        #expect(try hub.setPrices(good) == 2)
        #expect(try hub.priceCells().map(\.priceVersion) == [before + 1, before + 1], "one version for the whole list")
        try await world.syncAll()
        #expect(try world.store("B").priceCells().map(\.amountMinor) == [1100, 1900])
        #expect(try world.store("A").quote(offer: "ADULT").line.unitPrice == 1900, "an anonymous sale: the default category's new cell")
    }

    @Test("a deactivated institution stays readable with its members and orders; new addresses, memberships and sales at it are refused, at every store")
    func institutionDeactivated() async throws {
        let world = try World()
        try publishCatalog(world.hub)
        try await world.syncAll()
        let a = world.store("A"), b = world.store("B")
        _ = try a.addPartner(consumer("P1"))
        try a.addInstitution(["code": .text("SZK1"), "name": .text("Szkoła 1")])
        try a.addAddress(Address(partnerCode: "P1", site: "", seq: 1, street: "Szkolna 1", institution: "SZK1"))
        let order = try a.addDocument(kind: .order, partnerCode: "P1", addressSeq: 1, lines: [("ADULT", 1)])
        let changed = try a.updateInstitution(code: "SZK1", ["active": .bool(false)])
        #expect(changed.active == false)
        #expect(throws: (any Error).self) { try a.updateInstitution(code: "SZK1", ["origin_node": .text("B")]) }
        #expect(throws: StoreError.self) { try a.updateInstitution(code: "NONE", ["active": .bool(false)]) }
        try await world.syncAll()
        #expect(try world.hub.institutionListing(code: "SZK1").institution.active == false)
        for store in [a, b] {
            let listing = try store.institutionListing(code: "SZK1")
            #expect(listing.documents.map(\.id) == [order.id] && listing.members.map(\.code) == ["P1"])
        }
        _ = try b.addPartner(consumer("P2"))
        do {
            try b.addMember(partner: "P2", institution: "SZK1")
            Issue.record("a membership of an inactive institution was added")
        } catch let e as FieldError { #expect(e.field == "institution" && e.reason.contains("inactive"), "\(e)") }
        do {
            _ = try a.addDocument(kind: .order, partnerCode: "P1", addressSeq: 1, lines: [("ADULT", 1)])
            Issue.record("a sale at an inactive institution was written")
        } catch let e as FieldError { #expect(e.field == "institution" && e.reason.contains("inactive"), "\(e)") }
        #expect(try a.documents().count == 1)
        try await world.syncAll()
        #expect(try world.hashesAgree())
    }

    @Test("a customer renamed by the store-prefix rule keeps its category and memberships; the institution's listing follows")
    func renameKeepsMemberships() async throws {
        let world = try World()
        try publishCatalog(world.hub)
        try await world.syncAll()
        let a = world.store("A"), b = world.store("B")
        _ = try b.addPartner(consumer("1001", first: "Jan"))
        try await world.sync("B")
        // A registered 1001 too, offline, with an institution.
        _ = try a.addPartner(Partner(code: "1001", kind: .consumer, firstName: "Anna", lastName: "Nowak", category: "SCH"))
        try a.addInstitution(["code": .text("SZK1"), "name": .text("Szkoła 1")])
        try a.addMember(partner: "1001", institution: "SZK1")
        try await world.syncAll()
        let listing = try world.hub.institutionListing(code: "SZK1")
        #expect(listing.members.map(\.code) == ["K1-1001"])
        #expect(listing.members.first?.category == "SCH")
        #expect(try a.customerListing(code: "K1-1001").institutions == ["SZK1"])
        #expect(try world.hashesAgree())
    }

    @Test("two stores register the same institution code offline: the later one gets its store prefix, and its members, addresses and orders follow")
    func institutionPrefixRule() async throws {
        let world = try World()
        try publishCatalog(world.hub)
        try await world.syncAll()
        let a = world.store("A"), b = world.store("B")
        for (store, name) in [(a, "Szkoła Warszawa"), (b, "Szkoła Kraków")] {
            try store.addInstitution(["code": .text("SZK1"), "name": .text(name)])
        }
        _ = try a.addPartner(consumer("PA"))
        _ = try b.addPartner(consumer("PB"))
        try b.addAddress(Address(partnerCode: "PB", site: "", seq: 1, street: "Szkolna 2", institution: "SZK1"))
        let order = try b.addDocument(kind: .order, partnerCode: "PB", addressSeq: 1, lines: [("ADULT", 1)])
        try a.addMember(partner: "PA", institution: "SZK1")
        try await world.sync("A")
        let summary = try await world.sync("B")
        #expect(summary.renames.map { "\($0.entity) \($0.oldCode)->\($0.newCode)" } == ["institution SZK1->K2-SZK1"])
        try await world.syncAll()

        #expect(try world.hub.institutionListing(code: "SZK1").institution.name == "Szkoła Warszawa", "the first keeps its code and its data")
        let renamed = try world.hub.institutionListing(code: "K2-SZK1")
        #expect(renamed.institution.name == "Szkoła Kraków")
        #expect(renamed.members.map(\.code) == ["PB"])
        #expect(renamed.documents.map(\.id) == [order.id])
        #expect(try b.institutionListing(code: "K2-SZK1").documents.first?.institution == "K2-SZK1")
        #expect(try b.customerListing(code: "PB").institutions == ["K2-SZK1"])
        #expect(try world.hub.institutionListing(code: "SZK1").members.map(\.code) == ["PA"])
        #expect(try world.hub.audit(kind: .rename).contains { $0.entity == "institution" && $0.newValue == "K2-SZK1" })
        #expect(try world.hashesAgree())
    }

    @Test("a customer moved between sites keeps its memberships and category under its new code")
    func moveKeepsMemberships() async throws {
        let world = try World()
        let a = world.store("A"), b = world.store("B")
        // The customer at site KRK (B), registered before the chain had categories, is the
        // same person as C1 at WAW (A).
        _ = try b.addPartner(Partner(code: "K7", kind: .consumer, firstName: "Anna", lastName: "Nowak", country: "PL"))
        try b.addAddress(Address(partnerCode: "K7", site: "", seq: 0, street: "Długa 1", city: "Kraków"))
        try await world.syncAll()
        try publishCatalog(world.hub)
        try await world.syncAll()
        _ = try a.addPartner(Partner(code: "C1", kind: .consumer, firstName: "Anna", lastName: "Nowak", category: "SCH"))
        try a.addAddress(Address(partnerCode: "C1", site: "", seq: 0, street: "Krótka 2", city: "Warszawa"))
        try a.addInstitution(["code": .text("SZK1"), "name": .text("Szkoła 1")])
        try a.addMember(partner: "C1", institution: "SZK1")
        try await world.syncAll()
        #expect(try world.hub.customerListing(code: "K7").category == nil)
        try world.hub.move(MoveRequest(currentCode: "C1", currentSeq: 0, newCode: "K7", newSeq: 0, fromSite: "KRK", site: "WAW"))
        try await world.syncAll()
        #expect(try world.hub.customerListing(code: "K7").institutions == ["SZK1"])
        #expect(try world.hub.customerListing(code: "K7").category == "SCH")
        #expect(try a.customerListing(code: "K7").institutions == ["SZK1"])
        #expect(try world.hashesAgree())
    }
}
