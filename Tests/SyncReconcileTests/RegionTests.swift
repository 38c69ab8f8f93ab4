import Foundation
import GRDB
import Testing
import SyncHub
import SyncModel
import SyncReconcile
import SyncStore
import SyncTesting

@Suite("Replication regions: a store gets its region's customers and documents")
struct RegionTests {
    /// A and C in region NORTH, B in SOUTH.
    static func world() throws -> World {
        try World(regions: ["A": "NORTH", "B": "SOUTH", "C": "NORTH"])
    }

    /// `world()` with A's customer 1001 (NORTH) and B's 2001 (SOUTH), synced everywhere.
    static func northAndSouth() async throws -> World {
        let world = try Self.world()
        try Self.customer(world.store("A"), "1001", site: "WAW")
        try Self.customer(world.store("B"), "2001", site: "KRK")
        try await world.syncAll()
        return world
    }

    /// A customer with its bill-to at `site` and one receipt.
    static func customer(_ store: NodeStore, _ code: String, site: String, first: String = "Anna") throws {
        _ = try store.addPartner(consumer(code, first: first))
        _ = try store.addAddress(Address(partnerCode: code, site: site, seq: 0, street: "Prosta 1", city: site))
        _ = try store.addDocument(kind: .receipt, partnerCode: code, amountMinor: 1999, currency: "PLN")
    }

    @Test("records stay in the region of the node that created them, edits included; node hashes equal their region's hub hash")
    func regionalPulls() async throws {
        let world = try await Self.northAndSouth()
        let a = world.store("A"), b = world.store("B"), c = world.store("C")

        #expect(try c.partner(code: "1001")?.firstName == "Anna")
        #expect(try c.documents(partnerCode: "1001").count == 1)
        #expect(try c.partner(code: "2001") == nil)
        #expect(try c.documents(partnerCode: "2001").isEmpty)
        #expect(try b.partner(code: "1001") == nil)
        #expect(try world.hub.partnerExists(code: "2001"))

        // C's edit of A's customer goes to A; the record stays in NORTH.
        _ = try c.updatePartner(code: "1001", changes: ["phone": .text("+48 600 100 200")])
        try await world.syncAll()
        #expect(try a.partner(code: "1001")?.phone == "+48 600 100 200")
        #expect(try b.partner(code: "1001") == nil)

        let north = try world.hub.stateHash(region: "NORTH"), south = try world.hub.stateHash(region: "SOUTH")
        #expect(try a.stateHash() == north)
        #expect(try c.stateHash() == north)
        #expect(try b.stateHash() == south)
        #expect(north != south)
        #expect(try world.hub.stateHash() != north)
        #expect(try world.hub.regionStateHashes() == ["NORTH": north, "SOUTH": south])

        // A pull that finds nothing of its region still moves the cursor to the end of the feed.
        let end = try world.hub.feed(after: 0, limit: 100).nextCursor
        _ = try b.addPartner(consumer("2002"))
        try await world.sync("B")
        let page = try world.hub.feed(after: end, limit: 100, region: "NORTH")
        #expect(page.changes.isEmpty)
        #expect(page.nextCursor > end)
        #expect(page.nextCursor == (try world.hub.feed(after: 0, limit: 100).nextCursor))
    }

    @Test("a new node's snapshot holds its region only")
    func regionalSnapshot() async throws {
        let world = try await Self.northAndSouth()
        try world.addNode("D", site: "POZ", series: "K4", region: "SOUTH")
        try await world.sync("D")
        let d = world.store("D")
        #expect(try d.partner(code: "2001") != nil)
        #expect(try d.partner(code: "1001") == nil)
        #expect(try d.stateHash() == world.hub.stateHash(region: "SOUTH"))
    }

    @Test("codes are unique across the chain: an offline code another region already has gets the store prefix")
    func clashAcrossRegions() async throws {
        let world = try Self.world()
        let a = world.store("A"), b = world.store("B")
        try await world.sync("A")
        try Self.customer(b, "1001", site: "KRK", first: "Bea")
        try await world.sync("B")
        try Self.customer(a, "1001", site: "WAW", first: "Ala")
        let summary = try await world.sync("A")
        #expect(summary.renames.map(\.newCode) == ["K1-1001"])
        #expect(try a.partner(code: "K1-1001")?.firstName == "Ala")
        #expect(try a.documents(partnerCode: "K1-1001").count == 1)
        #expect(try a.partner(code: "1001") == nil, "B's 1001 is in the other region")
        try await world.syncAll()
        #expect(try a.stateHash() == world.hub.stateHash(region: "NORTH"))
        #expect(try b.stateHash() == world.hub.stateHash(region: "SOUTH"))
    }

