import Foundation

/// What `possim` simulates.
public struct SimulationOptions: Sendable, Codable {
    enum CodingKeys: String, CodingKey {
        case nodes, opsPerNode = "ops_per_node", offlineFraction = "offline_fraction", clashRate = "clash_rate", moveRate = "move_rate", crashRate = "crash_rate", seed, http, syncEvery = "sync_every", clashPool = "clash_pool", regionSize = "region_size", workDir = "work_dir", keep
    }

    public var nodes: Int = 20
    public var opsPerNode: Int = 500
    /// Share of time a node is partitioned from the hub.
    public var offlineFraction: Double = 0.3
    /// Share of new partner codes drawn from a small shared pool, so they collide across stores.
    public var clashRate: Double = 0.1
    /// Share of operations that are customer moves between sites.
    public var moveRate: Double = 0.02
    /// Chance per operation that the node process dies (after a write, or in the middle of a sync).
    public var crashRate: Double = 0.01
    public var seed: UInt64 = 1
    /// Real loopback HTTP (an in-process hub server) instead of in-process calls.
    public var http: Bool = false
    /// A node syncs every this many of its operations while online.
    public var syncEvery: Int = 10
    /// Size of the shared code pool for clashes.
    public var clashPool: Int = 20
    /// Stores per replication region (0: the whole chain is one region, every store gets every
    /// record). With regions, node i is in region i / regionSize.
    public var regionSize: Int = 0
    /// Where the SQLite files go; a temporary folder when nil (removed unless `keep`).
    public var workDir: String?
    public var keep: Bool = false

    public init() {}
}

/// Counts and verdict of one run.
public struct SimulationReport: Sendable, Codable {
    enum CodingKeys: String, CodingKey {
        case options, operations, operationsByKind = "operations_by_kind", refusedLocally = "refused_locally", prefixRenames = "prefix_renames", movesCarriedOut = "moves_carried_out", movesRefused = "moves_refused", fieldOverwrites = "field_overwrites", crashes, syncRounds = "sync_rounds", failedSyncRounds = "failed_sync_rounds", duplicatesResent = "duplicates_resent", bytesSent = "bytes_sent", bytesSentUncompressed = "bytes_sent_uncompressed", bytesReceived = "bytes_received", bytesReceivedUncompressed = "bytes_received_uncompressed", seconds, converged, hubStateHash = "hub_state_hash", distinctNodeHashes = "distinct_node_hashes", nodesDiffering = "nodes_differing", regions, missing
    }

    public var options: SimulationOptions
    public var operations = 0
    public var operationsByKind: [String: Int] = [:]
    public var refusedLocally = 0
    public var prefixRenames = 0
    public var movesCarriedOut = 0
    /// Refused moves by failed precondition ("condition 3", ...).
    public var movesRefused: [String: Int] = [:]
    public var fieldOverwrites = 0
    public var crashes = 0
    public var syncRounds = 0
    public var failedSyncRounds = 0
    public var duplicatesResent = 0
    public var bytesSent = 0
    public var bytesSentUncompressed = 0
    public var bytesReceived = 0
    public var bytesReceivedUncompressed = 0
    public var seconds = 0.0
    public var converged = false
    public var hubStateHash = ""
    /// Distinct state hashes among the nodes (one per region when converged).
    public var distinctNodeHashes = 0
    /// Nodes whose state hash differs from their region's hash at the hub.
    public var nodesDiffering = 0
    /// Replication regions (1: every store gets every record).
    public var regions = 1
    /// Operations that returned success but cannot be found in the final state.
    public var missing: [String] = []

    public init(options: SimulationOptions) { self.options = options }

    public var passed: Bool { converged && missing.isEmpty }
}
