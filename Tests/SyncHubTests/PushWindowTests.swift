import Foundation
import Testing
import SyncHub
import SyncModel
import SyncNode
import SyncStore
import SyncTesting

/// An in-process hub that offers two pushes at a time and loses chosen pushes (the request
/// never reaches it), so the store's handling of a batch sent ahead can be checked.
private final class LossyWindowTransport: PassThroughTransport, @unchecked Sendable {
    let inner: InProcessHubTransport
    private let lock = NSLock()
    private var calls = 0
    private let lose: Set<Int>
    init(_ inner: InProcessHubTransport, lose: Set<Int>) { self.inner = inner; self.lose = lose }

    private func next() -> Int { lock.lock(); defer { lock.unlock() }; calls += 1; return calls }
    var pushes: Int { lock.lock(); defer { lock.unlock() }; return calls }

    func push(batch: [UInt8], renamesApplied: Int64, pendingAfter: Int) async throws -> PushReply {
        let n = next()
        if lose.contains(n) { throw HubClientError.unreachable(url: "in-process", underlying: "push \(n) lost") }
        var reply = try await inner.push(batch: batch, renamesApplied: renamesApplied, pendingAfter: pendingAfter)
        reply.window = 2
        return reply
    }
}

@Suite("A store's pushes sent ahead of a reply")
struct PushWindowTests {
    /// Store A, bootstrapped, then `partners` new partners offline; the hub loses pushes `lose`.
    private func offlineStore(partners: Int, lose: Set<Int>) async throws -> (World, NodeStore, LossyWindowTransport) {
        let world = try World()
        let a = world.store("A")
        try await world.sync("A")
        try a.transaction { tx in
            for i in 1...partners { _ = try tx.addPartner(consumer("P\(i)")) }
        }
        return (world, a, LossyWindowTransport(InProcessHubTransport(hub: world.hub, node: try world.hub.node("A")), lose: lose))
    }

    @Test("a lost push sent ahead: the round goes on one batch at a time from what is acknowledged; nothing lost, nothing pending")
    func lostAheadPush() async throws {
        // Push 1 (the small first batch) opens the window; push 3 is sent ahead of push 2's
        // reply and lost.
        let (world, a, transport) = try await offlineStore(partners: 1200, lose: [3])
        let summary = try await SyncRound(store: a, transport: transport, pushBatchEntries: 200).run()
        #expect(try a.pendingCount() == 0)
        #expect(summary.rejected.isEmpty)
        #expect(transport.pushes > 7, "1,200 entries in batches of 200 after a first one, plus the one sent again: \(transport.pushes)")
        #expect(try world.hub.node("A").lastSeq == 1200)
        #expect(try a.stateHash() == world.hub.stateHash())
    }

    @Test("a lost push that was not sent ahead ends the round with the error; the next round sends what is pending")
    func lostFirstPush() async throws {
        let (world, a, transport) = try await offlineStore(partners: 300, lose: [1])
        await #expect(throws: HubClientError.self) { try await SyncRound(store: a, transport: transport, pushBatchEntries: 200).run() }
        #expect(try a.pendingCount() == 300)
        try await world.sync("A")
        #expect(try a.pendingCount() == 0)
        #expect(try a.stateHash() == world.hub.stateHash())
    }
}
