import Foundation
import Testing
import SyncModel
import SyncTesting
@testable import SyncStore

@Suite("Center parameters and codes at the store")
struct CenterParameterTests {
    @Test("a partner without a country gets the node's default country, so a wrong PESEL is refused")
    func defaultCountryChecksPESEL() throws {
        let fixture = try StoreFixture(center: CenterParameters(defaultCountry: "PL"))
        defer { fixture.remove() }
        var p = Partner(code: "1001", kind: .consumer, firstName: "Anna", lastName: "Nowak", nationalID: "44051401358")
        let error = #expect(throws: InvalidFields.self) { try fixture.store.addPartner(p) }
        #expect(error?.problems.map(\.field) == ["national_id"])
        p.nationalID = "44051401359"
        #expect(try fixture.store.addPartner(p).country == "PL")
        // Without a default the same partner is saved without the national check.
        let plain = try StoreFixture()
        defer { plain.remove() }
        p.nationalID = "44051401358"
        #expect(try plain.store.addPartner(p).country == nil)
    }

    @Test("the operator changes center parameters; each change is audited and shown by status")
    func centerChangesAudited() throws {
        let fixture = try StoreFixture()
        defer { fixture.remove() }
        let store = fixture.store
        try store.setCenter { $0.lowestPriceForNewConsumer = true; $0.defaultCountry = "PL" }
        let status = try store.status()
        #expect(status.center == CenterParameters(lowestPriceForNewBusiness: false, lowestPriceForNewConsumer: true, defaultCountry: "PL"))
        #expect(try store.audit(kind: .config).map(\.field) == ["lowest_price_consumer", "default_country"])
        #expect(try store.addPartner(anna("2001")).lowestPrice)
        #expect(throws: StoreError.self) { try store.setCenter { $0.defaultCountry = "Polska" } }
        #expect(try store.config().center.defaultCountry == "PL")
    }

    @Test("c1 and C1, and the NFC and NFD spellings of one code, are one customer at the store")
    func oneCodeOneCustomer() throws {
        let fixture = try StoreFixture()
        defer { fixture.remove() }
        let store = fixture.store
        try store.addPartner(anna("c1"))
        #expect(throws: FieldError.self) { try store.addPartner(anna("C1")) }
        #expect(try store.partner(code: "c1")?.code == "C1")
        try store.addPartner(anna("\u{17B}\u{D3}\u{141}W"))
        let nfd = "Z\u{307}O\u{301}\u{141}W"
        let error = #expect(throws: FieldError.self) { try store.addPartner(anna(nfd)) }
        #expect(error?.field == "code")
        #expect(try store.partners().count == 2)
        #expect(throws: InvalidFields.self) { try store.addPartner(anna("10\u{200B}01")) }
    }
}
