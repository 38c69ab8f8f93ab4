import ArgumentParser
import Foundation
import Simulation

@main
struct PosSim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "possim",
        abstract: "Seeded reconnect simulation of many store nodes and one hub on real SQLite files.",
        discussion: "Exits non-zero when the stores do not converge or an operation that succeeded is missing from the final state.")

    @Option(help: "Number of store nodes.") var nodes: Int = 20
    @Option(help: "Operations per node.") var opsPerNode: Int = 500
    @Option(help: "Share of time a node is partitioned from the hub (0-0.95).") var offlineFraction: Double = 0.3
    @Option(help: "Share of new partner codes drawn from a small shared pool (clashes).") var clashRate: Double = 0.1
    @Option(help: "Share of operations that are customer moves between sites.") var moveRate: Double = 0.02
    @Option(help: "Chance per operation that a node process dies (after a write or mid-sync).") var crashRate: Double = 0.01
    @Option(help: "Random seed: the same seed gives the same run and the same final state hash.") var seed: UInt64 = 1
    @Option(help: "A node syncs every this many operations while online.") var syncEvery: Int = 10
    @Option(help: "Stores per replication region; 0: one region, every store gets every record.") var regionSize: Int = 0
    @Flag(help: "Use real loopback HTTP (an in-process hub server) instead of in-process calls.") var http = false
    @Option(help: "Folder for the SQLite files (default: a temporary folder, removed afterwards).") var workDir: String?
    @Flag(help: "Keep the SQLite files.") var keep = false
    @Flag(help: "JSON output.") var json = false

    func validate() throws {
        guard nodes >= 1, opsPerNode >= 1, syncEvery >= 1 else { throw ValidationError("--nodes, --ops-per-node and --sync-every must be at least 1") }
        guard regionSize >= 0 else { throw ValidationError("--region-size must be 0 (one region) or more") }
        for (name, v) in [("offline-fraction", offlineFraction), ("clash-rate", clashRate), ("move-rate", moveRate), ("crash-rate", crashRate)] {
            guard (0...1).contains(v) else { throw ValidationError("--\(name) must be between 0 and 1") }
        }
    }

    func run() async throws {
        var o = SimulationOptions()
        o.nodes = nodes; o.opsPerNode = opsPerNode; o.offlineFraction = offlineFraction; o.clashRate = clashRate
        o.moveRate = moveRate; o.crashRate = crashRate; o.seed = seed; o.http = http; o.syncEvery = syncEvery
        o.regionSize = regionSize
        o.workDir = workDir; o.keep = keep || workDir != nil
        let tty = isatty(STDERR_FILENO) == 1
        let sim = try Simulation(options: o)
        let report = try await sim.run { step, total in
            guard tty, step % 5 == 0 || step == total else { return }
            FileHandle.standardError.write(Data("\rstep \(step)/\(total)  ".utf8))
        }
        if tty { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(report.table())
        }
        if !report.passed { throw ExitCode(1) }
    }
}
