import Foundation
import GRDB
import Testing
@testable import SyncHub
import SyncModel
import SyncReconcile
import SyncStore
import SyncTesting

@Suite("The hub's feed as a log: superseded rows, the sweep, and hubs from before")
struct FeedSweepTests {
    static func logRows(_ hub: HubStore) throws -> Int {
        try hub.pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM hub_feed")! }
    }

    /// A hub with `count` partners of store A, each created in one push and edited in the
    /// next: `count` superseded rows in a log of twice as many.
    static func createdThenEdited(_ count: Int) async throws -> World {
        let world = try World()
        let a = world.store("A")
        for i in 1...count { _ = try a.addPartner(consumer("Q\(i)")) }
        try await world.sync("A")
        for i in 1...count { _ = try a.updatePartner(code: "Q\(i)", changes: ["phone": .text("+48 2\(i)")]) }
        try await world.sync("A")
        return world
    }

    static func sweepPlace(_ hub: HubStore) throws -> String? {
        try hub.pool.read { try String.fetchOne($0, sql: "SELECT value FROM hub_meta WHERE key = 'feed_swept'") }
    }

    /// Feeds a record the hub has no row of (as a removed address is fed): its position is a tombstone.
    static func feedRemoved(_ hub: HubStore, _ key: String, hlc: UInt64) throws {
        try hub.pool.write { db in
            var feed = HubStore.FeedEmitter(region: "", keepsRegions: false, kinds: .standard)
            var positions = FeedPositions(next: try HubStore.nextFeedPosition(db))
            try feed.add(db, [TouchedRow(.partner, key)], hlc: HLC(rawValue: hlc), node: "B", positions: &positions)
            try feed.write(db)
        }
    }

    @Test("a sweep removes superseded log rows only: pulls, the state hash and a new store read the same before and after")
    func sweepKeepsWhatPullsRead() async throws {
        let world = try World()
        let a = world.store("A")
        for i in 1...30 { _ = try a.addPartner(consumer(String(format: "S%03d", i))) }
        try await world.sync("A")
        // Every partner edited once, in three pushes: each edit supersedes the partner's first row.
        for round in 1...3 {
            for i in stride(from: round, through: 30, by: 3) {
                _ = try a.updatePartner(code: String(format: "S%03d", i), changes: ["phone": .text("+48 600 \(round)0\(i)")])
            }
            try await world.sync("A")
        }
        try Self.feedRemoved(world.hub, "GONE", hlc: 1 << 40)
        try Self.feedRemoved(world.hub, "GONE", hlc: 1 << 41)
        #expect(try Self.logRows(world.hub) == 62)

        let before = try world.hub.feed(after: 0, limit: 1000)
        let ownBefore = try world.hub.feed(after: 0, limit: 1000, own: ("A", 60))
        let hash = try world.hub.stateHash()
        #expect(before.changes.count == 31, "each record once: 30 partners and the removed one")
        #expect(before.changes.last.map { [$0.key, $0.op.rawValue] } == ["GONE", ChangeOp.delete.rawValue])
        #expect(ownBefore.changes.map(\.key) == ["GONE"], "A's own images are left out of its pulls")

        // In steps of 7 rows, so the sweep's place moves across several transactions.
        #expect(try world.hub.sweepFeedPass(step: 7) == 31)
        #expect(try Self.logRows(world.hub) == 31)
        let after = try world.hub.feed(after: 0, limit: 1000)
        #expect(after.changes == before.changes)
        #expect(after.nextCursor == before.nextCursor)
        #expect(try world.hub.feed(after: 0, limit: 1000, own: ("A", 60)).changes == ownBefore.changes)
        #expect(try world.hub.stateHash() == hash)
        #expect(try world.hub.sweepFeedPass(step: 7) == 0, "a second pass finds nothing")

        // A store that starts now bootstraps from the swept log and agrees with the hub.
        try await world.sync("B")
        #expect(try world.store("B").stateHash() == world.hub.stateHash())
        #expect(try world.store("B").partner(code: "S030")?.phone == "+48 600 3030")
    }

