import ArgumentParser
import CLISupport
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import SyncModel
import SyncNode
import SyncStore

extension NodeStore {
    /// The hub client for this node's configuration.
    func hubClient() throws -> HubClient {
        try HubClient(config: config())
    }
}

struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync", abstract: "One sync round: push pending journal entries, pull new changes, apply, record the cursor.",
        discussion: "Exits 0 when the round completed, 3 when it completed but the hub refused entries (listed, and in 'posnode status'), 1 on any other failure.")

    @OptionGroup var store: StoreOptionGroup
    @Flag(help: "JSON output.") var json = false
    @Option(help: "Journal entries per pushed batch.") var batchEntries: Int = SyncRound.defaultPushBatchEntries
    @Option(help: ArgumentHelp("Push at most this many journal entries in this round (a slow link); the rest waits for the next.", valueName: "entries"))
    var maxEntries: Int?

    func validate() throws {
        if let m = maxEntries, m < 1 { throw ValidationError("--max-entries must be at least 1") }
    }

    /// The exit code of a round in which the hub refused entries (the round itself completed).
    static let refusedExitCode: Int32 = 3

    func run() async throws {
        let node = try store.open()
        let tty = isatty(STDERR_FILENO) == 1 && !json
        var round = SyncRound(store: node, transport: try node.hubClient(), pushBatchEntries: batchEntries) { p in
            guard tty else { return }
            let total = p.total.map { "/\($0)" } ?? ""
            FileHandle.standardError.write(Data("\r\(p.phase): \(p.done)\(total)   ".utf8))
        }
        round.maxPushEntries = maxEntries
        let s = try await round.run()
        if tty { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        defer { if !s.rejected.isEmpty { Self.exit(withError: ExitCode(Self.refusedExitCode)) } }
        if json { try printJSON(s); return }
        print("pushed \(s.pushedEntries) entries in \(s.pushedBatches) batches (\(s.bytesSent) bytes, \(s.bytesSentUncompressed) uncompressed): \(s.applied) applied, \(s.duplicates) duplicate, \(s.rejected.count) refused")
        if let restored = s.restored { print("restore: \(restored)") }
        if let hubRestored = s.hubRestored {
            print(hubRestored.hasPrefix("the operator asked") ? "re-baseline: \(hubRestored)" : "hub restored: \(hubRestored)")
        }
        for r in s.renames { print("renamed \(r.oldCode) -> \(r.newCode) (code existed in the system; store-prefix rule)") }
        for m in s.moves { print("moved \(m) (customer move carried out by the hub)") }
        for r in s.rejected { print("refused seq \(r.seq): \(r.reason ?? "")") }
        for r in s.warnings { print("warning seq \(r.seq): \(r.warning ?? "")") }
        if s.clockRestamped > 0 {
            print("warning: this node's clock leads the hub's beyond the bound; the hub applied \(s.clockRestamped) entries with its own time (set the till's clock right; see 'posnode status')")
        }
        print("pulled \(s.pulledChanges) changes\(s.bootstrapped ? " (bootstrapped from snapshot)" : ""), cursor \(s.cursor), \(s.pending) pending, \(String(format: "%.2f s (push %.2f s, pull %.2f s)", s.seconds, s.pushSeconds, s.pullSeconds))")
    }
}

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Serve the local API for the POS front end and sync with the hub in the background.")

    @OptionGroup var store: StoreOptionGroup
    @Option(help: "TCP port on 127.0.0.1; 0 picks a free one (printed as 'listening on 127.0.0.1:PORT').") var port: Int = 8081
    @Option(help: "Seconds between sync rounds.") var syncInterval: Double = 5
    @Option(help: "Longest wait between rounds while the hub is unreachable, seconds.") var maxBackoff: Double = 60
    @Flag(help: "Do not sync in the background (rounds only via POST /sync).") var noBackgroundSync = false
    @Option(help: "Log level.") var logLevel: Logger.Level = .warning
    @Option(name: .customLong("allow-origin"), help: ArgumentHelp(
        "An origin the POS web front end is served from, e.g. http://localhost:3000 (repeatable); requests from any other origin are refused.",
        valueName: "origin"))
    var allowOrigin: [String] = []

    func run() async throws {
        let node = try store.open()
        let apiToken = try NodeAPIToken.load(forStore: store.db)
        var logger = Logger(label: "posnode")
        logger.logLevel = logLevel
        var sync: SyncService?
        if let client = try? node.hubClient() {
            sync = SyncService(store: node, transport: client, interval: .milliseconds(Int(syncInterval * 1000)),
                               maxBackoff: .milliseconds(Int(maxBackoff * 1000)), logger: logger)
        }
        let router = NodeServer(store: node, sync: sync, access: NodeAPIAccess(token: apiToken, allowedOrigins: allowOrigin)).buildRouter()
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "posnode"),
            services: (noBackgroundSync ? [] : sync.map { [$0] } ?? []),
            onServerRunning: { channel in
                print("listening on 127.0.0.1:\(channel.localAddress?.port ?? 0)")
                fflush(nil)
            },
            logger: logger)
        try await app.runService()
    }
}
