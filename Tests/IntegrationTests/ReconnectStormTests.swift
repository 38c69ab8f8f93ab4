import Foundation
import Testing
import SyncModel
import SyncStore
import SyncTesting

@Suite("many stores reconnecting at once, as real processes", .serialized)
struct ReconnectStormTests {
    @Test("six stores push their offline backlogs at the same moment: all of it arrives once, and every store ends with the hub's state")
    func storm() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        try cluster.startHub()
        let ids = ["A", "B", "C", "D", "E", "F"]
        for (i, id) in ids.enumerated() {
            let node = try cluster.addNode(id, site: "S\(i)", series: "K\(i)")
            try #require(cluster.posnode(id, ["sync"]).succeeded)  // online once, then offline
            let store = try NodeStore.open(path: node.db)
            try store.transaction { tx in
                for j in 1...600 {
                    let code = "\(id)\(j)"
                    _ = try tx.addPartner(Partner(code: code, kind: .consumer, firstName: "Jan", lastName: "Kowalski\(j)", country: "PL"))
                    _ = try tx.addDocument(kind: .receipt, partnerCode: code, amountMinor: Int64(j), currency: "PLN")
                }
            }
        }
        // Every store at once, in pushes of 100 entries: twelve pushes each, two at a time per store.
        let results = StormResults()
        DispatchQueue.concurrentPerform(iterations: ids.count) { i in
            results.set(ids[i], try? cluster.posnode(ids[i], ["sync", "--json", "--batch-entries", "100"]))
        }
        for id in ids {
            let r = try #require(results.get(id))
            #expect(r.succeeded, "\(id): \(r.stderr)")
            let summary = try JSONDecoder().decode(StormSummary.self, from: Data(r.stdout.utf8))
            #expect(summary.pushedEntries == 1200 && summary.applied == 1200 && summary.duplicates == 0, "\(id): \(r.stdout)")
        }
        // One more round each to pull the others' rows: every store holds exactly the hub's state.
        for id in ids { try #require(cluster.posnode(id, ["sync"]).succeeded) }
        let hub = try cluster.hubStateHash()
        for id in ids { #expect(try cluster.nodeStateHash(id) == hub, "\(id)") }
        let text = try await TestHTTP().get(cluster.hubURL + "/metrics").text
        let metrics = MetricsText(text)
        #expect(metrics.value("poshub_entries_applied_total") == 7200, "\(text)")
        // Twelve pushes from each of six stores at once against two places: pushes waited.
        #expect((metrics.value("poshub_push_admission_waits_total") ?? 0) > 0, "\(text)")
    }
}

private final class StormResults: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String: CommandResult] = [:]
    func set(_ id: String, _ r: CommandResult?) { lock.withLock { values[id] = r } }
    func get(_ id: String) -> CommandResult? { lock.withLock { values[id] } }
}

private struct StormSummary: Decodable {
    enum CodingKeys: String, CodingKey { case pushedEntries = "pushed_entries", applied, duplicates }
    var pushedEntries: Int
    var applied: Int
    var duplicates: Int
}
