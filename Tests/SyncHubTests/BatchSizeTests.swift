import Foundation
import Testing
import SyncHub
import SyncModel
import SyncNode
import SyncStore
import SyncTesting
import SyncWire

@Suite("Push batches stay inside the hub's size limits")
struct BatchSizeTests {
    @Test("entries with long texts are split into batches below the hub's compressed limit; every entry is applied")
    func longTextsSplit() async throws {
        let world = try World()
        let a = world.store("A")
        try await world.sync("A")
        // Random-looking text compresses badly: 40 partners with about 1.5 KB of attributes each against a 16 KiB limit.
        var rng = SeededRandom(seed: 3)
        for i in 1...40 {
            let noise = String((0..<1500).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789".randomElement(using: &rng)! })
            _ = try a.addPartner(Partner(code: "L\(i)", kind: .business, name: "L\(i)", attributes: ["note": noise], country: "PL"))
        }
        let limits = BatchLimits(maxCompressedBytes: 16 << 10, maxUncompressedBytes: 1 << 20, maxEntries: 1000)
        let transport = InProcessHubTransport(hub: world.hub, node: try world.hub.node("A"), limits: limits)
        let summary = try await SyncRound(store: a, transport: transport, limits: limits).run()
        #expect(summary.pushedEntries == 40)
        #expect(summary.applied == 40)
        #expect(summary.pushedBatches >= 5, "40 × 1.5 KB in batches of at most 8 KiB")
        #expect(try world.hub.partnerExists(code: "L40"))
    }
}

/// Passes calls to the hub but fails the `failAt`-th snapshot page, like a connection cut mid-snapshot.
final class SnapshotCut: PassThroughTransport, @unchecked Sendable {
    let inner: InProcessHubTransport
    let failAt: Int
    private let lock = NSLock()
    private var snapshots = 0

    init(_ inner: InProcessHubTransport, failAt: Int) { self.inner = inner; self.failAt = failAt }

    func snapshot(cursor: Int64, maxEntries: Int) async throws -> (batch: [UInt8], nextCursor: Int64, more: Bool) {
        let n = lock.withLock { snapshots += 1; return snapshots }
        if n == failAt { throw CancellationError() }
        return try await inner.snapshot(cursor: cursor, maxEntries: maxEntries)
    }
}
