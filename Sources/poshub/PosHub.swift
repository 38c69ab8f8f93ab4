import ArgumentParser
import CLISupport
import Foundation
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import SyncAccounting
import SyncConsole
import SyncHub
import SyncModel
import SyncReconcile
import SyncStore
import SyncWire

@main
struct PosHub: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "poshub",
        abstract: "Central data synchronization service for posnode store nodes.",
        subcommands: [Init.self, NodeCommand.self, OperatorCommand.self, Serve.self, StateHash.self, Audit.self, MoveCommand.self, BalancesCommand.self,
                      CategoryCommand.self, OfferCategoryCommand.self, OfferCommand.self, PriceCommand.self, InstitutionCommand.self,
                      AccessRequestCommand.self, EraseCommand.self, CompactCommand.self, SystemCommand.self, DocumentCommand.self, ERPCommand.self])

    /// glibc's malloc settings first (`MallocTuning`: the measurements), then the command.
    static func main() async {
        MallocTuning.apply(arenas: nil, mmapThreshold: 128 * 1024)
        await JSONErrors.main(Self.self)
    }
}

/// The hub store's options every command takes but the database password's file (each
/// command's group adds that: `HubStoreOption`, `HubStoreOptionOwnPassword`).
struct HubStoreSettings: ParsableArguments {
    @Option(help: ArgumentHelp("The hub's store: the path of a SQLite file, or a PostgreSQL database as postgres://user@host:port/database (password from PGPASSWORD or a password file, never in the URL).",
                               valueName: "path-or-url")) var db: String
    @Option(help: ArgumentHelp("The key file the ERP password is sealed under (default: beside a SQLite store, DB.erp-key; with PostgreSQL, poshub.erp-key in the working folder).",
                               valueName: "file")) var erpKeyFile: String?
    @Option(help: "SQLite synchronous mode (FULL: a power cut loses nothing committed).") var synchronous: SynchronousMode = .full
    @Option(help: "Separator between series and code for renamed partners (may be empty).") var prefixSeparator: String = "-"
    @Option(help: "Page cache of the hub's writing connection in MiB (1-4096).") var cacheMib: Int = StoreOptions.hubWriterCacheMiB
    @Option(help: "Write-ahead log pages (4 KiB each) before the hub copies the log into its database.") var walCheckpointPages: Int = StoreOptions.hubWALCheckpointPages
}

/// The hub's store as a command names it (`--db` and the rest), and opening it.
protocol HubStoreOptions {
    var settings: HubStoreSettings { get }
    /// The file holding the PostgreSQL password (nil: `PGPASSWORD`).
    var databasePasswordFile: String? { get }
}

extension HubStoreOptions {
    var db: String { settings.db }

    /// The store's location (`--db`), checked.
    func location() throws -> HubLocation { try HubLocation.parse(settings.db) }

    /// Where the ERP password's key is (`--erp-key-file`, else beside a SQLite store, else
    /// `poshub.erp-key` in the working folder).
    func erpKeyPath() throws -> String {
        if let file = settings.erpKeyFile { return file }
        if case .sqlite(let path) = try location() { return PasswordSeal.keyPath(db: path) }
        return "poshub.erp-key"
    }

    /// The PostgreSQL password from its file, else nil (PGPASSWORD).
    func password() throws -> String? {
        guard let file = databasePasswordFile else { return nil }
        guard case .postgres = try location() else {
            throw HubCLIError("a database password file is for a PostgreSQL store (--db postgres://...); a SQLite store has no password")
        }
        return try SecretFile.read(file, field: "db_password_file")
    }

    func open(mustExist: Bool = true, maxClockLeadMillis: UInt64 = HLC.defaultMaxLeadMillis) throws -> HubStore {
        if mustExist, case .sqlite(let path) = try location(), !FileManager.default.fileExists(atPath: path) {
            throw HubCLIError("hub store \(db) does not exist; run 'poshub init --db \(db)' first")
        }
        let rule = PrefixRule(separator: settings.prefixSeparator)
        try rule.validate()
        return try HubStore(path: db, options: StoreOptions(synchronous: settings.synchronous, writerCacheMiB: settings.cacheMib,
                                                            walCheckpointPages: settings.walCheckpointPages, backgroundCheckpoint: true),
                            prefixRule: rule, maxClockLeadMillis: maxClockLeadMillis, password: password(), create: !mustExist)
    }
}

