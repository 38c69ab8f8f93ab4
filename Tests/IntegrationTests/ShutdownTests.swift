import Foundation
import GRDB
import SyncModel
import SyncStore
import SyncTesting
import Testing

/// `poshub serve` stopped with SIGTERM while a store pushes: the push in flight is answered or
/// refused whole, the store is closed with an empty log, and the next start goes on cleanly.
@Suite("Graceful shutdown of the hub")
struct ShutdownTests {
    @Test("SIGTERM during a push: the hub exits 0, its log is empty, nothing is lost after the restart")
    func sigtermDuringPush() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let hub = try cluster.startHub()
        let a = try cluster.addNode("A", site: "WAW", series: "K1")
        try #require(cluster.posnode("A", ["sync"]).succeeded)
        let count = 20_000
        let store = try NodeStore.open(path: a.db)
        try store.transaction { tx in
            for i in 1...count {
                _ = try tx.addPartner(Partner(code: "S\(i)", kind: .consumer, firstName: "Jan", lastName: "Nowak\(i)", country: "PL"))
            }
        }
        // Small batches: many pushes, so the signal finds one in flight.
        let sync = try ChildProcess(BuiltProducts.path("posnode"), ["sync", "--db", a.db, "--batch-entries", "500"])
        defer { sync.kill() }
        let http = TestHTTP()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let pushes = MetricsText(try await http.get("\(hub.baseURL)/metrics").text).value("poshub_push_requests_total") ?? 0
            if pushes >= 3 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        hub.send(SIGTERM)
        #expect(hub.waitUntilExit() == .exited(0), "hub stderr: \(hub.stderrText)")
        _ = sync.waitWhileSampling()
        // Closed with its log copied into the database and emptied.
        let wal = (try? FileManager.default.attributesOfItem(atPath: cluster.hubDB + "-wal")[.size] as? Int) ?? 0
        #expect(wal == 0, "write-ahead log left with \(wal) bytes")
        let integrity = try await DatabaseQueue(path: cluster.hubDB).read { try String.fetchOne($0, sql: "PRAGMA integrity_check") }
        #expect(integrity == "ok")
        let applied = try store.pendingCount()
        #expect(applied < count, "the signal came while entries were still pending (\(applied) left)")

        // The next start: the store delivers the rest; hub and store agree.
        try cluster.startHub()
        let again = try cluster.posnode("A", ["sync"])
        #expect(again.succeeded, "\(again.stderr)")
        #expect(try store.pendingCount() == 0)
        #expect(try cluster.nodeStateHash("A") == cluster.hubStateHash())
    }
}
