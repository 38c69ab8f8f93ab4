import Foundation
import GRDB
import Testing
import SyncModel
import SyncStore
import SyncTesting

@Suite("a hub that takes smaller batches than the store sends", .serialized)
struct HubBatchLimitTests {
    /// A hub started with `--max-entries most`; store A online once, then `count` partners
    /// created offline and synced with its default batch size (7,500). Returns the round's
    /// summary, what is still pending, and the hub's `/metrics`.
    fileprivate func sync(maxEntries most: Int, backlog count: Int) async throws -> (summary: SyncSummaryView, stdout: String, pending: Int, metrics: String) {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        try cluster.startHub(extraArguments: ["--max-entries", String(most)])
        let a = try cluster.addNode("A", site: "WAW", series: "K1")
        try #require(cluster.posnode("A", ["sync"]).succeeded)
        let store = try NodeStore.open(path: a.db)
        try store.transaction { tx in
            for i in 1...count {
                _ = try tx.addPartner(Partner(code: "F\(i)", kind: .consumer, firstName: "Jan", lastName: "Kowalski\(i)", country: "PL"))
            }
        }
        let sync = try cluster.posnode("A", ["sync", "--json"])
        try #require(sync.succeeded, "\(sync.stderr)")
        let summary = try JSONDecoder().decode(SyncSummaryView.self, from: Data(sync.stdout.utf8))
        return (summary, sync.stdout, try store.pendingCount(), try await TestHTTP().get(cluster.hubURL + "/metrics").text)
    }

    /// The first push (500) is within the hub's 700 and its reply says so: the store sends no
    /// larger batch.
    @Test("a store pushes 3,000 entries to a hub started with --max-entries 700: every batch fits, nothing refused")
    func smallerBatches() async throws {
        let r = try await sync(maxEntries: 700, backlog: 3000)
        #expect(r.summary.pushedEntries == 3000 && r.summary.rejected.isEmpty)
        // 500, then at most 700 each: 500 + 4 × 700 = 3,300 covers it in 5.
        #expect(r.summary.pushedBatches == 5, "\(r.stdout)")
        #expect(r.pending == 0)
        #expect(MetricsText(r.metrics).value("poshub_push_refused_total") == 0, "\(r.metrics)")
    }

    /// A limit below even a round's first batch (500): that batch is refused with the limit in
    /// the refusal, and the store goes on in batches the hub takes.
    @Test("a hub started with --max-entries 300 refuses the first batch once; the store pushes the rest in batches of 300")
    func limitBelowFirstBatch() async throws {
        let r = try await sync(maxEntries: 300, backlog: 1000)
        #expect(r.summary.pushedEntries == 1000 && r.summary.pushedBatches == 4 && r.summary.rejected.isEmpty, "\(r.stdout)")
        #expect(r.pending == 0)
        #expect(MetricsText(r.metrics).value("poshub_push_refused_total") == 1, "\(r.metrics)")
    }
}

/// The parts of `posnode sync --json` these tests read.
struct SyncSummaryView: Decodable {
    struct Rename: Decodable {
        enum CodingKeys: String, CodingKey { case oldCode = "old_code", newCode = "new_code" }
        var oldCode: String; var newCode: String
    }
    enum CodingKeys: String, CodingKey { case pushedEntries = "pushed_entries", pushedBatches = "pushed_batches", renames, rejected }
    var pushedEntries: Int
    var pushedBatches: Int
    var renames: [Rename]
    var rejected: [EntryResult]
}
