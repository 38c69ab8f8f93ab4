import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import SyncHub
import SyncModel
import SyncNode
import SyncStore
import SyncTesting
import SyncWire

/// Records the format version of every batch a store pushes; answers like a hub of the given
/// newest version (nil: one that names none, i.e. reads version 1 only).
private final class VersionRecorder: PassThroughTransport, @unchecked Sendable {
    let inner: InProcessHubTransport
    let hubNewest: Int?
    private let lock = NSLock()
    private var seen: [UInt16] = []
    init(_ inner: InProcessHubTransport, hubNewest: Int?) { self.inner = inner; self.hubNewest = hubNewest }
    var versions: [UInt16] { lock.withLock { seen } }

    func push(batch: [UInt8], renamesApplied: Int64, pendingAfter: Int) async throws -> PushReply {
        let version = try BatchCodec.peekHeader(batch).version
        lock.withLock { seen.append(version) }
        var reply = try await inner.push(batch: batch, renamesApplied: renamesApplied, pendingAfter: pendingAfter)
        reply.batchFormat = hubNewest
        return reply
    }
}

@Suite("Hub and store agree on the batch format version")
struct FormatNegotiationTests {
    /// Store A, bootstrapped, with `partners` new partners offline.
    private func offlineStore(partners: Int) async throws -> (World, NodeStore) {
        let world = try World()
        let a = world.store("A")
        try await world.sync("A")
        try a.transaction { tx in
            for i in 1...partners { _ = try tx.addPartner(consumer("P\(i)")) }
        }
        return (world, a)
    }

    @Test("a round's first batches are version 1; after a reply naming version 2 the store writes version 2")
    func pushVersionFollowsReply() async throws {
        let (world, a) = try await offlineStore(partners: 2000)
        let transport = VersionRecorder(InProcessHubTransport(hub: world.hub, node: try world.hub.node("A")), hubNewest: 2)
        let summary = try await SyncRound(store: a, transport: transport, pushBatchEntries: 1000).run()
        #expect(summary.pushedEntries == 2000)
        // 500 (sent before any reply), 1000 (encoded before the first reply), then 500.
        #expect(transport.versions == [1, 1, 2])
        #expect(try a.stateHash() == world.hub.stateHash())
    }

    @Test("a hub that names no newer version gets version 1 batches only")
    func olderHubGetsVersionOne() async throws {
        let (world, a) = try await offlineStore(partners: 2000)
        let transport = VersionRecorder(InProcessHubTransport(hub: world.hub, node: try world.hub.node("A")), hubNewest: nil)
        _ = try await SyncRound(store: a, transport: transport, pushBatchEntries: 1000).run()
        #expect(transport.versions == [1, 1, 1])
        #expect(try a.stateHash() == world.hub.stateHash())
    }

    @Test("over HTTP: a page is version 1 unless the node asks for 2; a push reply names version 2")
    func routes() async throws {
        let f = try HubRouterTests.Fixture()
        let auth = HubRouterTests.Fixture.bearer(f.tokenA)
        try await f.test { client in
            // A version 1 batch from an older store is taken.
            let batch = try BatchCodec.encode(node: "A", changes: [HubRouterTests.partner(1, "1001")], version: 1)
            try await client.execute(uri: "/v1/push", method: .post, headers: auth, body: ByteBuffer(bytes: batch)) { response in
                #expect(response.status == .ok)
                let reply = try JSONDecoder().decode(PushReply.self, from: Data(response.body.readableBytesView))
                #expect(reply.batchFormat == 2)
            }
            for (query, version) in [("", UInt16(1)), ("&format=1", 1), ("&format=2", 2), ("&format=7", 2), ("&format=x", 1)] {
                for route in ["pull", "snapshot"] {
                    try await client.execute(uri: "/v1/\(route)?cursor=0\(query)", method: .get, headers: auth) { response in
                        #expect(response.status == .ok)
                        let page = try BatchCodec.decode([UInt8](response.body.readableBytesView))
                        #expect(page.header.version == version, "\(route) \(query)")
                        #expect(page.changes.contains { $0.key == "1001" }, "\(route) \(query)")
                    }
                }
            }
        }
    }
}
