import Foundation

/// A hub and store nodes as real processes in a temporary folder, for tests and the harness.
/// Everything started is stopped by `shutdown()` (call it in `defer`).
public final class Cluster: @unchecked Sendable {
    public let dir: TemporaryDirectory
    public let hubDB: String
    public private(set) var hub: ServerProcess?
    public private(set) var nodes: [String: NodeHandle] = [:]
    private var hubPort = 0

    public struct NodeHandle: Sendable {
        public var id: String
        public var site: String
        public var series: String
        public var db: String
        public var token: String
        /// The local API's token (`posnode api-token`).
        public var apiToken: String
    }

    /// The hub's store kind: a SQLite file in `dir`, or a new database of the test PostgreSQL
    /// server (`TestPostgres`), dropped at `shutdown`.
    public let store: HubStoreKind
    public private(set) var postgresDatabase: TestPostgres.Database?

    public init(store: HubStoreKind = .sqlite) throws {
        dir = try TemporaryDirectory(prefix: "posnode-cluster")
        self.store = store
        switch store {
        case .sqlite:
            hubDB = dir.file("hub.sqlite")
        case .postgres:
            let database = try TestPostgres.createDatabase()
            postgresDatabase = database
            hubDB = database.url
        }
        try Self.check(runCommand(BuiltProducts.path("poshub"), ["init", "--db", hubDB]))
    }

    static func check(_ r: CommandResult) throws {
        guard r.succeeded else { throw ClusterError.commandFailed(r.stderr) }
    }

    /// Starts (or restarts on the same port) the hub.
    @discardableResult
    public func startHub(extraArguments: [String] = []) throws -> ServerProcess {
        let h = try ServerProcess(BuiltProducts.path("poshub"), ["serve", "--db", hubDB, "--port", String(hubPort)] + extraArguments)
        hub = h
        hubPort = h.port
        return h
    }

    public func stopHub() { hub?.stop(); hub = nil }
    public func killHub() { hub?.kill(); hub = nil }

    /// `https` once the hub is started with `--tls-cert` (set before `addNode`).
    public var hubScheme = "http"

    public var hubURL: String { "\(hubScheme)://127.0.0.1:\(hubPort)" }

    /// Registers a node at the hub (in `region`, if given) and initializes its store. The hub
    /// must have been started once (so its port is known); it may be down now.
    @discardableResult
    public func addNode(_ id: String, site: String, series: String, region: String? = nil, hubURL: String? = nil,
                        initArguments: [String] = []) throws -> NodeHandle {
        let tokenRun = try runCommand(BuiltProducts.path("poshub"), ["node", "add", "--db", hubDB, "--node", id, "--site", site, "--series", series]
                                      + (region.map { ["--region", $0] } ?? []))
        try Self.check(tokenRun)
        let token = tokenRun.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let db = dir.file("\(id).sqlite")
        try Self.check(runCommand(BuiltProducts.path("posnode"), ["init", "--db", db, "--node", id, "--site", site, "--series", series,
                                                               "--hub", hubURL ?? self.hubURL, "--token", token] + initArguments))
        let apiToken = try runCommand(BuiltProducts.path("posnode"), ["api-token", "--db", db])
        try Self.check(apiToken)
        let handle = NodeHandle(id: id, site: site, series: series, db: db, token: token,
                                apiToken: apiToken.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        nodes[id] = handle
        return handle
    }

    /// Runs a posnode CLI command against a node's store.
    @discardableResult
    public func posnode(_ id: String, _ arguments: [String]) throws -> CommandResult {
        guard let n = nodes[id] else { throw ClusterError.unknownNode(id) }
        guard let sub = arguments.first else { throw ClusterError.unknownNode("") }
        var args = arguments
        // Insert --db after the (sub)command words.
        var insertAt = 1
        if ["partner", "address", "receipt", "document", "customer", "balances", "config", "institution", "member", "order", "catalog",
            "access-request"].contains(sub),
           arguments.count > 1 { insertAt = 2 }
        args.insert(contentsOf: ["--db", n.db], at: insertAt)
        return try runCommand(BuiltProducts.path("posnode"), args)
    }

    /// Runs a poshub CLI command against the hub's store: `words` are the command's words
    /// (`["price", "set"]`), `--db` follows them.
    @discardableResult
    public func poshub(_ words: [String], _ arguments: [String] = []) throws -> CommandResult {
        try runCommand(BuiltProducts.path("poshub"), words + ["--db", hubDB] + arguments)
    }

    public func nodeStateHash(_ id: String) throws -> String {
        try posnode(id, ["state-hash"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The hub's state hash, or one region's (`poshub state-hash --region`).
    public func hubStateHash(region: String? = nil) throws -> String {
        try runCommand(BuiltProducts.path("poshub"), ["state-hash", "--db", hubDB] + (region.map { ["--region", $0] } ?? []))
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Starts `posnode serve` for a node on a free port.
    public func serveNode(_ id: String, backgroundSync: Bool = false, syncInterval: Double = 0.5,
                          extraArguments: [String] = []) throws -> ServerProcess {
        guard let n = nodes[id] else { throw ClusterError.unknownNode(id) }
        var args = ["serve", "--db", n.db, "--port", "0", "--sync-interval", String(syncInterval), "--max-backoff", "2"]
        if !backgroundSync { args.append("--no-background-sync") }
        args += extraArguments
        let server = try ServerProcess(BuiltProducts.path("posnode"), args)
        server.apiToken = n.apiToken
        return server
    }

    public func shutdown() {
        hub?.stop()
        dir.remove()
        if let postgresDatabase { try? TestPostgres.drop(postgresDatabase) }
    }
}

public enum ClusterError: Error, CustomStringConvertible {
    case commandFailed(String)
    case unknownNode(String)
    public var description: String {
        switch self {
        case .commandFailed(let e): return "command failed: \(e)"
        case .unknownNode(let n): return "unknown node \(n)"
        }
    }
}