/// The help of the PostgreSQL password's file, whichever its option's name.
let databasePasswordHelp = ArgumentHelp("File holding the PostgreSQL password (with a postgres:// --db; else PGPASSWORD).", valueName: "file")

/// `--db` and the store's settings, and the PostgreSQL password's file as `--password-file`
/// (or `--db-password-file`).
struct HubStoreOption: ParsableArguments, HubStoreOptions {
    @OptionGroup var settings: HubStoreSettings
    @Option(name: [.customLong("password-file"), .customLong("db-password-file")], help: databasePasswordHelp)
    var databasePasswordFile: String?
}

/// `HubStoreOption` for a command whose own `--password-file` is another password (the ERP
/// user's, an operator's): the PostgreSQL password's file is `--db-password-file` only.
struct HubStoreOptionOwnPassword: ParsableArguments, HubStoreOptions {
    @OptionGroup var settings: HubStoreSettings
    @Option(name: .customLong("db-password-file"), help: databasePasswordHelp)
    var databasePasswordFile: String?
}

struct HubCLIError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}


struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create the hub's store.")
    @OptionGroup var store: HubStoreOption
    @Flag(help: "JSON output.") var json = false

    func run() async throws {
        _ = try store.open(mustExist: false)
        let location = try store.location().description
        if json { try printJSON(["db": location, "initialized": "true"]) } else { print("initialized hub store \(location)") }
    }
}

struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "node", abstract: "Register and list store nodes; revoke or replace their tokens.",
        subcommands: [Add.self, List.self, Status.self, Revoke.self, RotateToken.self])

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every store's sync status, what needs a person first (the console's stores page).")
        @OptionGroup var store: HubStoreOption
        @Option(help: ArgumentHelp("Seconds after which a store that has neither pushed nor pulled is not seen.", valueName: "seconds"))
        var notSeenAfter: Int = 3600
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let stores = try store.open().storeOverview(notSeenAfter: notSeenAfter)
            if json { try printJSON(stores); return }
            for s in stores {
                print([s.node, s.site, s.region.isEmpty ? "-" : s.region, s.state.label, "push \(s.lastPushAt ?? "never")", "pull \(s.lastPullAt ?? "never")",
                       "waiting at store \(s.pendingEntries)", "at hub \(s.waiting)", "refused \(s.refused)", s.lastError ?? ""].joined(separator: "\t"))
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a node's token at once (a lost or stolen till): it can no longer push or pull. 'rotate-token' gives it a new one.")
        @OptionGroup var store: HubStoreOption
        @Flag(help: "JSON output.") var json = false
        @Option(help: "Node id.") var node: String

        func run() async throws {
            try store.open().revokeToken(node: node)
            if json { try printJSON(["node": node, "revoked": "true"]) } else { print("revoked the token of node \(node)") }
        }
    }

    struct RotateToken: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-token",
            abstract: "Give a node a new token and print it (shown once); the old token stops working at once.",
            discussion: "Set it on the node with 'posnode config set --token TOKEN --db DB'.")
        @OptionGroup var store: HubStoreOption
        @Flag(help: "JSON output.") var json = false
        @Option(help: "Node id.") var node: String

        func run() async throws {
            let token = try store.open().rotateToken(node: node)
            if json { try printJSON(["node": node, "token": token]) } else { print(token) }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a node and print its bearer token (shown once; only a hash is stored).")
        @OptionGroup var store: HubStoreOption
        @Flag(help: "JSON output.") var json = false
        @Option(help: "Node id, e.g. K1-POS1.") var node: String
        @Option(help: "Site (store) of the node.") var site: String
        @Option(help: "POS station series (prefix for clashing partner codes).") var series: String
        @Option(help: "Replication region: the node gets the customers and documents created in its region only (default: one region for the whole chain). All nodes of a site share one region; it cannot be changed later.")
        var region: String = ""

        func run() async throws {
            let token = try store.open().addNode(node: node, site: site, series: series, region: region)
            if json { try printJSON(["node": node, "site": site, "series": series, "region": region, "token": token]) } else { print(token) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List registered nodes.")
        @OptionGroup var store: HubStoreOption
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let nodes = try store.open().nodes()
            if json { try printJSON(nodes) } else {
                for n in nodes {
                    let c = n.center ?? CenterParameters()
                    let center = "lowest price business \(c.lowestPriceForNewBusiness) consumer \(c.lowestPriceForNewConsumer), default country \(c.defaultCountry ?? "none")"
                    print("\(n.node)\tsite \(n.site)\tseries \(n.series)\tregion \(n.region.isEmpty ? "-" : n.region)\(n.revoked ? "\trevoked" : "")\tlast seq \(n.lastSeq)\tlast push \(n.lastPushAt ?? "never")\tlast pull \(n.lastPullAt ?? "never")\t\(center)")
                }
            }
        }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the sync API (prints 'listening on HOST:PORT').",
        discussion: "A hub reachable beyond this machine runs with TLS (--tls-cert, --tls-key); a non-loopback --host without TLS is refused unless --insecure-plaintext is given.")
    @OptionGroup var store: HubStoreOption
    @Option(help: "TCP port; 0 picks a free one.") var port: Int = 8080
    @Option(help: "Address to bind.") var host: String = "127.0.0.1"
    @Option(help: "Largest compressed batch accepted, bytes.") var maxCompressedBytes: Int = BatchLimits.default.maxCompressedBytes
    @Option(help: "Largest decompressed batch accepted, bytes.") var maxUncompressedBytes: Int = BatchLimits.default.maxUncompressedBytes
    @Option(help: "Most entries in one batch.") var maxEntries: Int = BatchLimits.default.maxEntries
    @Option(help: "Log level.") var logLevel: Logger.Level = .warning
    @Option(help: ArgumentHelp("How far a node's clock may lead the hub's, seconds (default 300): a change stamped further ahead is applied with the hub's time and the node is told.", valueName: "seconds"))
    var maxClockLead: Int = Int(HLC.defaultMaxLeadMillis / 1000)
    @Option(help: ArgumentHelp("PEM file of the hub's certificate (chain); serves HTTPS.", valueName: "file")) var tlsCert: String?
    @Option(help: ArgumentHelp("PEM file of the certificate's private key.", valueName: "file")) var tlsKey: String?
    @Flag(help: "Serve plain HTTP on a non-loopback --host (tokens and customer data cross the network readable).") var insecurePlaintext = false
    @Option(help: "Connections served at once; more wait until one closes.") var maxConnections: Int = HubConnectionLimits.default.maxConnections
    @Option(help: ArgumentHelp("Seconds a connection may stay silent (no request head yet, a stalled body, idle between requests).", valueName: "seconds"))
    var idleTimeout: Int = Int(HubConnectionLimits.default.idleTimeout.nanoseconds / 1_000_000_000)
    @Option(help: ArgumentHelp("Seconds a request may take to arrive, from its head to the end of its body.", valueName: "seconds"))
    var requestTimeout: Int = Int(HubConnectionLimits.default.requestTimeout.nanoseconds / 1_000_000_000)
    @Option(help: "Connections that have not yet shown a valid token, in all (default: half of --max-connections; the rest is kept for stores); beyond, the oldest is closed.")
    var maxUnauthenticated: Int?
    @Option(help: "Connections without a valid token from one address (loopback excepted); beyond, a new one is closed at once.")
    var maxUnauthenticatedPerAddress: Int = 16
    @Option(help: ArgumentHelp("Seconds a new connection has to send its first request head.", valueName: "seconds"))
    var headTimeout: Int = 10
    @Option(help: "Bytes of push bodies received or waiting at once, of all connections; beyond, a push gets 503 and Retry-After.")
    var maxReceivingBytes: Int = HubConnectionLimits.default.maxReceivingBytes
    @Option(help: ArgumentHelp("Feed log rows read per sweep step; a new sweep pass starts once the log has grown by this many rows (or a tenth) since the last one began.", valueName: "rows"))
    var sweepStep: Int = 5000
    @Option(help: ArgumentHelp("Seconds between two looks at the accounting connector's schedule (poshub erp configure).", valueName: "seconds"))
    var erpPoll: Int = 30
    @Option(help: ArgumentHelp("Seconds after which a store that has neither pushed nor pulled is listed as not seen (console, poshub node status, /metrics).", valueName: "seconds"))
    var notSeenAfter: Int = 3600

    func validate() throws {
        if maxClockLead < 1 || maxClockLead > 86_400 { throw ValidationError("--max-clock-lead must be 1 to 86400 seconds") }
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        if tlsCert == nil && !insecurePlaintext && !Loopback.isLoopback(host: host) {
            throw ValidationError("--host \(host) is reachable beyond this machine: give --tls-cert and --tls-key, or --insecure-plaintext to serve plain HTTP there anyway")
        }
        if maxConnections < 1 { throw ValidationError("--max-connections must be at least 1") }
        if let m = maxUnauthenticated, m < 1 || m > maxConnections { throw ValidationError("--max-unauthenticated must be 1 to --max-connections (\(maxConnections))") }
        if maxUnauthenticatedPerAddress < 1 { throw ValidationError("--max-unauthenticated-per-address must be at least 1") }
        if headTimeout < 1 || headTimeout > 3600 { throw ValidationError("--head-timeout must be 1 to 3600 seconds") }
        if notSeenAfter < 1 { throw ValidationError("--not-seen-after must be at least 1 second") }
        if erpPoll < 1 || erpPoll > 3600 { throw ValidationError("--erp-poll must be 1 to 3600 seconds") }
        if sweepStep < 1 || sweepStep > 1_000_000 { throw ValidationError("--sweep-step must be 1 to 1000000 rows") }
        if idleTimeout < 1 || idleTimeout > 3600 { throw ValidationError("--idle-timeout must be 1 to 3600 seconds") }
        if requestTimeout < 1 || requestTimeout > 3600 { throw ValidationError("--request-timeout must be 1 to 3600 seconds") }
        if maxReceivingBytes < maxCompressedBytes + 4096 {
            throw ValidationError("--max-receiving-bytes must hold at least one largest batch (--max-compressed-bytes + 4096 = \(maxCompressedBytes + 4096))")
        }
    }

    func run() async throws {
        let hub = try store.open(maxClockLeadMillis: UInt64(maxClockLead) * 1000)
        // Each start is an epoch: nodes that hold more than a restored hub has find out.
        try hub.beginEpoch()
        let limits = BatchLimits(maxCompressedBytes: maxCompressedBytes, maxUncompressedBytes: maxUncompressedBytes, maxEntries: maxEntries)
        var logger = Logger(label: "poshub")
        logger.logLevel = logLevel
        let host = self.host
        let tls = try tlsCert.map { try HubTLS.serverConfiguration(certificateFile: $0, keyFile: tlsKey ?? "") }
        let connections = HubConnectionLimits(maxConnections: maxConnections, idleTimeout: .seconds(Int64(idleTimeout)),
                                              requestTimeout: .seconds(Int64(requestTimeout)), maxReceivingBytes: maxReceivingBytes,
                                              maxUnauthenticated: maxUnauthenticated, maxUnauthenticatedPerAddress: maxUnauthenticatedPerAddress,
                                              headTimeout: .seconds(Int64(headTimeout)))
        var server = HubServer(store: hub, limits: limits, connectionLimits: connections, logger: logger)
        server.notSeenAfter = notSeenAfter
        // The operator console on the same port (/console).
        server = Console(store: hub, activity: server.activity, notSeenAfter: notSeenAfter, secureCookies: tls != nil).install(on: server)
        // swift-metrics (Hummingbird's request metrics) reports into the hub's registry.
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: server.metrics.registry))
        // On SIGTERM or SIGINT the server stops taking connections and answers the requests it
        // has, then the sweeper stops, then the store is closed (services stop in reverse order).
        let services: [any Service] = [
            HubStoreCloser(store: hub, logger: logger),
            // Each store's syncing as the console shows it, written every 2 s.
            NodeActivityFlusher(activity: server.activity, store: hub),
            // Superseded feed rows are removed while no push comes (see FeedSweeper).
            FeedSweeper(store: hub, metrics: server.metrics, step: sweepStep),
            // The accounting connector on its schedule (nothing until it is configured).
            AccountingScheduler(hub: hub, poll: .seconds(erpPoll), logger: logger) { [erpKeyPath = try store.erpKeyPath()] in
                try AccountingConnector.configured(hub: hub, keyPath: erpKeyPath)
            },
        ]
        let app = try server.application(host: host, port: port, tls: tls, services: services, logger: logger) { bound in
            print("listening on \(host):\(bound)")
            fflush(nil)
        }
        try await app.runService()
    }
}

