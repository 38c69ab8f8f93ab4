import Foundation
import Testing
@testable import SyncHub
import SyncModel
import SyncStore
import SyncTesting

@Suite("Limits count what is stored, and codes that look alike are one code or refused")
struct TextLimitTests {
    let zalgo = "Z" + String(repeating: "\u{0301}", count: 5_000)

    @Test("a name of one displayed character and thousands of combining accents is refused at the till, in a push and in a transfer")
    func combiningMarksCount() async throws {
        let world = try World()
        #expect(zalgo.count == 1)
        #expect { try world.store("A").addPartner(consumer("P1", last: zalgo)) } throws: { "\($0)".contains("last") }
        let pushed = try world.push("A", [change("A", 1, hlc: 1 << 20, .partner, "P1", .insert,
                                                ["code": .text("P1"), "kind": .text("consumer"), "first_name": .text("A"), "last_name": .text(zalgo)])])
        #expect(pushed.results.first?.outcome == .rejected && pushed.results.first?.reason?.contains("last_name") == true)
        #expect(try world.hub.record(.partner, key: "P1") == nil)
        let code = "Z" + String(repeating: "\u{0301}", count: 60)
        #expect(PartnerCode.problem(PartnerCode.normalized(code), entered: true) != nil, "a 61-code-point code is longer than 40")
        _ = try world.hub.addSystem(name: "booking")
        let body = #"[{"external_customer_id":"C1","external_address_id":"A1","trigger":"invoice","first_name":"A","last_name":"\#(zalgo)"}]"#
        let items = try Array(body.utf8).withUnsafeBytes { try TransferDecoding.items($0) }
        let r = try world.hub.transferCustomers(system: "booking", items: items)
        #expect(r[0].error?.field == "last_name", "\(r[0])")
    }

    @Test("fullwidth codes are their ASCII code; a code mixing Cyrillic and Latin letters is refused; control characters are refused in every text field")
    func lookAlikes() throws {
        let world = try World()
        try publishCatalog(world.hub)
        #expect(PartnerCode.normalized("ＡＤＵＬＴ") == "ADULT")
        #expect(refusalField { try world.hub.addOffer(code: "ＡＤＵＬＴ", name: "Again", offerCategory: "TIX", priceMinor: 100, currency: "PLN") } == "code",
                "the same code as ADULT")
        #expect(refusalField { try world.hub.addOffer(code: "\u{0410}DULT", name: "Cyrillic A", offerCategory: "TIX", priceMinor: 100, currency: "PLN") } == "code")
        #expect(refusalField { try world.hub.addOfferCategory(code: "BELL", name: "Ring\u{07}\u{1B}[31m") }?.contains("name: must not contain the control character") == true)
        #expect { try world.store("A").addPartner(consumer("P2", first: "Anna\u{1B}[2J")) } throws: { "\($0)".contains("control") }
        #expect(try world.hub.offers().map(\.code) == ["ADULT"])
    }
}
