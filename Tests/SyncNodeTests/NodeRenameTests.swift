import Foundation
import GRDB
import Testing
import SyncHub
import SyncModel
import SyncReconcile
import SyncStore
import SyncTesting
import SyncNode

@Suite("Renames on the node")
struct NodeRenameTests {
    @Test("a node that created both 1001 and a literal K2-1001 offline applies both renames and converges")
    func literalPrefixedCodeOffline() async throws {
        let world = try World()
        try world.store("A").addPartner(consumer("1001"))
        try await world.sync("A")
        let b = world.store("B")
        try b.addPartner(consumer("1001", first: "Renamed"))
        try b.addPartner(consumer("K2-1001", first: "Literal"))
        let summary = try await world.sync("B")
        #expect(summary.renames.map { "\($0.oldCode)->\($0.newCode)" } == ["1001->K2-1001", "K2-1001->K2-K2-1001"])
        try await world.syncAll()
        #expect(try world.hashesAgree())
        #expect(try b.partner(code: "K2-1001")?.firstName == "Renamed")
        #expect(try b.partner(code: "K2-K2-1001")?.firstName == "Literal")
    }
}
