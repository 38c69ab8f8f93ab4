import Foundation
import Testing
import SyncModel
import SyncStore
import SyncTesting

/// A chain's hub on PostgreSQL with several `poshub serve` processes on one database, as real
/// processes (the test server of Scripts/test.sh; skipped without it).
@Suite("A hub on PostgreSQL with several hub processes, as real processes", .serialized,
       .enabled(if: TestPostgres.serverURL != nil, "needs the test PostgreSQL server (POS_TEST_POSTGRES, Scripts/test.sh)"))
struct PostgresHubProcessTests {
    func ok(_ r: CommandResult, _ what: String) {
        #expect(r.succeeded, "\(what): \(r.stdout)\(r.stderr)")
    }

    static var python: String {
        ProcessInfo.processInfo.environment["POS_PYTHON"] ?? "/usr/bin/python3"
    }

    /// `poshub serve` on the cluster's database (on `port`; 0: a free one).
    func serveHub(_ cluster: Cluster, port: Int = 0) throws -> ServerProcess {
        try ServerProcess(BuiltProducts.path("poshub"), ["serve", "--db", cluster.hubDB, "--port", String(port)])
    }

    @Test("three hub processes behind a round-robin relay, ten stores offline with clashing codes, one hub process killed mid-push and started again: every store converges to the hub, nothing lost or doubled")
    func threeHubProcesses() async throws {
        let cluster = try Cluster(store: .postgres)
        defer { cluster.shutdown() }
        try cluster.startHub()
        var hubs = [try serveHub(cluster), try serveHub(cluster)]
        defer { hubs.forEach { $0.stop() } }
        let relay = try ServerProcess(Self.python, [PackageRoot.path + "/Scripts/tcp-relay.py", String(cluster.hub!.port)] + hubs.map { String($0.port) })
        defer { relay.stop() }

        // The blocking work (child processes, stores) runs off the cooperative pool, so the
        // suites running beside this one keep their threads.
        let ids = (1...10).map { "S\($0)" }
        let relayURL = relay.baseURL
        let firstSyncs = try await offload {
            var results: [CommandResult] = []
            for (i, id) in ids.enumerated() {
                let node = try cluster.addNode(id, site: "SITE\(i + 1)", series: "K\(i + 1)", hubURL: relayURL)
                results.append(try cluster.posnode(id, ["sync"]))  // online once, then offline
                // Offline: the same twenty codes at every store, and 300 customers of its own, each with a receipt.
                let store = try NodeStore.open(path: node.db)
                try store.transaction { tx in
                    for j in 1...20 {
                        _ = try tx.addPartner(Partner(code: "\(1000 + j)", kind: .consumer, firstName: "Store\(i + 1)", lastName: "Klient\(j)", country: "PL"))
                        _ = try tx.addDocument(kind: .receipt, partnerCode: "\(1000 + j)", amountMinor: Int64(100 * (i + 1) + j), currency: "PLN")
                    }
                    for j in 1...300 {
                        let code = "\(id)C\(j)"
                        _ = try tx.addPartner(Partner(code: code, kind: .consumer, firstName: "Jan", lastName: "Kowalski\(j)", country: "PL"))
                        _ = try tx.addDocument(kind: .receipt, partnerCode: code, amountMinor: Int64(j), currency: "PLN")
                    }
                }
            }
            return results
        }
        for r in firstSyncs { ok(r, "first sync") }
        // Every store reconnects at once, in pushes of 100 entries; meanwhile one hub process is
        // killed outright and started again on its port.
        let victim = hubs[0], victimPort = victim.port
        try await offload {
            let killer = Thread {
                Thread.sleep(forTimeInterval: 0.8)
                victim.kill()
            }
            killer.start()
            DispatchQueue.concurrentPerform(iterations: ids.count) { i in
                _ = try? cluster.posnode(ids[i], ["sync", "--batch-entries", "100"])
            }
            while !killer.isFinished { Thread.sleep(forTimeInterval: 0.05) }
        }
        hubs[0] = try await offload { try self.serveHub(cluster, port: victimPort) }
        // Rounds until every store has pushed everything and pulled the others' rows.
        let rounds = try await offload {
            var results: [CommandResult] = []
            for _ in 0..<3 { for id in ids { results.append(try cluster.posnode(id, ["sync"])) } }
            return results
        }
        for r in rounds { ok(r, "sync") }
        let (hubHash, nodeHashes) = try await offload { (try cluster.hubStateHash(), try ids.map { try cluster.nodeStateHash($0) }) }
        for (id, hash) in zip(ids, nodeHashes) { #expect(hash == hubHash, "\(id)") }
        // Nothing lost or doubled: 10 × 320 customers and receipts; each clashing code once as
        // sent, nine times with a store's series.
        let database = cluster.postgresDatabase!.name
        let counts = try await offload {
            try ["SELECT count(*) FROM partner", "SELECT count(*) FROM document", "SELECT count(*) FROM partner WHERE code = '1001'",
                 "SELECT count(*) FROM partner WHERE code LIKE 'K%-1001'", "SELECT count(*) FROM hub_node WHERE last_seq = 640"]
                .map { try TestPostgres.psql($0, database: database) }
        }
        #expect(counts == ["3200", "3200", "1", "9", "10"])
        let docs = try await offload { try cluster.posnode("S3", ["document", "list", "--json"]) }
        let list = try JSONDecoder().decode([Document].self, from: Data(docs.stdout.utf8))
        #expect(list.count == 3200 && Set(list.map(\.id)).count == 3200)
    }

    @Test("a write held up in one hub process: another's writes wait behind it, a third serves pulls meanwhile, and a store that pulled during the wait misses nothing")
    func heldWrite() async throws {
        let cluster = try Cluster(store: .postgres)
        defer { cluster.shutdown() }
        try cluster.startHub()
        let second = try serveHub(cluster), third = try serveHub(cluster)
        defer { second.stop(); third.stop() }
        let secondURL = second.baseURL, thirdURL = third.baseURL
        let setup = try await offload {
            try cluster.addNode("A", site: "WAW", series: "K1")
            try cluster.addNode("B", site: "KRK", series: "K2", hubURL: secondURL)
            try cluster.addNode("C", site: "GDA", series: "K3", hubURL: thirdURL)
            return try ["A", "B", "C"].map { try cluster.posnode($0, ["sync"]) } + [
                try cluster.posnode("A", ["partner", "add", "--code", "1001", "--kind", "consumer", "--first-name", "Anna", "--last-name", "Nowak", "--offline"]),
                try cluster.posnode("B", ["partner", "add", "--code", "2001", "--kind", "consumer", "--first-name", "Jan", "--last-name", "Kowalski", "--offline"]),
            ]
        }
        for r in setup { ok(r, "setup") }

        // A write that takes long: the hub's write lock held by another session for 3 s.
        let holder = try ChildProcess("/usr/bin/psql", [cluster.hubDB, "-Atqc",
                                                       "SELECT pg_advisory_lock(\(0x706f_7368_7562_0001)); SELECT pg_sleep(3)"])
        try await Task.sleep(for: .milliseconds(500))
        let pushA = try ChildProcess(BuiltProducts.path("posnode"), ["sync", "--db", cluster.nodes["A"]!.db])
        let pushB = try ChildProcess(BuiltProducts.path("posnode"), ["sync", "--db", cluster.nodes["B"]!.db])
        try await Task.sleep(for: .milliseconds(500))
        // C pulls through the third process while both pushes wait: it gets neither yet.
        let during = try await offload { try cluster.posnode("C", ["sync"]) }
        ok(during, "sync C during the held write")
        #expect(during.stdout.contains("pulled 0 changes"), "\(during.stdout)")
        #expect(pushA.isRunning && pushB.isRunning, "the pushes wait for the write lock")
        let ends = try await offload { [holder.waitUntilExit().status, pushA.waitUntilExit().status, pushB.waitUntilExit().status] }
        #expect(ends == [0, 0, 0])
        let after = try await offload { try ["C", "A", "B"].map { try cluster.posnode($0, ["sync"]) } }
        for r in after { ok(r, "sync after") }
        let (hubHash, hashes, shown) = try await offload {
            (try cluster.hubStateHash(), try ["A", "B", "C"].map { try cluster.nodeStateHash($0) },
             try ["2001", "1001"].map { try cluster.posnode("C", ["partner", "show", "--code", $0]).stdout })
        }
        #expect(hashes == [hubHash, hubHash, hubHash])
        #expect(shown[0].contains("Kowalski") && shown[1].contains("Nowak"), "\(shown)")
    }
}
