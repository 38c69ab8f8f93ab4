import AsyncHTTPClient
import Foundation
import SyncHub
import SyncModel
import SyncNode
import SyncStore
import SyncTesting

/// The hub on PostgreSQL (docs/design.md, "The hub's store: one seam for SQLite and
/// PostgreSQL"): the catch-up beside a bare `COPY` of the same rows into the same server, and
/// many stores catching up at once through one, two and three hub processes. `server` is the
/// URL of a database on the bench's server for administration (Scripts/bench.sh starts one).
enum PostgresBench {
    static func catchUp(count: Int, pushBatch: Int, server: String, dir: String, bin: String, log: (String) -> Void) async throws -> BenchRow {
        let database = try TestPostgres.createDatabase(server: server, prefix: "bench")
        defer { try? TestPostgres.drop(database, server: server) }
        let (_, _, sync) = try await Bench.pushBacklog(count: count, pushBatch: pushBatch, dir: dir, bin: bin, hubDB: database.url, log: log)
        let rate = Double(count) / sync.seconds
        // Reference: the rows the catch-up left in the hub's replicated tables, loaded with COPY
        // into tables of the same shape (keys and indexes included), in one psql run.
        let tables = ["partner", "address", "document"]
        var loads: [String] = []
        var rows = 0
        for table in tables {
            let file = "\(dir)/\(table).csv"
            try TestPostgres.psql(["\\copy (SELECT * FROM \(table)) TO '\(file)' CSV", "CREATE TABLE ref_\(table) (LIKE \(table) INCLUDING ALL)"], url: database.url)
            rows += Int(try TestPostgres.psql(["SELECT count(*) FROM \(table)"], url: database.url).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            loads.append("\\copy ref_\(table) FROM '\(file)' CSV")
        }
        let copySeconds = try Bench.seconds { try TestPostgres.psql(loads, url: database.url) }
        let reference = Double(count) / copySeconds
        log(String(format: "  PostgreSQL hub: %.0f changes/s; COPY of the %d rows %.2f s (%.0f changes/s)", rate, rows, copySeconds, reference))
        return BenchRow(row: "catch-up, PostgreSQL hub", workload: "\(count) offline changes pushed over loopback HTTP to a hub on PostgreSQL 15",
                        figure: rate, unit: "changes/s", reference: reference,
                        referenceWorkload: "COPY of the \(rows) rows they left (partners, addresses, documents) into tables of the same shape, same server",
                        ratio: rate / reference, target: "≥ 0.3×", met: rate / reference >= 0.3,
                        notes: String(format: "%.2f s end-to-end (push %.2f s; the hub's writer applied for %.2f s, including the writes to PostgreSQL); "
                                      + "COPY %.2f s including psql's start; hub peak RSS %.0f MB", sync.seconds, sync.pushSeconds, sync.hubApplySeconds,
                                      copySeconds, sync.hubPeakMB))
    }

    /// `stores` stores with `changes` offline changes each catch up at once through 1…3 hub
    /// processes behind a round-robin relay (Scripts/tcp-relay.py).
    static func processes(stores: Int, changes: Int, counts: [Int], server: String, dir: String, bin: String, log: (String) -> Void) async throws -> BenchRow {
        var rates: [(Int, Double, Int)] = []
        var firstError: String?
        for n in counts {
            let rowDir = "\(dir)/\(n)"
            try FileManager.default.createDirectory(atPath: rowDir, withIntermediateDirectories: true)
            let database = try TestPostgres.createDatabase(server: server, prefix: "bench")
            defer { try? TestPostgres.drop(database, server: server) }
            let setup = try HubStore(path: database.url)
            var tokens: [String] = []
            for i in 0..<stores { tokens.append(try setup.addNode(node: "S\(i)", site: "ST\(i)", series: "K\(i)")) }
            try setup.close()
            var hubs: [ChildProcess] = []
            defer { hubs.forEach { $0.stop() } }
            var ports: [String] = []
            for _ in 0..<n {
                let hub = try ChildProcess(bin + "/poshub", ["serve", "--db", database.url, "--port", "0"])
                hubs.append(hub)
                ports.append(String(try hub.waitForPort()))
            }
            let relay = try ChildProcess("/usr/bin/python3", [PackageRoot.path + "/Scripts/tcp-relay.py"] + ports)
            defer { relay.stop() }
            let url = "http://127.0.0.1:\(try relay.waitForPort())"
            var nodes: [NodeStore] = []
            for i in 0..<stores {
                let node = try NodeStore.create(path: "\(rowDir)/S\(i).sqlite", node: "S\(i)", site: "ST\(i)", series: "K\(i)")
                try Backlog.write(node, count: changes, seed: UInt64(i + 1))
                nodes.append(node)
            }
            var config = HTTPClient.Configuration()
            config.timeout = .init(connect: .seconds(5), read: .seconds(300))
            config.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 2 * stores
            let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: config)
            let start = DispatchTime.now().uptimeNanoseconds
            let failures = await withTaskGroup(of: String?.self) { group in
                for (i, node) in nodes.enumerated() {
                    let client = HubClient(baseURL: url, token: tokens[i], http: http)
                    group.addTask {
                        do { _ = try await SyncRound(store: node, transport: client).run(); return nil } catch { return String(describing: error) }
                    }
                }
                return await group.reduce(into: [String]()) { if let e = $1 { $0.append(e) } }
            }
            let errors = failures.count
            if firstError == nil { firstError = failures.first }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            try await http.shutdown()
            let rate = Double(stores * changes) / elapsed
            log(String(format: "  %d hub process(es): %d stores × %d changes in %.2f s, %.0f changes/s, %d errors", n, stores, changes, elapsed, rate, errors))
            rates.append((n, rate, errors))
            try? FileManager.default.removeItem(atPath: rowDir)
        }
        let one = rates.first { $0.0 == 1 }?.1 ?? rates[0].1
        let most = rates.last!
        let each = rates.map { String(format: "%d: %.0f changes/s, %d errors", $0.0, $0.1, $0.2) }.joined(separator: "; ")
        return BenchRow(row: "hub processes, PostgreSQL", workload: "\(stores) stores × \(changes) offline changes catching up at once through \(most.0) poshub serve on one PostgreSQL (round-robin relay)",
                        figure: most.1, unit: "changes/s", reference: one, referenceWorkload: "the same through one hub process behind the same relay",
                        ratio: most.1 / one, target: "≥ 0.8×, 0 errors", met: most.1 / one >= 0.8 && rates.allSatisfy { $0.2 == 0 },
                        notes: each + (firstError.map { " (first error: \($0.prefix(300)))" } ?? "") + "; writes take the database's one write lock, so processes add read capacity and availability, not write throughput")
    }
}
