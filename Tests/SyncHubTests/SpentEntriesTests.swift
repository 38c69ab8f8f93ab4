import Foundation
import Testing
@testable import SyncHub
import SyncModel
import SyncReconcile
import SyncStore
import SyncTesting
import SyncWire

@Suite("A push lets go of its entries as it applies them")
struct SpentEntriesTests {
    @Test("entries handed to the hub are emptied once applied, with the same verdicts and rows as entries kept by the caller")
    func entriesSpent() throws {
        let a = PreparedChangeTests().pushes().a
        let handed = try World(), kept = try World()
        let decoded = try HubStore.decodePush(BatchCodec.encode(node: "A", changes: a), limits: .default, node: "A")
        #expect(decoded.entries.changes == a)
        let reply = try handed.hub.push(node: try handed.hub.node("A"), entries: decoded.entries, renamesApplied: 0)
        #expect(decoded.entries.changes.allSatisfy { $0.fields.isEmpty })
        #expect(decoded.entries.changes.map(\.seq) == a.map(\.seq))
        let keptReply = try kept.push("A", a)
        #expect(reply.results == keptReply.results)
        #expect(try handed.hub.stateHash() == kept.hub.stateHash())
    }
}
