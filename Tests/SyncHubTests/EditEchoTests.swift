import Foundation
import Testing
import SyncHub
import SyncModel
import SyncNode
import SyncStore
import SyncTesting
import SyncWire

@Suite("Pulls leave out a store's own edits the hub took as sent")
struct EditEchoTests {
    @Test("edits of a row the store holds exactly as the hub does are not sent back; after another store's change they are")
    func ownEditsSkipped() async throws {
        let world = try World()
        let a = world.store("A"), b = world.store("B")
        try await world.sync("A")
        try await world.sync("B")
        // Created and edited in one push, then edited again in a later push.
        _ = try a.addPartner(consumer("1001"))
        _ = try a.updatePartner(code: "1001", changes: ["phone": .text("+48 600 100 200")])
        #expect(try await world.sync("A").pulledChanges == 0)
        _ = try a.updatePartner(code: "1001", changes: ["email": .text("anna@shop.pl")])
        #expect(try await world.sync("A").pulledChanges == 0)
        #expect(try await world.sync("B").pulledChanges == 1)

        // B changes the row: A's next edit lands on B's image, so the merged row comes back.
        _ = try b.updatePartner(code: "1001", changes: ["salutation": .text("Pani")])
        try await world.sync("B")
        _ = try a.updatePartner(code: "1001", changes: ["phone": .text("+48 600 999 999")])
        let merged = try await world.sync("A")
        #expect(merged.pulledChanges == 1)
        #expect(try a.partner(code: "1001")?.salutation == "Pani")
        try await world.syncAll()
        #expect(try world.hashesAgree())
    }

    @Test("hand-made pushes: an edit as sent keeps A's own row A's; after B's edit, or when the hub renamed the row, it comes back")
    func handMadePushes() throws {
        let world = try World()
        func partner(_ code: String) -> Fields {
            var p = consumer(code).fields
            p["origin_node"] = .text("A")
            return p
        }
        try world.push("A", [change("A", 1, hlc: 300 << 16, .partner, "4004", .insert, partner("4004")),
                             change("A", 2, hlc: 301 << 16, .partner, "4004", .update, ["phone": .text("1")])])
        #expect(try world.hub.feed(after: 0, limit: 100, own: ("A", 2)).changes.isEmpty)
        try world.push("A", [change("A", 3, hlc: 302 << 16, .partner, "4004", .update, ["email": .text("a@b.pl")])])
        #expect(try world.hub.feed(after: 0, limit: 100, own: ("A", 3)).changes.isEmpty)
        #expect(try world.hub.feed(after: 0, limit: 100, own: ("B", 0)).changes.first?.fields["email"] == .text("a@b.pl"))

        try world.push("B", [change("B", 1, hlc: 400 << 16, .partner, "4004", .update, ["salutation": .text("Pan")])])
        #expect(try world.hub.feed(after: 0, limit: 100, own: ("A", 3)).changes.map(\.key) == ["4004"])
        try world.push("A", [change("A", 4, hlc: 500 << 16, .partner, "4004", .update, ["phone": .text("2")])])
        #expect(try world.hub.feed(after: 0, limit: 100, own: ("A", 4)).changes.map(\.key) == ["4004"])

        // B's 5005 came first: A's is stored as K1-5005 and A's edit (of "5005") is mapped onto it.
        var b5005 = consumer("5005").fields
        b5005["origin_node"] = .text("B")
        try world.push("B", [change("B", 2, hlc: 600 << 16, .partner, "5005", .insert, b5005)])
        let reply = try world.push("A", [change("A", 5, hlc: 700 << 16, .partner, "5005", .insert, partner("5005")),
                                         change("A", 6, hlc: 701 << 16, .partner, "5005", .update, ["phone": .text("3")])])
        #expect(reply.results.first?.newCode == "K1-5005")
        #expect(try world.hub.feed(after: 0, limit: 100, own: ("A", 6)).changes.map(\.key).contains("K1-5005"))
    }
}
