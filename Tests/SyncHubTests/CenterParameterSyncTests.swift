import Foundation
import Testing
import SyncHub
import SyncModel
import SyncStore
import SyncTesting

@Suite("A node's center parameters reach the hub like any change")
struct CenterParameterSyncTests {
    @Test("parameters given at init and changed later are journaled, shown by the hub's node list; only the node itself writes its row")
    func journaledToHub() async throws {
        let world = try World(nodes: [("A", "WAW", "K1"), ("B", "KRK", "K2")])
        let a = world.store("A")
        #expect(try a.pendingCount() == 0, "the defaults need no row")
        try a.setCenter { $0.defaultCountry = "PL" }
        try a.setCenter { $0.lowestPriceForNewConsumer = true }
        try a.setCenter { $0.lowestPriceForNewConsumer = true }  // no change: nothing journaled
        #expect(try a.journal(entity: .nodeParameters, key: "A").map(\.change.op) == [ChangeOp.insert, .update])
        try await world.syncAll()
        let atHub = try world.hub.nodes().first { $0.node == "A" }?.center
        #expect(atHub == CenterParameters(lowestPriceForNewBusiness: false, lowestPriceForNewConsumer: true, defaultCountry: "PL"))
        #expect(try world.hub.nodes().first { $0.node == "B" }?.center == CenterParameters(), "a node that sent none has the defaults")

        // Another node cannot change A's parameters, nor create them.
        let update = try world.push("B", [change("B", 1, hlc: 1 << 40, .nodeParameters, "A", .update, ["default_country": .text("DE")])])
        #expect(update.results.first?.outcome == .rejected && update.results.first?.reason?.contains("belongs to node A") == true, "\(update.results)")
        let insert = try world.push("B", [change("B", 2, hlc: 1 << 40, .nodeParameters, "A", .insert,
                                                 CenterParameters(defaultCountry: "DE").fields(node: "A"))])
        #expect(insert.results.first?.outcome == .rejected && insert.results.first?.reason?.contains("only that node creates it") == true, "\(insert.results)")
        #expect(try world.hub.nodes().first { $0.node == "A" }?.center?.defaultCountry == "PL")

        // A store created with parameters other than the defaults sends them at its first sync.
        _ = try world.hub.addNode(node: "C", site: "GDA", series: "K3")
        let c = try NodeStore.create(path: world.dir.file("C.sqlite"), node: "C", site: "GDA", series: "K3",
                                     center: CenterParameters(lowestPriceForNewBusiness: true))
        world.stores["C"] = c
        #expect(try c.pendingCount() == 1)
        try await world.syncAll()
        #expect(try world.hub.nodes().first { $0.node == "C" }?.center?.lowestPriceForNewBusiness == true)
        #expect(try world.hashesAgree())
    }
}
