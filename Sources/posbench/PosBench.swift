import ArgumentParser
import Foundation
import GRDB
import Simulation
import SyncHub
import SyncModel
import SyncNode
import SyncStore
import SyncWire

/// One row of the benchmark table.
struct BenchRow: Codable {
    enum CodingKeys: String, CodingKey {
        case row, workload, figure, unit, reference, referenceWorkload = "reference_workload", ratio, target, met, notes
    }

    var row: String
    var workload: String
    var figure: Double
    var unit: String
    var reference: Double?
    var referenceWorkload: String
    var ratio: Double?
    var target: String
    var met: Bool?
    var notes: String = ""
}

@main
struct PosBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "posbench",
        abstract: "Benchmarks of local writes, reconnect catch-up, wire size, memory and scale, each beside its reference measured in the same run.")

    @Option(help: "Partners written one durable transaction each (local write row).") var writes: Int = 5000
    @Option(help: "Offline changes pushed end-to-end (catch-up and wire rows).") var catchup: Int = 100_000
    @Option(help: "Catch-up runs, each with its reference; the row gives the medians.") var catchupRuns: Int = 3
    @Option(help: ArgumentHelp("A PostgreSQL database for administration (the rows catchup-pg and hubs-pg make their own databases beside it; password in PGPASSWORD). Scripts/bench.sh starts a server.",
                               valueName: "url")) var postgres: String?
    @Option(help: "Stores catching up at once in the hubs-pg row.") var pgStores: Int = 30
    @Option(help: "Offline changes of each store in the hubs-pg row.") var pgStoreChanges: Int = 1000
    @Option(help: "Backlog for the memory row.") var memoryChanges: Int = 1_000_000
    @Option(help: "Journal entries per pushed batch in the catch-up and memory rows (posnode sync --batch-entries).") var pushBatch: Int = SyncRound.defaultPushBatchEntries
    @Option(help: "Node counts for the scale row, comma separated.") var scaleNodes: String = "50,100,200"
    @Option(help: "Operations per node in the scale row.") var scaleOps: Int = 1000
    @Option(help: "Stores per replication region in the scale row (0: one region, every store gets every record).") var scaleRegionSize: Int = 25
    @Option(help: "Cells of the price table a new store receives (price row).") var priceCells: Int = 100_000
    @Option(help: "Changes at the larger hub of the access report row (the smaller holds a tenth).") var reportChanges: Int = 1_000_000
    @Option(help: "Customers the back-office transfer row sends.") var transferCustomers: Int = 100_000
    @Option(help: "Open documents the accounting row turns into provisional invoices (no request limit).") var accountingDocuments: Int = 10_000
    @Option(help: "Open documents of the accounting row under the ERP's rate of 20 requests a second.") var accountingPaced: Int = 1000
    @Option(help: "Stores of the hub whose console stores page the console row loads.") var consoleStores: Int = 1000
    @Option(help: "Rows to run: write,order,catchup,catchup-pg,hubs-pg (with --postgres),memory,scale,price,report,transfer,accounting,console,json,binding (and 'inprocess': catch-up without HTTP, for profiling; 'load': 50 stores at once, quiet and beside 600 idle connections).")
    var only: String = "write,order,catchup,catchup-pg,hubs-pg,memory,scale,price,report,transfer,accounting,console,json,binding"
    @Option(help: "Stores syncing at once in the load rows.") var loadStores: Int = 50
    @Option(help: "Rounds per load row (each store writes its changes, then all sync at once).") var loadRounds: Int = 4
    @Option(help: "Idle connections a client holds during the load rows' second half.") var loadIdle: Int = 600
    @Option(help: "Folder for stores (default: a temporary folder).") var workDir: String?
    @Flag(help: "JSON output.") var json = false

    func run() async throws {
        let dir = workDir ?? (FileManager.default.temporaryDirectory.path + "/posbench-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { if workDir == nil { try? FileManager.default.removeItem(atPath: dir) } }
        let rows = Set(only.split(separator: ",").map(String.init))
        let bin = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
        var table: [BenchRow] = []
        func log(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

        /// Runs row `name` if it was asked for. Before it, the previous rows' dirty pages are
        /// written out, so their writeback does not weigh on this row's figure (its reference
        /// runs after it); after it, its stores are removed unless the caller asked to keep them
        /// (`--work-dir`).
        func row(_ name: String, _ body: (String) async throws -> Void) async throws {
            guard rows.contains(name) else { return }
            Glibc.sync()
            defer { if workDir == nil { try? FileManager.default.removeItem(atPath: "\(dir)/\(name)") } }
            try await body("\(dir)/\(name)")
        }

        try await row("write") { rowDir in
            log("local write: \(writes) partners…")
            table.append(try Bench.localWrite(count: writes, dir: rowDir))
        }
        try await row("order") { rowDir in
            log("local write: \(writes) orders of 5 lines…")
            table.append(try await Bench.orderWrite(count: writes, dir: rowDir))
        }
        try await row("catchup") { rowDir in
            log("catch-up: \(catchup) changes over loopback HTTP…")
            table += try await Bench.catchUp(count: catchup, pushBatch: pushBatch, runs: catchupRuns, dir: rowDir, bin: bin, log: log)
        }
        if let postgres {
            try await row("catchup-pg") { rowDir in
                log("catch-up to a hub on PostgreSQL: \(catchup) changes…")
                table.append(try await PostgresBench.catchUp(count: catchup, pushBatch: pushBatch, server: postgres, dir: rowDir, bin: bin, log: log))
            }
            try await row("hubs-pg") { rowDir in
                log("hub processes on PostgreSQL: \(pgStores) stores × \(pgStoreChanges) changes through 1, 2, 3 processes…")
                table.append(try await PostgresBench.processes(stores: pgStores, changes: pgStoreChanges, counts: [1, 2, 3], server: postgres,
                                                               dir: rowDir, bin: bin, log: log))
            }
        }
        try await row("inprocess") { rowDir in
            log("catch-up in-process: \(catchup) changes…")
            table.append(try await Bench.catchUpInProcess(count: catchup, dir: rowDir, log: log))
        }
        try await row("memory") { rowDir in
            log("memory: \(memoryChanges) changes backlog…")
            table += try await Bench.memory(count: memoryChanges, pushBatch: pushBatch, dir: rowDir, bin: bin, log: log)
        }
        try await row("scale") { rowDir in
            let sizes = scaleNodes.split(separator: ",").compactMap { Int($0) }
            log("scale: possim \(sizes) nodes × \(scaleOps), region size \(scaleRegionSize)…")
            table.append(try await Bench.scale(nodes: sizes, ops: scaleOps, regionSize: scaleRegionSize, dir: rowDir, log: log))
        }
        try await row("price") { rowDir in
            log("price table: \(priceCells) cells to a new store…")
            table.append(try await Bench.priceTable(cells: priceCells, dir: rowDir, bin: bin, log: log))
        }
        try await row("report") { rowDir in
            log("access report: hubs of \(reportChanges / 10) and \(reportChanges) changes…")
            table.append(try await Bench.accessReport(small: reportChanges / 10, large: reportChanges, dir: rowDir, log: log))
        }
        try await row("transfer") { rowDir in
            log("back-office transfer: \(transferCustomers) customers…")
            table.append(try await Bench.transfer(count: transferCustomers, dir: rowDir, bin: bin, log: log))
        }
        try await row("accounting") { rowDir in
            log("accounting: \(accountingDocuments) open documents to the test ERP, then \(accountingPaced) under its rate limit…")
            table += try await AccountingBench.rows(count: accountingDocuments, paced: accountingPaced, dir: rowDir, log: log)
        }
        try await row("console") { rowDir in
            log("console: the stores page of \(consoleStores) stores…")
            table.append(try await ConsoleBench.row(stores: consoleStores, dir: rowDir, bin: bin, log: log))
        }
        try await row("load") { rowDir in
            log("load: \(loadStores) stores syncing at once, quiet and beside \(loadIdle) idle connections…")
            table += try await Load.run(stores: loadStores, sizes: [20, 300], rounds: loadRounds, idle: loadIdle, dir: rowDir, bin: bin, log: log)
        }
        try await row("json") { _ in
            log("journal JSON: 100000 images…")
            table.append(try Bench.journalJSON(count: 100_000))
        }
        try await row("binding") { rowDir in
            log("row binding: 100000 rows…")
            table.append(try Bench.rowBinding(count: 100_000, dir: rowDir))
        }

        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(table), as: UTF8.self))
        } else {
            print(Bench.render(table))
        }
    }
}
