import Foundation
import GRDB
import Logging
import SyncHub
import SyncModel
import SyncNode
import SyncReconcile
import SyncStore
import SyncWire

/// A seeded, deterministic reconnect simulation: one hub and many store nodes on real SQLite
/// files, with offline windows, code clashes, customer moves, crashes and concurrent edits,
/// all through the real store, batch and reconcile code. The same seed gives the same run.
public final class Simulation {
    public let options: SimulationOptions
    let clock = SimClock()
    var rng: SeededRandom
    var report: SimulationReport
    let dir: String
    var hub: HubStore!
    var nodes: [SimNode] = []
    var server: Task<Void, Error>?
    var serverPort = 0

    /// One store node and what the simulation knows of it.
    final class SimNode {
        let id: String
        let site: String
        let series: String
        let region: String
        let path: String
        var token = ""
        var store: NodeStore
        var online = true
        var opsDone = 0
        /// Codes this node created, by the code it typed; the final code follows renames.
        var created: [(typed: String, current: String)] = []
        init(id: String, site: String, series: String, region: String, path: String, store: NodeStore) {
            self.id = id; self.site = site; self.series = series; self.region = region; self.path = path; self.store = store
        }
    }

    /// Successful operations to find in the final state.
    var expectedPartners: [(node: Int, index: Int, firstName: String)] = []
    var expectedDocuments: [String] = []
    /// Edits: of an own partner (its index in `created`, so the final code follows renames) or of a code as the hub has it.
    var expectedUpdates: [(node: Int, own: Int?, code: String, field: String, value: String)] = []

