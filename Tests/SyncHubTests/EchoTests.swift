import Foundation
import Testing
import SyncHub
import SyncModel
import SyncNode
import SyncStore
import SyncTesting
import SyncWire

@Suite("Pulls leave out what the node sent itself")
struct EchoTests {
    @Test("a node's own new rows are not sent back; other nodes get them; edits, merges and renames are sent back")
    func ownRowsSkipped() async throws {
        let world = try World()
        let a = world.store("A"), b = world.store("B")
        // Both stores were online once (bootstrapped); a first snapshot sends everything.
        try await world.sync("A")
        try await world.sync("B")
        _ = try a.addPartner(consumer("1001"))
        _ = try a.addAddress(Address(partnerCode: "1001", site: "WAW", seq: 1, street: "Prosta 1"))
        _ = try a.addDocument(kind: .receipt, partnerCode: "1001", amountMinor: 1999, currency: "PLN")
        let first = try await world.sync("A")
        #expect(first.pushedEntries == 3)
        #expect(first.pulledChanges == 0, "A's own three rows came back")
        let atB = try await world.sync("B")
        #expect(atB.pulledChanges == 3)

        // B edits A's partner: the merged image goes to A.
        try b.updatePartner(code: "1001", changes: ["phone": .text("+48 600 100 200")])
        try await world.sync("B")
        let back = try await world.sync("A")
        #expect(back.pulledChanges == 1)
        #expect(try a.partner(code: "1001")?.phone == "+48 600 100 200")

        // A's own edit is merged by the hub (not a new row as sent): it comes back.
        try a.updatePartner(code: "1001", changes: ["email": .text("anna@shop.pl")])
        let edit = try await world.sync("A")
        #expect(edit.pulledChanges == 1)

        // A clash: B's 2002 reached the hub first, A's is stored as K1-2002 and comes back renamed.
        _ = try b.addPartner(consumer("2002", first: "Bea"))
        try await world.sync("B")
        _ = try a.addPartner(consumer("2002", first: "Ala"))
        let clash = try await world.sync("A")
        #expect(clash.renames.map(\.newCode) == ["K1-2002"])
        #expect(try a.partner(code: "K1-2002")?.firstName == "Ala")
        #expect(try a.partner(code: "2002")?.firstName == "Bea")
        try await world.syncAll()
        #expect(try world.hashesAgree())
    }

    @Test("a store that holds fewer of its own entries than the hub applied (restored from a backup) gets them back")
    func restoredNodeGetsItsRows() throws {
        let world = try World()
        var p = consumer("3003").fields
        p["origin_node"] = .text("A")
        try world.push("A", [change("A", 1, hlc: 1 << 16, .partner, "3003", .insert, p)])
        #expect(try world.hub.feed(after: 0, limit: 100, own: ("A", 1)).changes.isEmpty)
        #expect(try world.hub.feed(after: 0, limit: 100, own: ("A", 0)).changes.map(\.key) == ["3003"])
        #expect(try world.hub.feed(after: 0, limit: 100, own: ("B", 5)).changes.map(\.key) == ["3003"])
        // The skipped row still moves the cursor.
        let page = try world.hub.feed(after: 0, limit: 100, own: ("A", 1))
        #expect(page.nextCursor > 0 && !page.more)
    }
}
