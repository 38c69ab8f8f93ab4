import Foundation
import GRDB
import Testing
import SyncHub
import SyncModel
import SyncStore
import SyncTesting

@Suite("The hub's feed after a push")
struct FeedOrderTests {
    @Test("positions come from the feed's counter row: removing the newest feed rows never gives their positions out again")
    func counterNeverGoesBack() async throws {
        let world = try World()
        _ = try world.store("A").addPartner(consumer("P1"))
        _ = try world.store("A").addPartner(consumer("P2"))
        try await world.syncAll()
        let last = try await world.hub.pool.read { try Int64.fetchOne($0, sql: "SELECT MAX(gseq) FROM hub_feed") } ?? 0
        #expect(try await world.hub.pool.read { try Int64.fetchOne($0, sql: "SELECT last FROM hub_feed_counter") } == last)
        // The newest rows go (as a scrub or a hand's repair could take them).
        try await world.hub.pool.write { try $0.execute(sql: "DELETE FROM hub_feed WHERE gseq >= ?", arguments: [last - 1]) }
        _ = try world.store("B").addPartner(consumer("Q1"))
        try await world.sync("B")
        let q1 = try await world.hub.pool.read { try Int64.fetchOne($0, sql: "SELECT feed_gseq FROM partner WHERE code = 'Q1'") }
        #expect(q1 == last + 1, "a new position, not one a store may already have read past")
    }

    @Test("each record once, in the order of its last change, across multi-row insert chunks and across pushes")
    func lastChangeOrder() throws {
        let world = try World()
        // 301 partners (more than two 128-row chunks and a remainder), then edits of partners
        // 7 and 150 in the same push: those two move behind all the others.
        var changes: [Change] = []
        for i in 1...301 {
            var p = consumer(String(format: "P%03d", i)).fields
            p["origin_node"] = .text("A")
            changes.append(change("A", Int64(i), hlc: UInt64(i) << 16, .partner, String(format: "P%03d", i), .insert, p))
        }
        changes.append(change("A", 302, hlc: 302 << 16, .partner, "P150", .update, ["phone": .text("+48 600 000 150")]))
        changes.append(change("A", 303, hlc: 303 << 16, .partner, "P007", .update, ["phone": .text("+48 600 000 007")]))
        let reply = try world.push("A", changes)
        #expect(reply.results.allSatisfy { $0.outcome == .applied })

        var expected = (1...301).map { String(format: "P%03d", $0) }.filter { $0 != "P007" && $0 != "P150" }
        expected += ["P150", "P007"]
        let page = try world.hub.feed(after: 0, limit: 1000)
        #expect(page.changes.map(\.key) == expected)
        #expect(page.changes.map(\.seq) == page.changes.map(\.seq).sorted(), "global sequence rises along the feed")
        #expect(Set(page.changes.map(\.seq)).count == expected.count)
        // A record's feed row carries the hub clock of its last change in the push.
        let hlc = Dictionary(uniqueKeysWithValues: page.changes.map { ($0.key, $0.hlc) })
        #expect(hlc["P007"] == HLC(rawValue: reply.hubHLC))
        #expect(hlc["P150"]! < hlc["P007"]! && hlc["P001"]! < hlc["P150"]!)
        // The edits were taken as sent onto A's own rows: the rows are A's images as of the
        // edits (not of the inserts), so a store of A holding only the inserts gets them.
        #expect(try world.hub.feed(after: 0, limit: 1000, own: ("A", 303)).changes.isEmpty)
        let onlyInserts = try world.hub.feed(after: 0, limit: 1000, own: ("A", 301)).changes
        #expect(onlyInserts.map(\.key) == ["P150", "P007"])
        #expect(onlyInserts.first?.fields["phone"] == .text("+48 600 000 150"))

        // A later push re-sequences an existing record past everything before it.
        try world.push("A", [change("A", 304, hlc: 304 << 16, .partner, "P001", .update, ["phone": .text("+48 600 000 001")])])
        let after = try world.hub.feed(after: page.nextCursor, limit: 1000)
        #expect(after.changes.map(\.key) == ["P001"])
        #expect(try world.hub.feed(after: 0, limit: 1000).changes.count == 301)
    }

    @Test("a record edited twice in one push by the node whose image it was stays that node's echo; another node's edit between makes it not")
    func repeatedEditsKeepTheEcho() throws {
        let world = try World()
        var p = consumer("E1").fields
        p["origin_node"] = .text("A")
        var q = consumer("E2").fields
        q["origin_node"] = .text("A")
        try world.push("A", [change("A", 1, hlc: 1 << 16, .partner, "E1", .insert, p), change("A", 2, hlc: 2 << 16, .partner, "E2", .insert, q)])
        // B edits E2, so E2 is not A's own image any more.
        try world.push("B", [change("B", 1, hlc: 3 << 16, .partner, "E2", .update, ["email": .text("b@b.pl")])])
        let reply = try world.push("A", [
            change("A", 3, hlc: 4 << 16, .partner, "E1", .update, ["phone": .text("+48 1")]),
            change("A", 4, hlc: 5 << 16, .partner, "E1", .update, ["phone": .text("+48 2")]),
            change("A", 5, hlc: 6 << 16, .partner, "E2", .update, ["phone": .text("+48 3")]),
            change("A", 6, hlc: 7 << 16, .partner, "E2", .update, ["phone": .text("+48 4")]),
        ])
        #expect(reply.results.allSatisfy { $0.outcome == .applied })
        let own = try world.hub.feed(after: 0, limit: 100, own: ("A", 6)).changes
        #expect(own.map(\.key) == ["E2"], "E1 is exactly A's image: A's pulls skip it; E2 carries B's e-mail")
        #expect(own.first?.fields["email"] == .text("b@b.pl"))
    }

    @Test("a pull skips the node's own images without counting them: one page of one row passes all of them")
    func ownImagesDoNotFillPages() async throws {
        let world = try World()
        for i in 1...10 { _ = try world.store("A").addPartner(consumer("A\(i)")) }
        try await world.sync("A")
        _ = try world.store("B").addPartner(consumer("B1"))
        _ = try world.store("B").addPartner(consumer("B2"))
        try await world.sync("B")
        let first = try world.hub.feed(after: 0, limit: 1, own: ("A", 10))
        #expect(first.changes.map(\.key) == ["B1"])
        #expect(first.more)
        let second = try world.hub.feed(after: first.nextCursor, limit: 1, own: ("A", 10))
        #expect(second.changes.map(\.key) == ["B2"])
        #expect(!second.more)
        #expect(second.nextCursor == (try world.hub.feedEnd()))
        // A store that does not hold them (a lower `own`) gets A's images, in pages of one.
        #expect(try world.hub.feed(after: 0, limit: 1, own: ("A", 0)).changes.map(\.key) == ["A1"])
    }

    @Test("the hub store opens its writing connection with the hub's page cache")
    func hubWriterCache() throws {
        let world = try World()
        let size = try world.hub.pool.write { try Int.fetchOne($0, sql: "PRAGMA cache_size") }
        #expect(size == -StoreOptions.hubWriterCacheMiB * 1024)
    }
}
