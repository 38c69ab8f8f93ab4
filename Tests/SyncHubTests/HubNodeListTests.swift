import Foundation
import Testing
import SyncHub
import SyncModel
import SyncNode
import SyncStore
import SyncTesting
import SyncWire

@Suite("Hub node list")
struct HubNodeListTests {
    @Test("the node list shows last push and last pull; a pull is recorded at most once a minute")
    func lastSeen() async throws {
        let world = try World()
        try world.store("A").addPartner(consumer("7001"))
        try await world.sync("A")
        let a = try #require(try world.hub.nodes().first { $0.node == "A" })
        #expect(a.lastPushAt != nil)
        #expect(a.lastPullAt != nil, "a pull is recorded, in process as over HTTP")
        let b = try #require(try world.hub.nodes().first { $0.node == "B" })
        #expect(b.lastPushAt == nil && b.lastPullAt == nil, "B never synced")
        func setPull(_ value: String) throws {
            try world.hub.pool.write { try $0.execute(sql: "UPDATE hub_node SET last_pull_at = ? WHERE node_id = 'A'", arguments: [value]) }
        }
        try setPull("2000-01-01T00:00:00Z")
        try world.hub.markPulled(node: "A")
        #expect(try world.hub.nodes().first { $0.node == "A" }?.lastPullAt != "2000-01-01T00:00:00Z")
        // Within the same minute (here: a value from the future) nothing is written.
        try setPull("2999-01-01T00:00:00Z")
        try world.hub.markPulled(node: "A")
        #expect(try world.hub.nodes().first { $0.node == "A" }?.lastPullAt == "2999-01-01T00:00:00Z")
    }
}