    public init(options: SimulationOptions) throws {
        self.options = options
        rng = SeededRandom(seed: options.seed)
        report = SimulationReport(options: options)
        if let d = options.workDir {
            try? FileManager.default.removeItem(atPath: d)
            dir = d
        } else {
            dir = FileManager.default.temporaryDirectory.path + "/possim-\(options.seed)-\(UUID().uuidString.prefix(8))"
        }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    deinit {
        if !options.keep { try? FileManager.default.removeItem(atPath: dir) }
    }

    static let storeOptions = StoreOptions(synchronous: .off)
    /// The hub as `poshub` opens it (writer cache, write-ahead log size), without fsyncs.
    static let hubOptions = { var o = StoreOptions.hub; o.synchronous = .off; return o }()

    func openStore(_ path: String) throws -> NodeStore {
        let clock = self.clock
        return try NodeStore.open(path: path, options: Self.storeOptions, clock: { clock.now() })
    }

    func transport(for node: SimNode) throws -> any HubTransport {
        if options.http {
            return HubClient(baseURL: "http://127.0.0.1:\(serverPort)", token: node.token)
        }
        return InProcessHubTransport(hub: hub, node: try hub.node(node.id))
    }

    // MARK: Set-up

    func setUp() async throws {
        let clock = self.clock
        hub = try HubStore(path: "\(dir)/hub.sqlite", options: Self.hubOptions, clock: { clock.now() })
        let width = max(3, String(options.nodes).count)
        for i in 0..<options.nodes {
            let n = String(repeating: "0", count: width - String(i + 1).count) + String(i + 1)
            let id = "N\(n)", site = "S\(n)", series = "K\(n)"
            let region = options.regionSize > 0 ? "R\(i / options.regionSize + 1)" : ""
            let token = try hub.addNode(node: id, site: site, series: series, region: region)
            let path = "\(dir)/\(id).sqlite"
            let store = try NodeStore.create(path: path, node: id, site: site, series: series,
                                             center: CenterParameters(lowestPriceForNewBusiness: true),
                                             options: Self.storeOptions, clock: { clock.now() })
            let node = SimNode(id: id, site: site, series: series, region: region, path: path, store: store)
            node.token = token
            nodes.append(node)
        }
        if options.http {
            let (stream, continuation) = AsyncStream<Int>.makeStream()
            var logger = Logger(label: "possim-hub")
            logger.logLevel = .critical
            let app = try HubServer(store: hub).application(port: 0, logger: logger) { port in continuation.yield(port) }
            server = Task { try await app.run() }
            var it = stream.makeAsyncIterator()
            serverPort = await it.next() ?? 0
        }
    }

    func tearDown() async {
        server?.cancel()
        _ = try? await server?.value
    }

    // MARK: Run

    public func run(progress: ((Int, Int) -> Void)? = nil) async throws -> SimulationReport {
        let start = Date()
        try await setUp()
        do {
            try await simulate(progress: progress)
            try await converge()
            try verify()
        } catch {
            await tearDown()
            throw error
        }
        await tearDown()
        report.seconds = Date().timeIntervalSince(start)
        return report
    }

    func simulate(progress: ((Int, Int) -> Void)?) async throws {
        // Offline windows: a two-state chain whose stationary offline share is offlineFraction.
        let backOnline = 0.1
        let f = min(max(options.offlineFraction, 0), 0.95)
        let goOffline = f == 0 ? 0 : f * backOnline / (1 - f)
        for step in 0..<options.opsPerNode {
            clock.advance(by: 1000)
            for (i, node) in nodes.enumerated() {
                if node.online { if rng.chance(goOffline) { node.online = false } } else if rng.chance(backOnline) { node.online = true }
                try operate(i)
                if rng.chance(options.crashRate) { try await crash(i) }
                if node.online && (step + i) % options.syncEvery == 0 { await sync(i) }
            }
            // The hub's feed sweeper runs when no push comes; the simulation has no idle
            // time, so it sweeps a whole pass every 50 steps (its cost is in the run's time).
            if (step + 1) % 50 == 0 { try hub.sweepFeedPass() }
            progress?(step + 1, options.opsPerNode)
        }
    }

    /// A round for a node; a failure (simulated crash aftermath, hub refusal) is counted, not fatal.
    @discardableResult
    func sync(_ i: Int) async -> Bool {
        let node = nodes[i]
        report.syncRounds += 1
        do {
            let s = try await SyncRound(store: node.store, transport: transport(for: node)).run()
            account(s, node: node)
            return true
        } catch {
            report.failedSyncRounds += 1
            return false
        }
    }

    func account(_ s: SyncSummary, node: SimNode) {
        report.bytesSent += s.bytesSent
        report.bytesSentUncompressed += s.bytesSentUncompressed
        report.bytesReceived += s.bytesReceived
        report.bytesReceivedUncompressed += s.bytesReceivedUncompressed
        report.duplicatesResent += s.duplicates
        for r in s.renames {
            report.prefixRenames += 1
            for k in node.created.indices where node.created[k].current == r.oldCode { node.created[k].current = r.newCode }
        }
        for r in s.rejected {
            let reason = r.reason ?? ""
            if reason.contains("move refused") {
                for part in reason.components(separatedBy: "condition ").dropFirst() {
                    let number = part.prefix { $0.isNumber }
                    report.movesRefused["condition \(number)", default: 0] += 1
                }
            }
        }
    }

    /// The node process dies: after a write (nothing pushed), or in the middle of a sync
    /// (the hub applied a batch but the node never saw the reply).
    func crash(_ i: Int) async throws {
        let node = nodes[i]
        report.crashes += 1
        if node.online, rng.chance(0.5) {
            let cfg = try node.store.config()
            let pending = try node.store.pendingJournal(limit: 50)
            if !pending.isEmpty {
                var writer = BatchWriter(node: node.id)
                for e in pending { writer.append(e.change) }
                _ = try? await transport(for: node).push(batch: try writer.finish(), renamesApplied: cfg.renamesApplied, pendingAfter: 0)
            }
        }
        node.store = try openStore(node.path)
    }

    // MARK: Operations

    func pick<T>(_ items: [T]) -> T? { items.isEmpty ? nil : items[Int.random(in: 0..<items.count, using: &rng)] }

    func operate(_ i: Int) throws {
        let node = nodes[i]
        node.opsDone += 1
        let roll = Double.random(in: 0..<1, using: &rng)
        let store = node.store
        let moveShare = options.moveRate
        func done(_ kind: String) { report.operations += 1; report.operationsByKind[kind, default: 0] += 1 }
        func refused() { report.refusedLocally += 1 }

        if roll < moveShare {
            // Move this site's customer to a customer another site of its region registered.
            guard let mine = pick(node.created.map(\.current)), let other = pick(nodes.filter { $0 !== node && $0.region == node.region }),
                  let theirs = pick(other.created.map(\.current)) else { return refused() }
            do {
                try store.requestMove(MoveRequest(currentCode: mine, currentSeq: 0, newCode: theirs, newSeq: 0, fromSite: other.site))
                done("move")
            } catch { refused() }
            return
        }
        let r = (roll - moveShare) / (1 - moveShare)
        if r < 0.25 || node.created.isEmpty {
            let clash = rng.chance(options.clashRate)
            let code = clash ? "C\(Int.random(in: 1...options.clashPool, using: &rng))" : "\(node.id)-\(node.opsDone)"
            let business = rng.chance(0.3)
            let first = "F\(node.id)x\(node.opsDone)"
            var p = business ? Partner(code: code, kind: .business, name: first, vatID: nil, country: "PL")
                : Partner(code: code, kind: .consumer, firstName: first, lastName: "L\(node.opsDone)", country: "PL")
            p.currency = rng.chance(0.1) ? "EUR" : "PLN"
            p.corporateCustomer = rng.chance(0.1) ? "GROUP1" : nil
            do {
                try store.addPartner(p)
                try store.addAddress(Address(partnerCode: code, site: node.site, seq: 0, street: "Street \(node.opsDone)", city: node.site))
                node.created.append((code, code))
                expectedPartners.append((i, node.created.count - 1, first))
                done("create")
            } catch { refused() }
        } else if r < 0.45 {
            // Edit: mostly own customers, sometimes a shared-pool code another store may edit too.
            let code = rng.chance(0.3) ? "C\(Int.random(in: 1...options.clashPool, using: &rng))" : (pick(node.created.map(\.current)) ?? "")
            let field = pick(["phone", "email", "salutation"])!
            let value = field == "email" ? "\(node.id.lowercased())\(node.opsDone)@shop.pl" : "\(node.id)-\(node.opsDone)"
            do {
                try store.updatePartner(code: code, changes: [field: .text(value)])
                expectedUpdates.append((i, node.created.firstIndex { $0.current == code }, code, field, value))
                done("update")
            } catch { refused() }
        } else if r < 0.55 {
            guard let code = pick(node.created.map(\.current)) else { return refused() }
            do {
                try store.addAddress(Address(partnerCode: code, site: node.site, seq: Int.random(in: 1...3, using: &rng), street: "Ship \(node.opsDone)"))
                done("address")
            } catch { refused() }
        } else {
            let code = rng.chance(0.2) ? "C\(Int.random(in: 1...options.clashPool, using: &rng))" : (pick(node.created.map(\.current)) ?? "")
            let kind = pick([DocumentKind.receipt, .receipt, .receipt, .invoice, .order, .receivable])!
            do {
                let doc = try store.addDocument(kind: kind, partnerCode: code, amountMinor: Int64.random(in: 100...50_000, using: &rng), currency: "PLN")
                expectedDocuments.append(doc.id)
                done(kind.rawValue)
            } catch { refused() }
        }
    }

    // MARK: Convergence and verification

    func converge() async throws {
        for node in nodes { node.online = true }
        for round in 0..<4 {
            for i in nodes.indices { await sync(i) }
            // After one round the last nodes' pushes have not reached the first nodes yet;
            // hashing every store is costly, so the check starts with the second round.
            if round == 0 { continue }
            // Each store must hold exactly its region's records as the hub has them.
            let regionHashes = try hub.regionStateHashes()
            let hashes = try nodes.map { try $0.store.stateHash() }
            let pending = try nodes.reduce(0) { $0 + (try $1.store.pendingCount()) }
            report.hubStateHash = try hub.stateHash()
            report.regions = Set(nodes.map(\.region)).count
            report.distinctNodeHashes = Set(hashes).count
            report.nodesDiffering = zip(nodes, hashes).filter { regionHashes[$0.region] != $1 }.count
            report.converged = report.nodesDiffering == 0 && pending == 0
            if report.converged { break }
        }
        let audit = try hub.audit(kind: nil, limit: Int.max / 2)
        report.fieldOverwrites = audit.filter { $0.kind == "overwrite" }.count
        report.movesCarriedOut = audit.filter { $0.kind == "move" }.count
    }

    /// Every operation that returned success must be found in the final hub state, following
    /// renames (codes) and moves (documents keep their ids; moved customers stay as tombstones).
    func verify() throws {
        let overwritten = Set(try hub.audit(kind: .overwrite, limit: Int.max / 2).compactMap { r -> String? in
            guard let field = r.field else { return nil }
            return "\(r.key)|\(field)|\(r.oldValue ?? "")"
        })
        try hub.pool.read { db in
            for e in expectedPartners {
                let code = nodes[e.node].created[e.index].current
                let p = try ReplicatedTable.partner.fetch(db, key: code)
                let name = p?["first_name"]?.text ?? p?["name"]?.text
                if name != e.firstName { report.missing.append("partner \(code) created by \(nodes[e.node].id) as '\(e.firstName)'") }
            }
            for id in expectedDocuments where try !ReplicatedTable.document.exists(db, key: id) {
                report.missing.append("document \(id)")
            }
            // The last edit of a field wins unless a concurrent edit beat it (then the audit log has it);
            // earlier edits of the same field were replaced in order.
            var last: [String: Int] = [:]
            var finalCodes: [String] = []
            for (k, u) in expectedUpdates.enumerated() {
                let code = u.own.map { nodes[u.node].created[$0].current } ?? u.code
                finalCodes.append(code)
                last["\(code)|\(u.field)"] = k
            }
            for (k, u) in expectedUpdates.enumerated() where last["\(finalCodes[k])|\(u.field)"] == k {
                let code = finalCodes[k]
                let value = try ReplicatedTable.partner.fetch(db, key: code)?[u.field]?.text
                if value != u.value && !overwritten.contains("\(code)|\(u.field)|\(u.value)") {
                    report.missing.append("update \(u.field)=\(u.value) of \(code) by \(nodes[u.node].id)")
                }
            }
        }
    }
}