    @Test("pages of a log with superseded rows: each record once, at its latest change, in order")
    func pagesSkipSuperseded() async throws {
        let world = try World()
        let a = world.store("A")
        for i in 1...10 { _ = try a.addPartner(consumer("P\(i)")) }
        try await world.sync("A")
        for i in [2, 4, 6] { _ = try a.updatePartner(code: "P\(i)", changes: ["phone": .text("+48 1\(i)")]) }
        try await world.sync("A")
        var cursor: Int64 = 0, keys: [String] = [], more = true
        while more {
            let page = try world.hub.feed(after: cursor, limit: 3)
            keys += page.changes.map(\.key)
            #expect(page.nextCursor > cursor)
            cursor = page.nextCursor
            more = page.more
        }
        #expect(keys == ["P1", "P3", "P5", "P7", "P8", "P9", "P10", "P2", "P4", "P6"])
    }

    @Test("the sweeper removes superseded rows once no push has come for a while, and then waits")
    func sweeperRunsWhenIdle() async throws {
        let world = try await Self.createdThenEdited(20)
        #expect(try Self.logRows(world.hub) == 40)
        let hub = world.hub
        let sweeper = Task { await FeedSweeper(store: hub, idleSeconds: 0.05, step: 6, interval: .milliseconds(10)).run() }
        defer { sweeper.cancel() }
        let deadline = Date().addingTimeInterval(10)
        // Done when the superseded rows are gone and the pass reached the end of the log.
        while try Self.logRows(world.hub) > 20 || Self.sweepPlace(world.hub) != "0", Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try Self.logRows(world.hub) == 20)
        // Another pass would move the place (steps of 6 rows end at 6, 12, 18): it stays put.
        var places: Set<String?> = []
        for _ in 0..<10 {
            try await Task.sleep(for: .milliseconds(20))
            places.insert(try Self.sweepPlace(world.hub))
        }
        #expect(places == ["0"], "a whole pass found the log as it was: the sweeper waits for new pushes")
    }

    @Test("a hub file from before the log keeps its records' positions, its removed records and its counter")
    func upgradeFromV4() throws {
        let dir = try TemporaryDirectory(prefix: "feed-log-upgrade")
        defer { dir.remove() }
        let path = dir.file("hub.sqlite")
        try writeOldHub(at: path, upTo: "v4-hub-row-clocks", """
            INSERT INTO hub_node (node_id, site, series, token_hash, created_at) VALUES ('A', 'WAW', 'K1', 'a', '2026-11-01T00:00:00Z');
            INSERT INTO partner (code, kind, first_name, last_name, origin_node, clock_hlc, clock_node)
                VALUES ('1001', 'consumer', 'Anna', 'Nowak', 'A', 100, 'A');
            INSERT INTO hub_feed (gseq, hlc, node, entity, key, echo_seq) VALUES
                (4, 100, 'A', 'partner', '1001', 1), (9, 200, 'A', 'address', '1001|WAW|0', NULL);
            UPDATE hub_node SET last_seq = 2 WHERE node_id = 'A';
            """)
        let hub = try HubStore(path: path)
        let positions = try hub.pool.read { db in
            (try Int64.fetchOne(db, sql: "SELECT feed_gseq FROM partner WHERE code = '1001'"),
             try Int64.fetchOne(db, sql: "SELECT gseq FROM hub_tombstone WHERE entity = 'address' AND key = '1001|WAW|0'"))
        }
        #expect(positions.0 == 4 && positions.1 == 9)
        let page = try hub.feed(after: 0, limit: 10)
        #expect(page.changes.map { "\($0.seq) \($0.key) \($0.op.rawValue)" } == ["4 1001 insert", "9 1001|WAW|0 delete"])
        #expect(try hub.feed(after: 0, limit: 10, own: ("A", 1)).changes.map(\.seq) == [9], "the echo is carried over")
        // New rows go after the old ones.
        _ = try hub.push(node: try hub.node("A"), changes: [
            change("A", 3, hlc: 300, .partner, "1001", .update, ["phone": .text("+48 3")]),
        ], renamesApplied: 0)
        let next = try hub.feed(after: 9, limit: 10)
        #expect(next.changes.map(\.seq) == [10])
        #expect(try hub.feed(after: 0, limit: 10).changes.map(\.key) == ["1001|WAW|0", "1001"])
    }

    @Test("a removed row's feed row keeps the record's region, whoever removes it, and the region's stores get the removal")
    func removalKeepsRegion() async throws {
        let world = try World(regions: ["A": "NORTH", "B": "SOUTH"])
        _ = try world.store("A").addPartner(consumer("1001"))
        let address = try world.store("A").addAddress(Address(partnerCode: "1001", site: "WAW", seq: 1, street: "Długa 1"))
        try await world.sync("A")
        // The hub removes the address in a transaction that feeds it as another region's change
        // (as a move at a site of another region, or of none, would).
        try await world.hub.pool.write { db in
            try ReplicatedTable.address.delete(db, key: address.key)
            var feed = HubStore.FeedEmitter(region: "SOUTH", keepsRegions: true, kinds: .standard)
            var positions = FeedPositions(next: try HubStore.nextFeedPosition(db))
            try feed.add(db, [TouchedRow(.address, address.key)], hlc: HLC(rawValue: 1 << 41), node: "hub", positions: &positions)
            try feed.write(db)
        }
        let region = try await world.hub.pool.read { try HubStore.region($0, entity: .address, key: address.key, kinds: .standard) }
        #expect(region == "NORTH")
        try await world.sync("A")
        #expect(try world.store("A").addresses(partnerCode: "1001").isEmpty)
        #expect(try world.store("A").stateHash() == world.hub.stateHash(region: "NORTH"))
    }

    @Test("a new pass starts once the log has grown by a tenth, at least one step, since the last one began")
    func passDue() {
        #expect(!FeedSweeper.passDue(lastStart: -1, end: 0, step: 5000))
        #expect(FeedSweeper.passDue(lastStart: -1, end: 1, step: 5000))
        #expect(!FeedSweeper.passDue(lastStart: 1000, end: 5999, step: 5000))
        #expect(FeedSweeper.passDue(lastStart: 1000, end: 6000, step: 5000))
        #expect(!FeedSweeper.passDue(lastStart: 1_000_000, end: 1_099_999, step: 5000))
        #expect(FeedSweeper.passDue(lastStart: 1_000_000, end: 1_100_000, step: 5000))
    }

    @Test("the sweeper keeps out of the way of stores reading the feed, and sweeps once they stop")
    func sweeperWaitsForPulls() async throws {
        let world = try await Self.createdThenEdited(12)
        #expect(try Self.logRows(world.hub) == 24)
        let hub = world.hub
        _ = try hub.feed(after: 0, limit: 100)
        let sweeper = Task {
            // Idle means 3 s without a read: a loaded test machine oversleeps a 50 ms pause now
            // and then, never by seconds.
            await FeedSweeper(store: hub, idleSeconds: 3, step: 6, interval: .milliseconds(10), busyInterval: .seconds(3600)).run()
        }
        defer { sweeper.cancel() }
        // A store reads a page every 50 ms for a second: no step runs meanwhile. (A machine so
        // loaded that a pause lasted the idle time itself leaves nothing to say about that.)
        var longest = 0.0, last = Date()
        for _ in 0..<20 {
            _ = try hub.feed(after: 0, limit: 100)
            longest = max(longest, Date().timeIntervalSince(last))
            last = Date()
            try await Task.sleep(for: .milliseconds(50))
        }
        if longest < 2.5 { #expect(try Self.logRows(world.hub) == 24, "no sweep step while the feed is read") }
        let deadline = Date().addingTimeInterval(20)
        while try Self.logRows(world.hub) > 12, Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(try Self.logRows(world.hub) == 12)
    }

    @Test("on a hub that is never idle the sweeper still runs a step now and then")
    func sweeperRunsWhenBusy() async throws {
        let world = try await Self.createdThenEdited(12)
        #expect(try Self.logRows(world.hub) == 24)
        let hub = world.hub
        let sweeper = Task {
            await FeedSweeper(store: hub, idleSeconds: 1e9, step: 6, interval: .milliseconds(10), busyInterval: .milliseconds(30)).run()
        }
        defer { sweeper.cancel() }
        let deadline = Date().addingTimeInterval(10)
        while try Self.logRows(world.hub) > 12, Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(try Self.logRows(world.hub) == 12)
    }
}
