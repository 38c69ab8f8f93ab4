import Foundation
import GRDB
import Testing
import SyncHub
import SyncModel
import SyncReconcile
import SyncStore
import SyncTesting
import SyncNode

@Suite("Sync rounds on one store")
struct SyncLockTests {
    @Test("a round waits while another holds the store's sync lock, then runs")
    func roundsTakeTurns() async throws {
        let world = try World()
        try world.store("A").addPartner(consumer("1"))
        let store = world.store("A")
        let held = try SyncLock(storePath: store.path)
        #expect(held.tryLock())
        let transport = InProcessHubTransport(hub: world.hub, node: try world.hub.node("A"))
        let round = Task { try await SyncRound(store: store, transport: transport).run() }
        try await Task.sleep(for: .milliseconds(300))
        #expect(try world.store("A").pendingCount() == 1, "the round must not push while the lock is held")
        held.unlock()
        let summary = try await round.value
        #expect(summary.pushedEntries == 1)
        #expect(try world.store("A").pendingCount() == 0)
    }
}
