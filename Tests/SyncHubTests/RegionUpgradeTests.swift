import Foundation
import GRDB
import Testing
@testable import SyncHub
import SyncModel
import SyncNode
import SyncReconcile
import SyncStore
import SyncTesting

@Suite("Replication regions: upgrading a hub, and records keeping their region")
struct RegionUpgradeTests {
    @Test("a hub file from before regions opens with its nodes and records in the default region, and its stores keep syncing")
    func upgradeFromV2() async throws {
        let dir = try TemporaryDirectory(prefix: "region-upgrade")
        defer { dir.remove() }
        let path = dir.file("hub.sqlite")
        // The hub as the previous release left it: a node and a partner with its feed row.
        try writeOldHub(at: path, upTo: "v2-hub-feed-echo", """
            INSERT INTO hub_node (node_id, site, series, token_hash, created_at) VALUES ('A', 'WAW', 'K1', 'x', '2026-11-01T00:00:00Z');
            INSERT INTO partner (code, kind, first_name, last_name) VALUES ('OLD1', 'consumer', 'Olga', 'Stara');
            INSERT INTO hub_feed (hlc, node, entity, key) VALUES (65536, 'A', 'partner', 'OLD1');
            """)
        let hub = try HubStore(path: path)
        #expect(try hub.node("A").region == "")
        let store = try NodeStore.create(path: dir.file("A.sqlite"), node: "A", site: "WAW", series: "K1")
        _ = try store.addPartner(consumer("NEW1"))
        _ = try await SyncRound(store: store, transport: InProcessHubTransport(hub: hub, node: try hub.node("A"))).run()
        #expect(try store.partner(code: "OLD1")?.firstName == "Olga")
        #expect(try hub.partnerExists(code: "NEW1"))
        #expect(try store.stateHash() == hub.stateHash())
        #expect(try hub.stateHash(region: "") == hub.stateHash())
    }

    @Test("a record keeps the region of its first feed row when a change of another region's node touches it; new records get the node's")
    func recordKeepsRegion() async throws {
        let world = try World(regions: ["A": "NORTH", "B": "SOUTH"])
        _ = try world.store("A").addPartner(consumer("1001"))
        try await world.sync("A")
        try await world.hub.pool.write { db in
            var feed = HubStore.FeedEmitter(region: "SOUTH", keepsRegions: true, kinds: .standard)
            var positions = FeedPositions(next: try HubStore.nextFeedPosition(db))
            try feed.add(db, [TouchedRow(.partner, "1001"), TouchedRow(.partner, "9999")], hlc: HLC(rawValue: 1 << 40), node: "B", positions: &positions)
            try feed.write(db)
        }
        let regions = try await world.hub.pool.read { db in
            try ["1001", "9999"].map { try HubStore.region(db, entity: .partner, key: $0, kinds: .standard) }
        }
        #expect(regions == ["NORTH", "SOUTH"])
        // The record's first feed row stays in the log, superseded, with the same region.
        let logged = try await world.hub.pool.read { db in
            try String.fetchAll(db, sql: "SELECT region FROM hub_feed WHERE key = '1001' ORDER BY gseq")
        }
        #expect(logged == ["NORTH", "NORTH"])
    }
}
