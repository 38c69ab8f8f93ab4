import Foundation
import Testing
@testable import SyncHub
import SyncModel
import SyncStore
import SyncTesting

/// The back-office transfer as a museum's back office meets it (docs/backoffice.md).
struct TransferBench {
    let world: World
    init() throws {
        world = try World()
        try publishCatalog(world.hub)
        _ = try world.hub.addSystem(name: "booking")
    }

    /// Transfers items given as JSON objects.
    func transfer(_ items: [String]) throws -> [TransferResult] {
        let body = "[" + items.joined(separator: ",") + "]"
        let decoded = try Array(body.utf8).withUnsafeBytes { try TransferDecoding.items($0) }
        return try world.hub.transferCustomers(system: "booking", items: decoded)
    }

    static func item(_ address: String, customer: String = "C1", first: String = "Ola", last: String = "Lis", extra: String = "") -> String {
        #"{"external_customer_id":"\#(customer)","external_address_id":"\#(address)","trigger":"invoice","first_name":"\#(first)","last_name":"\#(last)"\#(extra)}"#
    }
}

@Suite("The back-office transfer as its users meet it")
struct TransferRulesTests {
    @Test("an institution arrives by code or by name; an unknown one is created and the customer is never refused for it")
    func institutionByName() async throws {
        let t = try TransferBench()
        try t.world.store("A").write(.institution, op: .insert, fields: ["code": .text("MV"), "name": .text("Museumsverein  Kraków"), "kind": .text("association"), "active": .bool(true)])
        try await t.world.sync("A")
        let r = try t.transfer([
            TransferBench.item("A1", extra: #","institution":"mv""#),
            TransferBench.item("A2", extra: #","institution":"museumsverein kraków""#),
            TransferBench.item("A3", extra: #","institution":"Szkoła Podstawowa 7""#),
            TransferBench.item("A4", extra: #","institution":"szkoła  podstawowa 7""#),
        ])
        #expect(r.map(\.error) == [nil, nil, nil, nil], "\(r)")
        #expect(r.map(\.institution) == ["MV", "MV", r[2].institution, r[2].institution] && r[2].institution != nil)
        #expect(r.map(\.institutionCreated) == [false, false, true, false])
        let created = try #require(try t.world.hub.record(.institution, key: r[2].institution!))
        #expect(created["name"] == .text("Szkoła Podstawowa 7") && created["active"] == .bool(true))
        #expect(try t.world.hub.record(.address, key: "\(r[2].code!)|BOOKING|0")?["institution"] == .text(r[2].institution!))
        try await t.world.syncAll()
        #expect(try t.world.store("B").record(.institution, key: r[2].institution!) != nil)
        #expect(try t.world.hashesAgree())
    }

    @Test("a document number sent again with other content or for another customer is refused naming the field; nothing changes")
    func resentDocumentConflicts() throws {
        let t = try TransferBench()
        let invoice = #","invoice":{"external_number":"R-1","currency":"PLN","amount":"24.70"}"#
        #expect(try t.transfer([TransferBench.item("A1", extra: invoice)])[0].action == "created")
        let hash = try t.world.hub.stateHash()
        let again = try t.transfer([TransferBench.item("A1", extra: #","invoice":{"external_number":"R-1","currency":"PLN","amount":"99.00"}"#)])[0]
        #expect(again.error?.field == "invoice.amount" && again.error?.code == "conflict" && again.error?.message.contains("24.70") == true, "\(again)")
        let other = try t.transfer([TransferBench.item("A9", customer: "C9", extra: invoice)])[0]
        #expect(other.error?.field == "invoice.external_number" && other.error?.code == "conflict", "\(other)")
        #expect(try t.world.hub.stateHash() == hash)
        #expect(try t.transfer([TransferBench.item("A1", extra: invoice)])[0].action == "existing", "the same document again is no conflict")
    }

    @Test("documents are checked like a store's: an offer in another currency, a withdrawn offer, an amount of 0 are refused naming the field")
    func documentsAreChecked() throws {
        let t = try TransferBench()
        try t.world.hub.addOffer(code: "OLD", name: "Withdrawn", offerCategory: "TIX", priceMinor: 100, currency: "PLN")
        _ = try t.world.hub.updateOffer(code: "OLD", active: false)
        let r = try t.transfer([
            TransferBench.item("A1", extra: #","invoice":{"external_number":"E-1","currency":"EUR","lines":[{"offer":"ADULT","quantity":1,"unit_price":"5.00"}]}"#),
            #"{"external_customer_id":"C2","external_address_id":"A2","trigger":"pickup","first_name":"Ola","last_name":"Lis","order":{"external_number":"O-1","currency":"PLN","lines":[{"offer":"OLD","quantity":1,"unit_price":"1.00"}]}}"#,
            TransferBench.item("A3", extra: #","invoice":{"external_number":"Z-0","currency":"PLN","amount":"0.00"}"#),
        ])
        #expect(r[0].error?.field == "invoice.lines[0].offer" && r[0].error?.message.contains("PLN") == true, "\(r[0])")
        #expect(r[1].error?.field == "order.lines[0].offer" && r[1].error?.message.contains("withdrawn") == true, "\(r[1])")
        #expect(r[2].error?.field == "invoice.amount", "\(r[2])")
        #expect(try t.world.hub.record(.partner, key: "BO1") == nil, "a refused item creates no customer")
    }

    @Test("a pick-up order with an address at an institution gets the institution and its discount; its lines are labelled as the back office's prices")
    func orderAtInstitution() async throws {
        let t = try TransferBench()
        try t.world.store("A").write(.institution, op: .insert, fields: ["code": .text("SZK"), "name": .text("Szkoła"), "kind": .text("organisation"),
                                                                         "active": .bool(true)])
        try await t.world.sync("A")
        try t.world.hub.updateInstitution(code: "SZK", discount: Discount(percent: 10))
        let r = try t.transfer([#"{"external_customer_id":"C1","external_address_id":"A1","trigger":"pickup","first_name":"Ola","last_name":"Lis","institution":"SZK","order":{"external_number":"Z-1","currency":"PLN","lines":[{"offer":"ADULT","quantity":2,"unit_price":"18.00"}]}}"#])
        #expect(r[0].error == nil, "\(r)")
        let order = try Document(fields: try #require(try t.world.hub.record(.document, key: "BOOKING-ORD-Z-1")))
        #expect(order.institution == "SZK" && order.amountMinor == 3240 && order.lines.first?.source == .backoffice && order.lines.first?.discountPercent == 10)
        #expect(DocumentLine.Source.backoffice.label == "priced by the back office")
    }

    @Test("an order handed out at two stores while offline keeps both receipts and is audited as a double pick-up")
    func doublePickup() async throws {
        let t = try TransferBench()
        _ = try t.transfer([#"{"external_customer_id":"C1","external_address_id":"A1","trigger":"pickup","first_name":"Ola","last_name":"Lis","order":{"external_number":"Z-1","currency":"PLN","lines":[{"offer":"ADULT","quantity":1,"unit_price":"20.00"}]}}"#])
        try await t.world.syncAll()
        let ra = try t.world.store("A").addReceipt(forOrder: "Z-1"), rb = try t.world.store("B").addReceipt(forOrder: "Z-1")
        try await t.world.syncAll()
        let audit = try t.world.hub.audit(kind: .doublePickup)
        #expect(audit.count == 1 && audit[0].reason.contains(ra.id) && audit[0].reason.contains(rb.id), "\(audit)")
        #expect(try t.world.hub.record(.document, key: ra.id) != nil && t.world.hub.record(.document, key: rb.id) != nil)
    }

    @Test("systems and operators have a token life cycle; system names are unique ignoring case")
    func tokenLifeCycle() throws {
        let t = try TransferBench()
        #expect(refusalField { _ = try t.world.hub.addSystem(name: "Booking", series: "BK") } == "name")
        let op = try t.world.hub.addOperator(name: "anna")
        #expect(try t.world.hub.caller(token: op) != nil)
        let rotated = try t.world.hub.rotateCredential(.operator, name: "anna")
        #expect(try t.world.hub.caller(token: op) == nil && t.world.hub.caller(token: rotated) != nil)
        try t.world.hub.revokeCredential(.operator, name: "anna")
        #expect(try t.world.hub.caller(token: rotated) == nil)
        #expect(try t.world.hub.credentials(.operator).map(\.revoked) == [true])
        let system = try t.world.hub.rotateCredential(.system, name: "booking")
        #expect(try t.world.hub.caller(token: system) != nil)
        #expect(try t.world.hub.credentials(.system).first?.series == "BO")
        #expect(refusalField { try t.world.hub.revokeCredential(.system, name: "nobody") } == "name")
    }

    @Test("external ids are one id whatever their spelling: composed and decomposed letters are one; invisible and control characters are refused")
    func externalIDs() throws {
        let t = try TransferBench()
        let composed = "ADR-\u{00E9}", decomposed = "ADR-e\u{0301}"
        let r = try t.transfer([TransferBench.item(composed), TransferBench.item(decomposed)])
        #expect(r.map(\.action) == ["created", "existing"] && r[0].code == r[1].code, "\(r)")
        #expect(try t.transfer([TransferBench.item(decomposed)])[0].action == "existing", "across batches too")
        for bad in ["ADR\\u200b1", "ADR\\u00a01", "ADR\\u202e1", "ADR\\u00001", "ADR\\n1"] {
            let refused = try t.transfer([TransferBench.item(bad)])[0]
            #expect(refused.error?.field == "external_address_id", "\(bad): \(refused)")
        }
    }

    @Test("a store's delivery note reaches the back office with the customer and its external ids; fetched again until acknowledged, with the same id and cursor")
    func deliveryNotesTravelBack() async throws {
        let t = try TransferBench()
        let r = try t.transfer([TransferBench.item("A1", extra: #","debtor_number":"D-1","street":"Długa 5","city":"Gdańsk""#)])
        let code = try #require(r[0].code)
        try await t.world.syncAll()
        _ = try t.world.store("A").addPartner(consumer("P7", first: "Ewa", last: "Bąk"))
        // Offline at the store, as any document.
        let note = try t.world.store("A").addDocument(kind: .deliveryNote, partnerCode: code, addressSeq: nil, lines: [("ADULT", 2)])
        let other = try t.world.store("A").addDocument(kind: .deliveryNote, partnerCode: "P7", addressSeq: nil, lines: [("ADULT", 1)])
        #expect(note.id.contains("-L"))
        #expect(throws: FieldError.self) { try t.world.store("A").addDocument(kind: .deliveryNote, partnerCode: nil, addressSeq: nil, lines: [("ADULT", 1)]) }
        try await t.world.sync("A")

        let page = try t.world.hub.deliveryNotes(system: "booking")
        #expect(page.notes.map(\.id) == [note.id, other.id] && !page.more)
        let first = page.notes[0]
        #expect(first.customer.externalAddressID == "A1" && first.customer.externalCustomerID == "C1" && first.customer.debtorNumber == "D-1")
        #expect(first.customer.lastName == "Lis" && first.customer.street == "Długa 5" && first.amount == "40.00" && first.lines.first?.quantity == 2)
        #expect(page.notes[1].customer.externalAddressID == nil && page.notes[1].customer.lastName == "Bąk", "not this system's customer: no external ids")
        let again = try t.world.hub.deliveryNotes(system: "booking")
        #expect(again.notes.map(\.cursor) == page.notes.map(\.cursor), "delivered at least once, the same cursors")
        #expect(try t.world.hub.acknowledgeDeliveryNotes(system: "booking", through: page.notes[0].cursor) == page.notes[0].cursor)
        #expect(try t.world.hub.deliveryNotes(system: "booking").notes.map(\.id) == [other.id])
        #expect(refusalField { _ = try t.world.hub.acknowledgeDeliveryNotes(system: "booking", through: 99) } == "through")
        #expect(try t.world.hub.deliveryNotes(system: "booking", after: 0).notes.count == 2, "a back office may read again from any cursor")
    }

    @Test("a customer move treats a back office's site as a site of the default region, in both directions")
    func moveWithBackOfficeSite() async throws {
        for direction in 0..<2 {
            let t = try TransferBench()
            let code = try #require(try t.transfer([TransferBench.item("A1")])[0].code)
            _ = try t.world.store("A").addPartner(consumer("W1"))
            try t.world.store("A").addAddress(Address(partnerCode: "W1", site: "", seq: 0, street: "Nowy Świat 5"))
            try await t.world.syncAll()
            let request = direction == 0
                ? MoveRequest(currentCode: "W1", currentSeq: 0, newCode: code, newSeq: 0, fromSite: "BOOKING", site: "WAW")
                : MoveRequest(currentCode: code, currentSeq: 0, newCode: "W1", newSeq: 0, fromSite: "WAW", site: "BOOKING")
            try t.world.hub.move(request)
            try await t.world.syncAll()
            #expect(try t.world.hashesAgree(), "direction \(direction)")
        }
    }

    @Test("a store's pick-up of an order the hub does not have, or with another store's receipt, is refused; no store is blocked from handing the real order out")
    func pickupClaimsAreChecked() async throws {
        let t = try TransferBench()
        let pickup = { (order: String, receipt: String) -> Fields in
            ["order_id": .text(order), "receipt_id": .text(receipt), "node": .text("A"), "at": .text("2026-12-06T10:00:00Z")]
        }
        let reply = try t.world.push("A", [change("A", 1, hlc: 1 << 30, .orderPickup, "BOOKING-ORD-Z-9", .insert, pickup("BOOKING-ORD-Z-9", "A-R1"))])
        #expect(reply.results.first?.outcome == .rejected && reply.results.first?.reason?.contains("no order") == true, "\(reply.results)")
        _ = try t.transfer([#"{"external_customer_id":"C1","external_address_id":"A1","trigger":"pickup","first_name":"Ola","last_name":"Lis","order":{"external_number":"Z-9","currency":"PLN","lines":[{"offer":"ADULT","quantity":1,"unit_price":"20.00"}]}}"#])
        let stolen = try t.world.push("A", [change("A", 2, hlc: 2 << 30, .orderPickup, "BOOKING-ORD-Z-9", .insert, pickup("BOOKING-ORD-Z-9", "B-R1"))])
        #expect(stolen.results.first?.outcome == .rejected && stolen.results.first?.reason?.contains("not a receipt of node A") == true, "\(stolen.results)")
        try await t.world.syncAll()
        let receipt = try t.world.store("B").addReceipt(forOrder: "Z-9")
        try await t.world.syncAll()
        #expect(try t.world.hub.record(.orderPickup, key: "BOOKING-ORD-Z-9")?["receipt_id"] == .text(receipt.id))
    }
}
