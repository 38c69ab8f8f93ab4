import AsyncHTTPClient
import Foundation
import SyncHub
import SyncModel
import SyncNode
import SyncStore
import SyncTesting

/// Many stores syncing with one `poshub serve` at once, quiet and while a client holds
/// hundreds of idle connections to it (docs/security.md, "The hub's transport").
enum Load {
    /// Round times of `stores` stores that each write `changes` changes and then sync, all at
    /// once, `rounds` times; errors counted, not thrown.
    struct Phase { var times: [Double] = []; var errors = 0; var firstError: String? }

    static func percentile(_ xs: [Double], _ p: Double) -> Double {
        guard !xs.isEmpty else { return .nan }
        let s = xs.sorted()
        return s[min(s.count - 1, Int((Double(s.count - 1) * p).rounded()))]
    }

    static func run(stores count: Int, sizes: [Int], rounds: Int, idle: Int, dir: String, bin: String, log: (String) -> Void) async throws -> [BenchRow] {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let hubDB = "\(dir)/hub.sqlite"
        let hubStore = try HubStore(path: hubDB)
        var tokens: [String] = []
        for i in 0..<count { tokens.append(try hubStore.addNode(node: "S\(i)", site: "ST\(i)", series: "K\(i)")) }
        try hubStore.close()
        let hub = try ChildProcess(bin + "/poshub", ["serve", "--db", hubDB, "--port", "0"])
        defer { hub.stop() }
        let port = try hub.waitForPort()
        let url = "http://127.0.0.1:\(port)"
        var config = HTTPClient.Configuration()
        config.timeout = .init(connect: .seconds(3), read: .seconds(120))
        config.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 2 * count
        let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: config)
        do {
            let rows = try await measureRows(stores: count, sizes: sizes, rounds: rounds, idle: idle, dir: dir, url: url, port: port, tokens: tokens, http: http, hub: hub, log: log)
            try await http.shutdown()
            return rows
        } catch {
            try? await http.shutdown()
            throw error
        }
    }

    static func measureRows(stores count: Int, sizes: [Int], rounds: Int, idle: Int, dir: String, url: String, port: Int, tokens: [String],
                            http: HTTPClient, hub: ChildProcess, log: (String) -> Void) async throws -> [BenchRow] {
        var stores: [NodeStore] = []
        for i in 0..<count {
            stores.append(try NodeStore.create(path: "\(dir)/S\(i).sqlite", node: "S\(i)", site: "ST\(i)", series: "K\(i)"))
        }
        var written = 0
        func write(_ n: Int) throws {
            for (i, store) in stores.enumerated() {
                try store.transaction { tx in
                    for j in 0..<n {
                        let code = "S\(i)-\(written + j)"
                        if j % 2 == 0 || j == 0 {
                            try tx.addPartner(Partner(code: code, kind: .consumer, firstName: "Anna", lastName: "Nowak\(j)", phone: "+48 600 \(100_000 + j)",
                                                      email: "s\(i)k\(written + j)@example.pl", country: "PL"))
                        } else {
                            try tx.addDocument(kind: .receipt, partnerCode: "S\(i)-\(written + j - 1)", amountMinor: Int64(100 + j), currency: "PLN")
                        }
                    }
                }
            }
            written += n
        }
        func syncAll() async -> Phase {
            var phase = Phase()
            await withTaskGroup(of: (Double, String?).self) { group in
                for (i, store) in stores.enumerated() {
                    let client = HubClient(baseURL: url, token: tokens[i], http: http)
                    group.addTask {
                        let start = DispatchTime.now().uptimeNanoseconds
                        do {
                            _ = try await SyncRound(store: store, transport: client).run()
                            return (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, nil)
                        } catch {
                            return (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, String(describing: error))
                        }
                    }
                }
                for await (t, error) in group {
                    phase.times.append(t)
                    if let error { phase.errors += 1; if phase.firstError == nil { phase.firstError = error } }
                }
            }
            return phase
        }
        // Every store's first sync (its snapshot), then the measured rounds.
        let first = await syncAll()
        guard first.errors == 0 else { throw BenchError("first syncs failed: \(first.firstError ?? "")") }
        func measure(_ changes: Int) async throws -> Phase {
            var all = Phase()
            for _ in 0..<rounds {
                try write(changes)
                let p = await syncAll()
                all.times += p.times
                all.errors += p.errors
                if all.firstError == nil { all.firstError = p.firstError }
            }
            return all
        }
        var rows: [BenchRow] = []
        for changes in sizes {
            log("  load: \(count) stores, \(rounds) rounds of \(changes) changes each, quiet…")
            let quiet = try await measure(changes)
            log("  load: the same while a client holds \(idle) idle connections…")
            let idler = IdleClient(port: port, connections: idle)
            idler.start()
            try await Task.sleep(for: .seconds(2))
            let loaded = try await measure(changes)
            let held = idler.stop()
            let ratio = percentile(loaded.times, 0.99) / percentile(quiet.times, 0.99)
            rows.append(BenchRow(
                row: "load, \(changes) changes a store", workload: "\(count) stores syncing at once (\(rounds) rounds of \(changes) changes each) while a client holds \(idle) idle connections",
                figure: percentile(loaded.times, 0.99), unit: "s p99 round", reference: percentile(quiet.times, 0.99),
                referenceWorkload: "the same rounds with no idle client", ratio: ratio, target: "≤ 2×, 0 errors",
                met: ratio <= 2 && quiet.errors == 0 && loaded.errors == 0,
                notes: String(format: "quiet: p50 %.3f s, p99 %.3f s, %d errors; with %d idle connections (%d opened in all: the hub closes one that sends no request head within 10 s, and the oldest beyond its share): p50 %.3f s, p99 %.3f s, %d errors%@; hub peak RSS %.0f MB",
                              percentile(quiet.times, 0.5), percentile(quiet.times, 0.99), quiet.errors, idle, held,
                              percentile(loaded.times, 0.5), percentile(loaded.times, 0.99), loaded.errors,
                              (loaded.firstError ?? quiet.firstError).map { " (first: \($0.prefix(200)))" } ?? "",
                              Double(hub.peakResidentKiB()) / 1024)))
        }
        return rows
    }
}