    @Test("a customer move between sites of different regions is refused with condition 8; within a region it is carried out")
    func moveAcrossRegions() async throws {
        let world = try Self.world()
        try Self.customer(world.store("A"), "1001", site: "WAW")
        try Self.customer(world.store("B"), "2001", site: "KRK")
        try Self.customer(world.store("C"), "3001", site: "GDA")
        try await world.syncAll()
        let before = try world.hub.stateHash()

        let across = MoveRequest(currentCode: "1001", currentSeq: 0, newCode: "2001", newSeq: 0, fromSite: "KRK", site: "WAW")
        let error = #expect(throws: MoveRefused.self) { try world.hub.move(across) }
        #expect(error?.violations.map(\.condition) == [.sitesShareCustomerData])
        #expect(error?.description.contains("site WAW is in region 'NORTH', site KRK is in region 'SOUTH'") == true)
        #expect(try world.hub.stateHash() == before, "a refused move changes nothing")

        try world.hub.move(MoveRequest(currentCode: "1001", currentSeq: 0, newCode: "3001", newSeq: 0, fromSite: "GDA", site: "WAW"))
        try await world.syncAll()
        #expect(try world.store("A").documents(partnerCode: "1001").isEmpty)
        #expect(try world.store("A").documents(partnerCode: "3001").count == 2, "C's receipt and A's re-pointed one")
        #expect(try world.store("A").stateHash() == world.hub.stateHash(region: "NORTH"))
        #expect(try world.store("B").stateHash() == world.hub.stateHash(region: "SOUTH"))
    }

    @Test("a pushed move naming another region's site is refused at the hub with condition 8 only")
    func pushedMoveAcrossRegions() async throws {
        let world = try await Self.northAndSouth()
        let before = try world.hub.stateHash()
        let request = MoveRequest(currentCode: "1001", currentSeq: 0, newCode: "2001", newSeq: 0, fromSite: "KRK")
        let seq = Int64(try world.hub.node("A").lastSeq + 1)
        let reply = try world.push("A", [change("A", seq, hlc: 1 << 40, .move, "m1", .insert, request.fields)])
        #expect(reply.results.first?.outcome == .rejected)
        let reason = reply.results.first?.reason ?? ""
        #expect(reason.contains("condition 8"), "\(reason)")
        for other in 1...7 { #expect(!reason.contains("condition \(other) "), "\(reason)") }
        #expect(try world.hub.stateHash() == before)
    }

    @Test("the hub refuses a node's changes to another region's records: partner edits, addresses, documents")
    func crossRegionChangesRefused() async throws {
        let world = try await Self.northAndSouth()
        let before = try world.hub.stateHash()
        var doc = try #require(try world.store("B").documents(partnerCode: "2001").first)
        doc.id = "B-R99"
        doc.partnerCode = "1001"
        let seq = Int64(try world.hub.node("B").lastSeq)
        let reply = try world.push("B", [
            change("B", seq + 1, hlc: 1 << 40, .partner, "1001", .update, ["phone": .text("+48 600 000 000")]),
            change("B", seq + 2, hlc: 1 << 40, .address, "1001|KRK|1", .insert,
                   Address(partnerCode: "1001", site: "KRK", seq: 1, street: "Floriańska 1").fields),
            change("B", seq + 3, hlc: 1 << 40, .document, doc.id, .insert, doc.fields),
            change("B", seq + 4, hlc: 1 << 40, .partner, "1001", .delete, [:]),
        ])
        #expect(reply.results.map(\.outcome) == [.rejected, .rejected, .rejected, .rejected])
        for r in reply.results {
            #expect(r.reason?.contains("partner 1001 belongs to region 'NORTH', node B replicates region 'SOUTH'") == true, "\(r.reason ?? "")")
            #expect(r.code == "outside-region")
        }
        #expect(try world.hub.stateHash() == before)
    }

    @Test("regional pulls page through interleaved regions in feed order, and use the region index")
    func paging() async throws {
        let world = try Self.world()
        for i in 1...5 {
            _ = try world.store("A").addPartner(consumer("A\(i)"))
            try await world.sync("A")
            _ = try world.store("B").addPartner(consumer("B\(i)"))
            try await world.sync("B")
        }
        var cursor: Int64 = 0, keys: [String] = [], more = true
        while more {
            let page = try world.hub.feed(after: cursor, limit: 2, region: "NORTH")
            keys += page.changes.map(\.key)
            #expect(page.nextCursor > cursor || !page.more)
            (cursor, more) = (page.nextCursor, page.more)
        }
        #expect(keys == ["A1", "A2", "A3", "A4", "A5"])
        let plan = try await world.hub.pool.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT gseq FROM hub_feed WHERE region = ? AND region <> '' AND gseq > ? ORDER BY gseq LIMIT ?",
                             arguments: ["NORTH", 0, 10]).map { $0["detail"] as String }
        }
        #expect(plan.contains { $0.contains("hub_feed_region") }, "\(plan)")
    }

    @Test("registration: the region is validated and all nodes of a site share one")
    func registration() throws {
        let world = try Self.world()
        #expect(throws: HubError.self) { _ = try world.hub.addNode(node: "X", site: "LOD", series: "K9", region: "north east") }
        do {
            _ = try world.hub.addNode(node: "A2", site: "WAW", series: "K5", region: "SOUTH")
            Issue.record("a second region for site WAW was accepted")
        } catch let e as HubError {
            #expect(e.description.contains("site WAW already has nodes in region 'NORTH'"))
        }
        _ = try world.hub.addNode(node: "A3", site: "WAW", series: "K6", region: "NORTH")
        #expect(try world.hub.node("A3").region == "NORTH")
    }

    @Test("without regions the default region's hash is the whole hub's")
    func defaultRegion() async throws {
        let world = try World()
        try Self.customer(world.store("A"), "1001", site: "WAW")
        try Self.customer(world.store("B"), "2001", site: "KRK")
        try await world.syncAll()
        #expect(try world.hub.stateHash(region: "") == world.hub.stateHash())
        #expect(try world.hashesAgree())
    }
}
