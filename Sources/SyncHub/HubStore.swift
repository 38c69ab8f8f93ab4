import Foundation
import GRDB
import Synchronization
import SyncModel
import SyncReconcile
import SyncStore

/// A node registered at the hub.
public struct HubNode: Sendable, Codable, Hashable {
    enum CodingKeys: String, CodingKey {
        case node, site, series, region, lastSeq = "last_seq", lastPushAt = "last_push_at", lastPullAt = "last_pull_at", revoked, center
    }

    public var node: String
    public var site: String
    public var series: String
    /// Replication region: the node receives the records created in its region only
    /// (empty for every node: the whole chain is one region and every store gets everything).
    public var region: String
    public var lastSeq: Int64
    /// When the node last pushed, and last pulled (to the minute), ISO 8601 UTC.
    public var lastPushAt: String?
    public var lastPullAt: String?
    /// The node's token was revoked (`poshub node revoke`): it cannot push or pull.
    public var revoked: Bool = false
    /// The node's center parameters as it journaled them (`node list` only; nil elsewhere).
    public var center: CenterParameters?
}

/// Hub-side failures, phrased for the operator of the node that caused them.
public enum HubError: Error, Sendable, CustomStringConvertible {
    case unknownToken
    case nodeMismatch(tokenNode: String, batchNode: String)
    case sequenceGap(node: String, expected: Int64, got: Int64)
    case notContiguous(node: String, after: Int64, got: Int64)
    case nodeExists(String)
    case unknownNode(String)
    case siteInOtherRegion(site: String, region: String)
    case invalid(FieldError)
    /// A start-up setting that cannot be used (a TLS file, say).
    case invalidConfiguration(String)
    /// A record the hub writes itself refused by its kind's rules; nothing was changed.
    case refused(String)
    /// The hub's store cannot be reached now (its PostgreSQL server down, a lock held past
    /// its timeout); nothing was changed, the request may be sent again.
    case storeUnavailable(String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let what): return what
        case .refused(let reason): return reason
        case .storeUnavailable(let why): return "the hub's store is not available now (\(why)); nothing applied, send again later"
        case .unknownToken: return "unknown or revoked token"
        case .nodeMismatch(let t, let b): return "token belongs to node \(t) but the batch is from node \(b)"
        case .sequenceGap(let node, let expected, let got):
            return "batch from node \(node) starts at sequence \(got) but the hub expects \(expected); nothing applied"
        case .notContiguous(let node, let after, let got):
            return "batch from node \(node) skips from sequence \(after) to \(got); nothing applied"
        case .nodeExists(let n): return "node \(n) is already registered"
        case .unknownNode(let n): return "node \(n) is not registered at this hub"
        case .siteInOtherRegion(let site, let region):
            return "region: site \(site) already has nodes in region '\(region)'; all nodes of a site replicate the same region"
        case .invalid(let e): return e.description
        }
    }
}

/// A push's decoded entries and their preparations (`Reconciler.prepare`), handed over to
/// `HubStore.push(node:entries:renamesApplied:)`, which lets go of each entry's fields and
/// preparation once the entry is applied: a push being applied shrinks while the hub decodes
/// the node's next one beside it (two decoded pushes of 7,500 entries are most of the hub's
/// memory in a catch-up). A class, so the arrays have this one owner and change in place; one
/// task uses it at a time (decoded, then applied).
public final class PushEntries: @unchecked Sendable {
    public private(set) var changes: [Change]
    public private(set) var prepared: [PreparedChange]?

    /// Entries whose arrays the caller still holds are kept as they are (letting go of one
    /// would copy the whole array first).
    private let kept: Bool

    /// Entries handed over: the caller keeps no other reference to the arrays.
    public init(changes: [Change], prepared: [PreparedChange]?) {
        self.changes = changes
        self.prepared = prepared
        kept = false
    }

    init(keeping changes: [Change], prepared: [PreparedChange]?) {
        self.changes = changes
        self.prepared = prepared
        kept = true
    }

    /// Lets go of entry `index`'s fields and preparation (its sequence, key and node stay).
    func spend(_ index: Int) {
        guard !kept else { return }
        changes[index].fields = [:]
        prepared?[index] = .nothing
    }
}

