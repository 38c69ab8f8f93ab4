import Foundation
import Testing
import SyncHub
import SyncModel
import SyncNode
import SyncStore
import SyncTesting
import SyncWire

@Suite("Snapshot cut off part-way")
struct SnapshotResumeTests {
    @Test("a new store's first snapshot is cut after one page: the next round resumes it and the store gets its own rows back")
    func resumesAsSnapshot() async throws {
        let world = try World()
        let a = world.store("A"), c = world.store("C")
        for i in 1...4 { try a.addPartner(consumer("A\(i)")) }
        try await world.sync("A")
        // C sold offline before its first sync: its rows reach the hub after A's, so they sit on later pages.
        for i in 1...3 { try c.addPartner(consumer("C\(i)")) }
        try c.addDocument(kind: .receipt, partnerCode: "C1", amountMinor: 500, currency: "PLN")
        let inner = InProcessHubTransport(hub: world.hub, node: try world.hub.node("C"))
        await #expect(throws: CancellationError.self) {
            try await SyncRound(store: c, transport: SnapshotCut(inner, failAt: 2), pullBatchEntries: 3).run()
        }
        #expect(try c.config().bootstrapped == false, "a cut snapshot must not count as a bootstrap")
        let resumed = try await SyncRound(store: c, transport: inner, pullBatchEntries: 3).run()
        #expect(resumed.bootstrapped)
        #expect(try c.config().bootstrapped)
        for code in ["A1", "A4", "C1", "C2", "C3"] { #expect(try c.partner(code: code) != nil, "\(code) missing") }
        #expect(try c.documents(partnerCode: "C1").count == 1)
        #expect(try c.stateHash() == world.hub.stateHash())
    }
}
