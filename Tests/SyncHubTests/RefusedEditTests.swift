import Foundation
import Testing
import SyncHub
import SyncModel
import SyncNode
import SyncStore
import SyncTesting
import SyncWire

@Suite("A store whose edit the hub refused or outvoted gets the hub's row back")
struct RefusedEditTests {
    func partner(_ code: String, phone: String) -> Fields {
        var p = consumer(code).fields
        p["origin_node"] = .text("A")
        p["phone"] = .text(phone)
        return p
    }

    @Test("an edit that loses every field to a newer value is sent back, and A's next edit does not hide it")
    func outvotedEdit() throws {
        let world = try World()
        try world.push("A", [change("A", 1, hlc: 100 << 16, .partner, "P1", .insert, partner("P1", phone: "111")),
                             change("A", 2, hlc: 150 << 16, .partner, "P1", .update, ["phone": .text("222")])])
        #expect(try world.hub.feed(after: 0, limit: 100, own: ("A", 2)).changes.isEmpty)
        // B sets the value the hub already has, with a newer clock: no change, but the field's clock moves.
        try world.push("B", [change("B", 1, hlc: 300 << 16, .partner, "P1", .update, ["phone": .text("222")])])
        // A's older edit loses; A holds 333 and must get 222 back.
        try world.push("A", [change("A", 3, hlc: 200 << 16, .partner, "P1", .update, ["phone": .text("333")])])
        let back = try world.hub.feed(after: 0, limit: 100, own: ("A", 3)).changes
        #expect(back.map(\.key) == ["P1"])
        #expect(back.first?.fields["phone"] == .text("222"))
        try world.push("A", [change("A", 4, hlc: 400 << 16, .partner, "P1", .update, ["email": .text("a@b.pl")])])
        #expect(try world.hub.feed(after: 0, limit: 100, own: ("A", 4)).changes.map(\.key) == ["P1"])
    }

    @Test("an address or document sent again unchanged does not feed its row again")
    func unchangedResendQuiet() async throws {
        let world = try World()
        let a = world.store("A")
        _ = try a.addPartner(consumer("P3"))
        let address = try a.addAddress(Address(partnerCode: "P3", site: "WAW", seq: 1, street: "Prosta 1"))
        let doc = try a.addDocument(kind: .receipt, partnerCode: "P3", amountMinor: 100, currency: "PLN")
        try await world.sync("A")
        let end = try world.hub.feed(after: 0, limit: 100).nextCursor
        let seq = try world.hub.node("A").lastSeq
        let later = (HLC.nowMillis + 60_000) << 16
        try world.push("A", [change("A", seq + 1, hlc: later, .address, address.key, .update, address.fields),
                             change("A", seq + 2, hlc: later + 1, .document, doc.id, .insert, doc.fields)])
        let fed = try world.hub.feed(after: end, limit: 100).changes
        #expect(fed.isEmpty, "\(fed.map { "\($0.entity) \($0.key) \($0.fields)" })")
    }

    @Test("a refused edit of an existing row is sent back, and A's next accepted edit does not hide it")
    func refusedEdit() throws {
        let world = try World()
        try world.push("A", [change("A", 1, hlc: 100 << 16, .partner, "P2", .insert, partner("P2", phone: "111"))])
        let reply = try world.push("A", [change("A", 2, hlc: 200 << 16, .partner, "P2", .update, ["first_name": .text("")])])
        #expect(reply.results.first?.outcome == .rejected)
        let back = try world.hub.feed(after: 0, limit: 100, own: ("A", 2)).changes
        #expect(back.first?.fields["first_name"] == .text("Anna"))
        try world.push("A", [change("A", 3, hlc: 300 << 16, .partner, "P2", .update, ["phone": .text("222")])])
        #expect(try world.hub.feed(after: 0, limit: 100, own: ("A", 3)).changes.map(\.key) == ["P2"])
    }
}