/// The hub's canonical store: replicated tables, per-node sequence state, the global feed.
public final class HubStore: Sendable {
    public let pool: HubDatabase
    public let prefixRule: PrefixRule
    /// Wall-clock milliseconds for the hub's clock (simulated in `possim`).
    public let clock: @Sendable () -> UInt64
    /// The record kinds the hub replicates (its nodes are opened with the same).
    public let kinds: RecordKinds

    /// Copies the log into the database off the pushes' path (nil: SQLite's own checkpoints).
    let checkpointer: BackgroundCheckpointer?

    /// When the last push, move, central write or feed read ended (monotonic nanoseconds),
    /// for `FeedSweeper`'s idle test.
    let lastActivityNanos = Atomic<UInt64>(0)

    /// Whether no push, move, central write or feed read has ended for `seconds`: sweeping
    /// the feed is housekeeping and keeps out of the way of stores that sync. A new store's
    /// first sync of a 100,000-cell price table shared the hub's two cores with a sweep pass
    /// of the whole log before feed reads counted (0.78–0.92 s).
    public func idle(for seconds: Double) -> Bool {
        Double(DispatchTime.now().uptimeNanoseconds &- lastActivityNanos.load(ordering: .relaxed)) / 1e9 >= seconds
    }

    func noteSyncActivity() {
        lastActivityNanos.store(DispatchTime.now().uptimeNanoseconds, ordering: .relaxed)
    }

    /// How far a pushed change's clock may lead the hub's wall clock (`HLC.defaultMaxLeadMillis`).
    public let maxClockLeadMillis: UInt64

    /// Opens (and migrates) the hub's store: `path` is a SQLite file or a PostgreSQL URL
    /// (`HubLocation`; the password in `password`, else `PGPASSWORD`). `create`: a PostgreSQL
    /// database without a hub's store gets one (a SQLite file is made when missing).
    /// Everything that can fail happens before the object exists: a throwing initializer that
    /// fails after `lastActivityNanos` (an `Atomic`, not copyable) is initialized crashes
    /// Swift 6.3's optimizer in release builds.
    public convenience init(path: String, options: StoreOptions = .hub, prefixRule: PrefixRule = .init(),
                            maxClockLeadMillis: UInt64 = HLC.defaultMaxLeadMillis, kinds: RecordKinds = .standard,
                            password: String? = nil, create: Bool = true,
                            clock: @escaping @Sendable () -> UInt64 = { HLC.nowMillis }) throws {
        let database: HubDatabase
        var checkpointer: BackgroundCheckpointer?
        switch try HubLocation.parse(path) {
        case .sqlite(let path):
            let pool = try options.openPool(path: path)
            try HubSchema.migrator(kinds: kinds).migrate(pool)
            database = HubDatabase(sqlite: pool)
            Self.finishPendingCompaction(database)
            checkpointer = options.backgroundCheckpoint ? BackgroundCheckpointer(path: path, synchronous: options.synchronous) : nil
        case .postgres(let location):
            database = try .postgres(location, password: password ?? ProcessInfo.processInfo.environment["PGPASSWORD"], options: options,
                                     migrator: HubSchema.migrator(kinds: kinds), create: create) { db in _ = try HubStore.recordEpoch(db) }
        }
        self.init(pool: database, checkpointer: checkpointer, prefixRule: prefixRule, maxClockLeadMillis: maxClockLeadMillis, kinds: kinds, clock: clock)
    }

    private init(pool: HubDatabase, checkpointer: BackgroundCheckpointer?, prefixRule: PrefixRule, maxClockLeadMillis: UInt64,
                 kinds: RecordKinds, clock: @escaping @Sendable () -> UInt64) {
        self.pool = pool
        self.checkpointer = checkpointer
        self.prefixRule = prefixRule
        self.maxClockLeadMillis = maxClockLeadMillis
        self.kinds = kinds
        self.clock = clock
    }

    /// Waits until a background checkpoint asked for has run (tests; before a hub stops).
    package func waitForCheckpoints() { checkpointer?.drain() }

    /// Closes the store at shutdown: waits for the background checkpoint, copies the whole
    /// write-ahead log into the database and empties it (the next start finds nothing to
    /// recover), and closes every connection. Nothing may use the store afterwards.
    public func close() throws {
        checkpointer?.close()
        try pool.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
        try pool.close()
    }

    /// Why the last background checkpoint failed, if it did.
    public var checkpointFailure: String? { checkpointer?.lastError }
}
