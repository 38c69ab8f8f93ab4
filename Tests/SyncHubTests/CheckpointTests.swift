import Foundation
import Testing
import SyncHub
import SyncModel
import SyncStore
import SyncTesting

@Suite("The hub copies its write-ahead log into the database in the background")
struct CheckpointTests {
    /// The database file's size: it grows only when a checkpoint copies pages into it.
    func size(_ path: String) throws -> Int {
        try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
    }

    func partners(_ n: Int) -> [Change] {
        (1...n).map { i in
            var p = consumer("P\(i)").fields
            p["origin_node"] = .text("A")
            return change("A", Int64(i), hlc: UInt64(i) << 16, .partner, "P\(i)", .insert, p)
        }
    }

    @Test("after a push the log reaches the database file without a commit filling the log; without the option it stays in the log")
    func pushIsCheckpointed() throws {
        let dir = try TemporaryDirectory(prefix: "checkpoint")
        defer { dir.remove() }
        for background in [true, false] {
            let path = dir.file("hub-\(background).sqlite")
            var options = StoreOptions.hub
            options.backgroundCheckpoint = background
            let hub = try HubStore(path: path, options: options)
            _ = try hub.addNode(node: "A", site: "WAW", series: "K1")
            let before = try size(path)
            let reply = try hub.push(node: try hub.node("A"), changes: partners(3000), renamesApplied: 0)
            #expect(reply.nextExpected == 3001)
            hub.waitForCheckpoints()
            let after = try size(path)
            if background {
                #expect(after > before + 100 * 4096, "\(before) → \(after) bytes")
                #expect(hub.checkpointFailure == nil)
            } else {
                #expect(after == before, "\(before) → \(after) bytes: the log (32,768 pages) is far from full")
            }
            #expect(try hub.partnerExists(code: "P3000"))
        }
    }
}
