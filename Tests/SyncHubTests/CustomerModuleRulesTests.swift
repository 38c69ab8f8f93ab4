import Foundation
import Testing
@testable import SyncHub
import SyncModel
import SyncStore
import SyncTesting

@Suite("The customer module as a cashier and a back office meet it")
struct CustomerModuleRulesTests {
    /// A hub with the catalog, store A with school SZK1 (discount set at the hub) and its
    /// teacher P1, whose address 1 is at the school.
    static func school(discount: Discount = Discount(percent: 10)) async throws -> World {
        let world = try World()
        try publishCatalog(world.hub)
        let a = world.store("A")
        try await world.syncAll()
        try a.addInstitution(["code": .text("SZK1"), "name": .text("Szkoła 1"), "kind": .text("organisation")])
        _ = try a.addPartner(Partner(code: "P1", kind: .consumer, firstName: "Ewa", lastName: "Nauczycielka", category: "SCH"))
        try a.addAddress(Address(partnerCode: "P1", site: "", seq: 1, street: "Szkolna 1", institution: "SZK1"))
        try await world.sync("A")
        try world.hub.updateInstitution(code: "SZK1", discount: discount)
        try await world.syncAll()
        return world
    }

    @Test("only the hub sets an institution's discount, with decimals; a store's attempt is refused naming the rule, locally and in a push")
    func discountIsCentral() async throws {
        let world = try await Self.school(discount: try CustomerModule.parseDiscount("12.5"))
        let a = world.store("A")
        #expect(try a.institutionListing(code: "SZK1").institution.discount == "12.5")
        let quote = try a.quote(offer: "ADULT", quantity: 2, partner: "P1", addressSeq: 1)
        #expect(quote.line.unitPrice == 1250 && quote.line.discount == 313 && quote.line.lineTotal == 2187, "2 x 12.50 − 3.13 = 21.87")
        #expect { try a.updateInstitution(code: "SZK1", ["discount_hundredths": .int(500)]) } throws: { ($0 as? FieldError)?.field == "discount" }
        let pushed = try world.push("B", [change("B", 1, hlc: 1 << 40, .institution, "SZK1", .update, ["discount_percent": .int(50)])])
        #expect(pushed.results.first?.outcome == .rejected && pushed.results.first?.reason?.contains("central") == true, "\(pushed.results)")
        #expect(try world.hub.institutionListing(code: "SZK1").institution.discount == "12.5")
        #expect(refusalField { _ = try world.hub.updateInstitution(code: "SZK1", discount: nil) } == "discount")
    }

    @Test("a document by amount with an address at an institution belongs to it; at an inactive one it is refused; the listing shows members' orders and the documents placed at it")
    func documentsAtInstitution() async throws {
        let world = try await Self.school()
        let a = world.store("A")
        let invoice = try a.addDocument(kind: .invoice, partnerCode: "P1", addressSeq: 1, amountMinor: 5000)
        #expect(invoice.institution == "SZK1" && invoice.currency == "PLN")
        let elsewhere = try a.addDocument(kind: .order, partnerCode: "P1", addressSeq: nil, lines: [("ADULT", 1)])
        let listing = try a.institutionListing(code: "SZK1")
        #expect(listing.documents.map(\.id) == [invoice.id], "placed with an address at the institution")
        #expect(listing.memberOrders.map(\.id) == [elsewhere.id], "every order of every member")
        _ = try a.updateInstitution(code: "SZK1", ["active": .bool(false)])
        #expect { try a.addDocument(kind: .receipt, partnerCode: "P1", addressSeq: 1, amountMinor: 100) } throws: { ($0 as? FieldError)?.field == "institution" }
    }

    @Test("a document without a currency takes the customer's; an inactive category is refused for new customers and its customers are priced by the default")
    func currencyAndCategories() async throws {
        let world = try await Self.school()
        let a = world.store("A")
        var euro = consumer("E1"); euro.currency = "EUR"
        _ = try a.addPartner(euro)
        #expect(try a.addDocument(kind: .invoice, partnerCode: "E1", amountMinor: 1000).currency == "EUR")
        _ = try world.hub.updateCustomerCategory(code: "SCH", active: false)
        try await world.syncAll()
        #expect(throws: (any Error).self) { try a.addPartner(Partner(code: "P9", kind: .consumer, firstName: "A", lastName: "B", category: "sch")) }
        let quote = try a.quote(offer: "ADULT", quantity: 1, partner: "P1", addressSeq: nil)
        #expect(quote.customerCategory == "STD" && quote.line.unitPrice == 2000, "priced by the chain's default while SCH is inactive")
        let p1 = try #require(try a.partner(code: "P1"))
        #expect(try a.effectiveCategory(of: p1) == ("STD", "chain default; SCH is inactive"))
        let plain = Partner(code: "X", kind: .consumer, firstName: "A", lastName: "B")
        #expect(try a.effectiveCategory(of: plain) == ("STD", "chain default"))
    }

    @Test("memberships end, journaled, and the other stores follow; codes of categories and offers take the partner codes' normal form")
    func membershipsEndAndCodesNormalise() async throws {
        let world = try await Self.school()
        let a = world.store("A"), b = world.store("B")
        try a.addMember(partner: "P1", institution: "SZK1")
        try await world.syncAll()
        #expect(try b.memberships(institution: "SZK1") == [Membership(partner: "P1", institution: "SZK1")])
        try a.removeMember(partner: "p1", institution: "szk1")
        #expect(throws: FieldError.self) { try a.removeMember(partner: "P1", institution: "SZK1") }
        try await world.syncAll()
        #expect(try b.memberships(partner: "P1").isEmpty && world.hashesAgree())
        try world.hub.addCustomerCategory(code: "vip", name: "VIP")
        #expect(try world.hub.customerCategories().contains { $0.code == "VIP" })
        #expect(try a.quote(offer: "adult", quantity: 1, partner: nil, addressSeq: nil).line.offer == "ADULT")
        #expect(try DocumentLine.parseRequest("adult:2") == ("ADULT", 2))
    }
}