struct StateHash: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state-hash",
        abstract: "Print the digest of the replicated tables, or of one region's records (what a synced node of that region prints).")
    @OptionGroup var store: HubStoreOption
    @Option(help: "Only this region's records; '' is the default region.") var region: String?
    @Flag(name: .customLong("by-region"), help: "One line per region: region, digest (JSON with --json).") var byRegion = false
    @Flag(help: "JSON output.") var json = false

    func run() async throws {
        let hub = try store.open()
        if byRegion {
            let hashes = try hub.regionStateHashes()
            if json { try printJSON(hashes); return }
            for (region, hash) in hashes.sorted(by: { $0.key < $1.key }) { print("\(region.isEmpty ? "-" : region)\t\(hash)") }
            return
        }
        if let region { try NodeIdentity.validate(region: region) }
        let hash = try hub.stateHash(region: region)
        if json { try printJSON(["state_hash": hash]) } else { print(hash) }
    }
}

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the hub's audit log (renames, overwrites, moves).")
    @OptionGroup var store: HubStoreOption
    @Option(help: "Only records of this kind.") var kind: AuditKind?
    @Flag(help: "JSON output.") var json = false

    func run() async throws {
        let records = try store.open().audit(kind: kind)
        if json { try printJSON(records); return }
        for r in records {
            print("\(r.at)\t\(r.node)\t\(r.kind)\t\(r.entity) \(r.key)\t\(r.field ?? "")\t\(r.oldValue ?? "") -> \(r.newValue ?? "")\t\(r.reason)")
        }
    }
}

