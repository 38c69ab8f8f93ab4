import Foundation
import Testing
import SyncTesting

@Suite("replication regions with real processes", .serialized)
struct RegionProcessTests {
    let http = TestHTTP()

    @Test("stores get their region's customers only; each store's state hash equals its region's at the hub and over /v1/state-hash",
          arguments: HubStoreKind.available)
    func regionsOverCLIAndHTTP(store: HubStoreKind) async throws {
        let cluster = try Cluster(store: store)
        defer { cluster.shutdown() }
        let hub = try cluster.startHub()
        try cluster.addNode("A", site: "WAW", series: "K1", region: "NORTH")
        let b = try cluster.addNode("B", site: "KRK", series: "K2", region: "SOUTH")
        let c = try cluster.addNode("C", site: "GDA", series: "K3", region: "NORTH")

        for (id, code) in [("A", "1001"), ("B", "2001")] {
            let add = try cluster.posnode(id, ["partner", "add", "--code", code, "--kind", "consumer", "--first-name", "Anna", "--last-name", "Nowak"])
            #expect(add.succeeded, "\(add.stderr)")
        }
        for _ in 0..<2 { for id in ["A", "B", "C"] { #expect(try cluster.posnode(id, ["sync"]).succeeded) } }

        let listC = try cluster.posnode("C", ["partner", "list"]).stdout
        #expect(listC.contains("1001"))
        #expect(!listC.contains("2001"))
        #expect(!(try cluster.posnode("B", ["partner", "list"]).stdout.contains("1001")))

        let north = try cluster.hubStateHash(region: "NORTH"), south = try cluster.hubStateHash(region: "SOUTH")
        #expect(north.count == 64 && south.count == 64 && north != south)
        #expect(try cluster.nodeStateHash("A") == north)
        #expect(try cluster.nodeStateHash("C") == north)
        #expect(try cluster.nodeStateHash("B") == south)
        for (node, expected) in [(c, north), (b, south)] {
            let reply = try await http.get("\(hub.baseURL)/v1/state-hash", token: node.token)
            #expect(reply.text.contains(expected), "\(node.id): \(reply.text)")
        }

        let list = try runCommand(BuiltProducts.path("poshub"), ["node", "list", "--db", cluster.hubDB]).stdout
        #expect(list.contains("region NORTH"))
        let clash = try runCommand(BuiltProducts.path("poshub"), ["node", "add", "--db", cluster.hubDB, "--node", "A2", "--site", "WAW",
                                                                   "--series", "K4", "--region", "SOUTH"])
        #expect(!clash.succeeded)
        #expect(clash.stderr.contains("site WAW already has nodes in region 'NORTH'"))
    }
}