struct MoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "move", abstract: "Carry out a customer move at a site directly on the hub (same rules as a node's request).",
        discussion: "The conditions of a customer move: docs/rules.md.")
    @OptionGroup var store: HubStoreOption
    @Option(help: "Site where the move is carried out (the current customer's site).") var site: String
    @Option(help: "Current customer, CODE:SEQ.") var current: String
    @Option(name: .customLong("new"), help: "New customer, CODE:SEQ.") var newCustomer: String
    @Option(help: "The other site, where the new customer exists.") var fromSite: String
    @Flag(help: "JSON output.") var json = false

    func run() async throws {
        let (cc, cs) = try MoveRequest.parseCustomer(current, field: "current")
        let (nc, ns) = try MoveRequest.parseCustomer(newCustomer, field: "new")
        let request = MoveRequest(currentCode: cc, currentSeq: cs, newCode: nc, newSeq: ns, fromSite: fromSite, site: site)
        try store.open().move(request)
        if json { try printJSON(request); return }
        print("moved \(cc):\(cs) -> \(nc):\(ns) at site \(site)")
    }
}

struct BalancesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "balances", abstract: "Customer balances.", subcommands: [Recalc.self])

    struct Recalc: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Recompute posted and order balances of every customer on the hub.")
        @OptionGroup var store: HubStoreOption
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let balances = try store.open().recalculateBalances()
            if json { try printJSON(balances); return }
            print("recalculated \(balances.count) customers")
        }
    }
}

extension HubError: CarriesFieldError {
    public var fieldError: FieldError? {
        if case .invalid(let e) = self { return e }
        return nil
    }
}
