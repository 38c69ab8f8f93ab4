import Crypto
import Foundation
import GRDB
import Synchronization
import SyncModel
import SyncReconcile
import SyncStore
import SyncWire

/// A node registered at the hub.
public struct HubNode: Sendable, Codable, Hashable {
    enum CodingKeys: String, CodingKey {
        case node, site, series, region, lastSeq = "last_seq", lastPushAt = "last_push_at", lastPullAt = "last_pull_at", revoked
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

    public var description: String {
        switch self {
        case .invalidConfiguration(let what): return what
        case .refused(let reason): return reason
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
    public let pool: DatabasePool
    public let prefixRule: PrefixRule
    /// Wall-clock milliseconds for the hub's clock (simulated in `possim`).
    public let clock: @Sendable () -> UInt64
    /// The record kinds the hub replicates (its nodes are opened with the same).
    public let kinds: RecordKinds

    /// Copies the log into the database off the pushes' path (nil: SQLite's own checkpoints).
    let checkpointer: BackgroundCheckpointer?

    /// When the last push (or move) ended (monotonic nanoseconds), for `FeedSweeper`'s idle test.
    let lastPushNanos = Atomic<UInt64>(0)

    /// Whether no push (or move) has ended for `seconds`.
    public func idle(for seconds: Double) -> Bool {
        Double(DispatchTime.now().uptimeNanoseconds &- lastPushNanos.load(ordering: .relaxed)) / 1e9 >= seconds
    }

    /// How far a pushed change's clock may lead the hub's wall clock (`HLC.defaultMaxLeadMillis`).
    public let maxClockLeadMillis: UInt64

    public init(path: String, options: StoreOptions = .hub, prefixRule: PrefixRule = .init(),
                maxClockLeadMillis: UInt64 = HLC.defaultMaxLeadMillis, kinds: RecordKinds = .standard,
                clock: @escaping @Sendable () -> UInt64 = { HLC.nowMillis }) throws {
        self.maxClockLeadMillis = maxClockLeadMillis
        self.kinds = kinds
        pool = try options.openPool(path: path)
        checkpointer = options.backgroundCheckpoint ? BackgroundCheckpointer(path: path, synchronous: options.synchronous) : nil
        try HubSchema.migrator(kinds: kinds).migrate(pool)
        self.prefixRule = prefixRule
        self.clock = clock
    }

    /// Waits until a background checkpoint asked for has run (tests; before a hub stops).
    public func waitForCheckpoints() { checkpointer?.drain() }

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

    // MARK: Nodes and tokens

    /// Registers a node and returns its new bearer token (only its hash is stored). All nodes
    /// of a site belong to the same `region` (see `HubNode.region`).
    public func addNode(node: String, site: String, series: String, region: String = "") throws -> String {
        do {
            try NodeIdentity.validate(node: node, site: site, series: series)
            try NodeIdentity.validate(region: region)
        } catch let e as FieldError { throw HubError.invalid(e) }
        let token = Self.newToken()
        try pool.write { db in
            if try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM hub_node WHERE node_id = ?)", arguments: [node]) == true {
                throw HubError.nodeExists(node)
            }
            if let other = try Self.region(db, site: site), other != region {
                throw HubError.siteInOtherRegion(site: site, region: other)
            }
            try db.execute(sql: "INSERT INTO hub_node (node_id, site, series, token_hash, created_at, region) VALUES (?, ?, ?, ?, ?, ?)",
                           arguments: [node, site, series, Self.hashToken(token), AuditRecord.now(), region])
        }
        return token
    }

    /// Revokes a node's token at once: the node can no longer push or pull until it gets a new
    /// one (`rotateToken`). Its data and journal position stay. Audited (kind `token`).
    public func revokeToken(node: String) throws {
        try pool.write { db in
            try Self.requireNode(db, node)
            try db.execute(sql: "UPDATE hub_node SET token_hash = ? WHERE node_id = ?",
                           arguments: [Self.revokedMark + node, node])
            try db.appendAudit(AuditRecord(node: node, kind: .token, entity: "node", key: node, reason: "token revoked"))
        }
    }

    /// Gives a node a new token and returns it; the old one stops working at once. Audited (kind `token`).
    public func rotateToken(node: String) throws -> String {
        let token = Self.newToken()
        try pool.write { db in
            try Self.requireNode(db, node)
            try db.execute(sql: "UPDATE hub_node SET token_hash = ? WHERE node_id = ?", arguments: [Self.hashToken(token), node])
            try db.appendAudit(AuditRecord(node: node, kind: .token, entity: "node", key: node, reason: "token replaced"))
        }
        return token
    }

    /// What a revoked node's token hash starts with: no SHA-256 hex digest does.
    static let revokedMark = "revoked:"

    static func requireNode(_ db: Database, _ node: String) throws {
        guard try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM hub_node WHERE node_id = ?)", arguments: [node]) == true else {
            throw HubError.unknownNode(node)
        }
    }

    static func newToken() -> String {
        var bytes = [UInt8](repeating: 0, count: 32)
        var rng = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255, using: &rng) }
        return "pos_" + bytes.hex
    }

    /// Writes one small row and rolls nothing back: whether the store can be written now (a
    /// read-only file or a full disk throws). `GET /health` calls it.
    public func probeWrite() throws {
        try pool.write { db in
            try db.execute(sql: "INSERT INTO hub_meta (key, value) VALUES ('health_probe', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                           arguments: [AuditRecord.now()])
        }
    }

    /// The audit line of a push whose clock led the hub's beyond the bound.
    static func clockReason(lead: UInt64, bound: UInt64, restamped: Int) -> String {
        "the node's clock led the hub's by \(lead / 1000) s (more than the \(bound / 1000) s allowed): "
            + "\(restamped) change\(restamped == 1 ? "" : "s") applied with the hub's time as their stamp"
    }

    static func hashToken(_ token: String) -> String {
        var h = SHA256()
        h.update(token)
        return h.finalize().hex
    }

    /// The node a bearer token belongs to, or nil.
    public func authenticate(token: String) throws -> HubNode? {
        let hash = Self.hashToken(token)
        return try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM hub_node WHERE token_hash = ?", arguments: [hash]).map(Self.node)
        }
    }

    static func node(_ r: Row) -> HubNode {
        HubNode(node: r["node_id"], site: r["site"], series: r["series"], region: r["region"], lastSeq: r["last_seq"],
                lastPushAt: r["last_push_at"], lastPullAt: r["last_pull_at"],
                revoked: (r["token_hash"] as String? ?? "").hasPrefix(revokedMark))
    }

    public func nodes() throws -> [HubNode] {
        try pool.read { try Row.fetchAll($0, sql: "SELECT * FROM hub_node ORDER BY node_id").map(Self.node) }
    }

    /// A registered node by id.
    public func node(_ id: String) throws -> HubNode {
        guard let n = try pool.read({ try Row.fetchOne($0, sql: "SELECT * FROM hub_node WHERE node_id = ?", arguments: [id]) }) else {
            throw HubError.unknownNode(id)
        }
        return Self.node(n)
    }

    /// The region of the nodes at `site`, nil when no node is registered there.
    static func region(_ db: Database, site: String) throws -> String? {
        try String.fetchOne(db.cachedStatement(sql: "SELECT region FROM hub_node WHERE site = ? LIMIT 1"), arguments: [site])
    }

    /// The region a record belongs to (its feed row's), nil when the hub has no such record.
    /// Within a push, a record an earlier change of the same push fed has a position whose
    /// feed row is added when the push ends: nil then. That change was the same node's and
    /// passed the same region check, so the region scope's verdicts do not change.
    static func region(_ db: Database, entity: Entity, key: String, kinds: RecordKinds) throws -> String? {
        try feedPosition(db, entity: entity, key: key, kinds: kinds).flatMap { try feedRegion(db, gseq: $0) }
    }

    /// The position of a record's current feed row: its row's `feed_gseq`, or its tombstone's
    /// when the row was removed (or is back and not fed yet); nil when the hub has never fed it.
    static func feedPosition(_ db: Database, entity: Entity, key: String, kinds: RecordKinds) throws -> Int64? {
        guard let table = kinds.table(entity) else { return nil }
        if let position = try table.feedPosition(db, key: key), let position { return position }
        return try tombstone(db, entity: entity, key: key)
    }

    static func tombstone(_ db: Database, entity: Entity, key: String) throws -> Int64? {
        try db.firstRowCached("SELECT gseq FROM hub_tombstone WHERE entity = ? AND key = ?",
                              [entity.rawValue.databaseValue, key.databaseValue]).flatMap { Int64.fromDatabaseValue($0[0]) }
    }

    /// The region of the feed row at `gseq` (nil: no such row). The only part of a feed row
    /// the hub reads while applying: whether a row is a node's echo is kept in the record's
    /// row (`ReplicatedTable.feedEchoColumn`).
    static func feedRegion(_ db: Database, gseq: Int64) throws -> String? {
        try db.firstRowCached("SELECT region FROM hub_feed WHERE gseq = ?", [gseq.databaseValue]).map { String.fromDatabaseValue($0[0]) ?? "" }
    }

    /// The first position not handed out yet (AUTOINCREMENT's counter follows the largest
    /// position written).
    static func nextFeedPosition(_ db: Database) throws -> Int64 {
        (try Int64.fetchOne(db.cachedStatement(sql: "SELECT seq FROM sqlite_sequence WHERE name = 'hub_feed'")) ?? 0) + 1
    }

    /// Keeps `sqlite_sequence` (AUTOINCREMENT's counter) at least at `sequence`, so no feed
    /// position is handed out twice.
    static func raiseFeedSequence(_ db: Database, to sequence: Int64) throws {
        try db.execute(sql: "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'hub_feed'", arguments: [sequence])
        if db.changesCount == 0, sequence > 0 {
            try db.execute(sql: "INSERT INTO sqlite_sequence (name, seq) VALUES ('hub_feed', ?)", arguments: [sequence])
        }
    }

    static func regionScope(_ region: String, kinds: RecordKinds) -> RegionScope {
        RegionScope(region: region, siteRegion: { try Self.region($0, site: $1) },
                    recordRegion: { try Self.region($0, entity: $1, key: $2, kinds: kinds) })
    }

    // MARK: Push

    /// A pushed batch decoded, and each change prepared (`Reconciler.prepare`, see
    /// `PreparedChange`) for `node`: the work that can run beside the writer (`poshub serve`
    /// runs it on its decoding threads). The entries are handed over to `push` as they are.
    public static func decodePush(_ bytes: [UInt8], limits: BatchLimits, node: String) throws -> (header: BatchHeader, entries: PushEntries) {
        let batch = try BatchCodec.decode(bytes, limits: limits)
        return (batch.header, PushEntries(changes: batch.changes, prepared: batch.changes.map { Reconciler.prepare($0, node: node, kinds: limits.kinds) }))
    }

    /// Applies a node's journal entries in one transaction, idempotently by (node, seq).
    /// Entries at or below the node's last applied sequence are duplicates (their first
    /// verdict is repeated); the first new entry must be exactly the next sequence.
    /// `prepared`: `Reconciler.prepare` of each change, worked out beforehand (see
    /// `PreparedChange`); without it each change is prepared as it is applied.
    public func push(node: HubNode, changes: [Change], prepared: [PreparedChange]? = nil, renamesApplied: Int64) throws -> PushReply {
        try push(node: node, entries: PushEntries(keeping: changes, prepared: prepared), renamesApplied: renamesApplied)
    }

    /// `push` of entries the caller hands over (`PushEntries`): each entry's fields and
    /// preparation are let go once it is applied, so a push shrinks as it is applied while the
    /// hub decodes the next one beside it. The entries are spent afterwards, applied or not.
    public func push(node: HubNode, entries: PushEntries, renamesApplied: Int64) throws -> PushReply {
        if let prepared = entries.prepared, prepared.count != entries.changes.count {
            throw HubError.invalid(FieldError(field: "prepared", reason: "\(prepared.count) prepared for \(entries.changes.count) entries; nothing applied"))
        }
        defer {
            checkpointer?.request()
            lastPushNanos.store(DispatchTime.now().uptimeNanoseconds, ordering: .relaxed)
        }
        return try pool.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM hub_node WHERE node_id = ?", arguments: [node.node]) else {
                throw HubError.unknownNode(node.node)
            }
            let current = Self.node(row)
            var lastSeq = current.lastSeq
            // Journal sequences start at 1; the bound keeps `seq + 1` from overflowing.
            if let bad = entries.changes.first(where: { $0.seq < 1 || $0.seq == Int64.max }) {
                throw HubError.invalid(FieldError(field: "seq", reason: "journal sequence \(bad.seq) from node \(node.node) is out of range; nothing applied"))
            }
            for i in entries.changes.indices.dropFirst() where entries.changes[i].seq != entries.changes[i - 1].seq + 1 {
                throw HubError.notContiguous(node: node.node, after: entries.changes[i - 1].seq, got: entries.changes[i].seq)
            }
            if let first = entries.changes.first, first.seq > lastSeq + 1 {
                throw HubError.sequenceGap(node: node.node, expected: lastSeq + 1, got: first.seq)
            }
            let aliases = try Row.fetchAll(db, sql: "SELECT old_code, new_code FROM hub_alias WHERE node = ? AND rename_id > ? ORDER BY rename_id",
                                           arguments: [node.node, renamesApplied])
            let hasRegions = try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS(SELECT 1 FROM hub_node WHERE region <> '')")) ?? false
            var context = ApplyContext(node: current.node, series: current.series, site: current.site, prefixRule: prefixRule,
                                       pendingRenames: aliases.map { ($0["old_code"], $0["new_code"]) },
                                       regions: hasRegions ? Self.regionScope(current.region, kinds: kinds) : nil, kinds: kinds)
            var results: [EntryResult] = []
            var hubHLC = try Self.hubHLC(db)
            var restamped = 0, largestLead: UInt64 = 0
            var feed = FeedEmitter(region: current.region, keepsRegions: hasRegions, kinds: kinds, expected: entries.changes.count)
            context.positions = FeedPositions(next: try Self.nextFeedPosition(db))
            context.movesRecorded = try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS(SELECT 1 FROM move_alias)")) ?? true
            for index in entries.changes.indices {
                let change = entries.changes[index]
                defer { entries.spend(index) }
                guard change.node == node.node else {
                    throw HubError.nodeMismatch(tokenNode: node.node, batchNode: change.node)
                }
                if change.seq <= lastSeq {
                    if let r = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM hub_outcome WHERE node = ? AND seq = ?"), arguments: [node.node, change.seq]) {
                        results.append(EntryResult(seq: change.seq, outcome: .duplicate, reason: r["reason"], oldCode: r["old_code"],
                                                   newCode: r["new_code"], renameID: r["rename_id"]))
                    } else {
                        results.append(EntryResult(seq: change.seq, outcome: .duplicate))
                    }
                    continue
                }
                // A stamp that leads the hub's clock by more than the bound would win every
                // concurrent edit by that lead and drag the hub's clock along: the change is
                // applied with the hub's own time instead (and the node is told).
                var stamped = change
                let now = clock()
                if HLC.isBeyondBound(change.hlc, nowMillis: now, maxLead: maxClockLeadMillis) {
                    stamped.hlc = HLC.tick(last: hubHLC, nowMillis: now)
                    restamped += 1
                    largestLead = max(largestLead, change.hlc.millis - now)
                }
                hubHLC = HLC.receive(last: hubHLC, remote: stamped.hlc, nowMillis: now, maxLead: maxClockLeadMillis)
                context.hubHLC = hubHLC
                let (result, touched) = try Reconciler.apply(db, change: stamped, prepared: entries.prepared?[index], context: &context)
                // Only verdicts other than a plain `applied` are stored: a duplicate without a
                // stored verdict was applied as it was.
                if result.outcome != .applied {
                    try db.cachedStatement(sql: """
                        INSERT INTO hub_outcome (node, seq, outcome, reason, old_code, new_code, rename_id) VALUES (?, ?, ?, ?, ?, ?, ?)
                        """).execute(arguments: [node.node, change.seq, result.outcome.rawValue, result.reason, result.oldCode, result.newCode, result.renameID])
                }
                // Feed entries carry the hub's clock: a node that pulls an image moves its clock past
                // every value in it, so its own later edits win.
                try feed.add(db, touched, hlc: hubHLC, node: node.node, seq: change.seq, positions: &context.positions!)
                results.append(result)
                lastSeq = change.seq
            }
            try feed.write(db)
            try db.execute(sql: "UPDATE hub_node SET last_seq = ?, last_push_at = ? WHERE node_id = ?",
                           arguments: [lastSeq, AuditRecord.now(), node.node])
            try Self.setHubHLC(db, hubHLC)
            if restamped > 0 {
                try db.appendAudit(AuditRecord(node: node.node, kind: .clock, entity: "node", key: node.node,
                                               reason: Self.clockReason(lead: largestLead, bound: maxClockLeadMillis, restamped: restamped)))
            }
            var reply = PushReply(node: node.node, results: results, nextExpected: lastSeq + 1, hubHLC: hubHLC.rawValue)
            reply.hubTimeMillis = clock()
            if restamped > 0 { (reply.clockRestamped, reply.clockLeadMillis) = (restamped, largestLead) }
            return reply
        }
    }

    /// The feed rows of one hub transaction, written when it ends. A record touched by several
    /// changes of a push is written once, at the place of its last change, and the rows go in
    /// with multi-row INSERTs: per-statement work is paid once per chunk instead of once per
    /// change. Each row becomes its record's feed position (`ReplicatedTable.feedColumn`, or
    /// `hub_tombstone` when the row is gone) as its change is added, with its echo
    /// (`ReplicatedTable.feedEchoColumn`), so a later change of the same push finds both in the
    /// row; the record's earlier feed row stays in the log, superseded, until `sweepFeed`
    /// removes it. A record keeps the region it has in the feed; a new one gets `region`, the
    /// region of the node whose change created it. A hub without regions (`keepsRegions`
    /// false: every record in '') skips looking the region up.
    struct FeedEmitter {
        struct Entry {
            var entity: Entity, key: String, hlc: HLC, node: String
            /// The node's journal sequence when the feed row is that node's echo (`echo_seq`, see `feed`).
            var echoSeq: Int64?
            /// The feed row's position, and the record's position before this push, for its
            /// region (a new row: its tombstone's, if any).
            var gseq: Int64, before: FeedPositions.Prior
        }
        let region: String
        let keepsRegions: Bool
        let kinds: RecordKinds
        private var entries: [Entry?] = []
        private var position: [TouchedRow: Int] = [:]
        /// The rows the change being added wrote with positions (storage reused, see `FeedPositions.endChange`).
        private var written: [(row: TouchedRow, written: FeedPositions.Written)] = []

        /// `expected`: about how many records the transaction feeds (a push: its entries), so
        /// the entries and their index are not regrown and rehashed as they fill.
        init(region: String, keepsRegions: Bool, kinds: RecordKinds, expected: Int = 0) {
            self.region = region
            self.keepsRegions = keepsRegions
            self.kinds = kinds
            entries.reserveCapacity(expected)
            position.reserveCapacity(expected)
        }

        /// Rows changed by one change of `node` (journal sequence `seq`, nil for the hub's own
        /// moves), stamped with the hub's clock `hlc`. Sorted, so the feed is deterministic.
        /// `positions`: the rows the change wrote with a position (`FeedPositions.endChange`)
        /// keep it; the others get the next ones, set in their rows now.
        ///
        /// A row is an echo of `node` (its pulls skip it, see `feed`) when every mention of it
        /// in the change is one (`TouchedRow.echo`: stored exactly as sent, or the node's edit
        /// taken as sent on a row that was the node's own image).
        mutating func add(_ db: Database, _ touched: [TouchedRow], hlc: HLC, node: String, seq: Int64? = nil,
                          positions: inout FeedPositions) throws {
            positions.endChange(into: &written)
            let written = self.written
            // Most changes touch one row, the one they wrote with a position.
            if touched.count == 1, let t = touched.first, written.count <= 1, written.first.map({ $0.row.entity == t.entity && $0.row.key == t.key }) ?? true {
                return try add(db, t, slot: written.first?.written, hlc: hlc, node: node, seq: seq, positions: &positions)
            }
            var touched = touched
            // A row written with a position is fed whatever the change reported: a position
            // without its feed row would hide the record from pulls.
            for w in written where !touched.contains(where: { $0.entity == w.row.entity && $0.key == w.row.key }) {
                touched.append(w.row)
            }
            // One entry per record: an echo only if every mention of it in this change is one.
            var echoes: [TouchedRow: Bool] = [:]
            for t in touched {
                let id = TouchedRow(t.entity, t.key)
                echoes[id] = (echoes[id] ?? true) && t.echo
            }
            for (id, echo) in echoes.sorted(by: { ($0.key.entity.rawValue, $0.key.key) < ($1.key.entity.rawValue, $1.key.key) }) {
                try add(db, TouchedRow(id.entity, id.key, echo: echo), slot: written.first { $0.row == id }?.written,
                        hlc: hlc, node: node, seq: seq, positions: &positions)
            }
        }

        /// One record of `add`; `slot`: the change wrote its row with that position.
        private mutating func add(_ db: Database, _ record: TouchedRow, slot: FeedPositions.Written?, hlc: HLC, node: String, seq: Int64?,
                                  positions: inout FeedPositions) throws {
            let id = TouchedRow(record.entity, record.key)
            // The record's entry from an earlier change of this push, if any; this one takes its place.
            let earlier = position.updateValue(entries.count, forKey: id)
            let echoSeq = record.echo ? seq : nil
            let table = kinds.table(record.entity)
            // The record's position before this push: from its earlier entry in this push,
            // else as read with the row the change wrote, else read now (before the row takes
            // its new one below).
            let before: FeedPositions.Prior
            if let earlier, let e = entries[earlier] {
                before = e.before
                entries[earlier] = nil
            } else if let slot {
                before = slot.prior
            } else {
                before = .position(try HubStore.feedPosition(db, entity: record.entity, key: record.key, kinds: kinds))
            }
            let gseq: Int64
            if let slot {
                gseq = slot.position
                // The change wrote the row as an echo and another mention of it says otherwise.
                if slot.echo != (echoSeq != nil), let table {
                    try table.setFeedEcho(db, key: record.key, echoNode: echoSeq == nil ? nil : node)
                }
            } else {
                gseq = positions.take()
                if try table?.setFeedPosition(db, key: record.key, gseq, echoNode: echoSeq == nil ? nil : node) != true {
                    // No row: the record was removed (or never stored); its tombstone holds the position.
                    try db.runCached("INSERT INTO hub_tombstone (entity, key, gseq) VALUES (?, ?, ?) ON CONFLICT (entity, key) DO UPDATE SET gseq = excluded.gseq",
                                     [record.entity.rawValue.databaseValue, record.key.databaseValue, gseq.databaseValue])
                }
            }
            entries.append(Entry(entity: record.entity, key: record.key, hlc: hlc, node: node, echoSeq: echoSeq, gseq: gseq, before: before))
        }

        /// Statements of 64, 32, ..., 1 rows (at most 448 parameters, under SQLite's oldest
        /// limit of 999): any count is a few of them.
        static let chunkSQL: [(rows: Int, sql: String)] = (0...6).reversed().map { shift in
            let rows = 1 << shift
            return (rows, "INSERT INTO hub_feed (gseq, hlc, node, entity, key, echo_seq, region) VALUES "
                + Array(repeating: "(?, ?, ?, ?, ?, ?, ?)", count: rows).joined(separator: ", "))
        }

        /// The record's region before this push (nil: none, a new record).
        func priorRegion(_ db: Database, _ e: Entry) throws -> String? {
            let gseq: Int64?
            switch e.before {
            case .newRow: gseq = try HubStore.tombstone(db, entity: e.entity, key: e.key)
            case .position(let p): gseq = p
            }
            return try gseq.flatMap { try HubStore.feedRegion(db, gseq: $0) }
        }

        /// Appends the rows to the feed (their records hold their positions already). A record
        /// keeps its region; a new one gets `region`.
        func write(_ db: Database) throws {
            let rows = entries.compactMap { $0 }
            var values: [DatabaseValue] = []
            var start = 0
            while start < rows.count {
                let (n, sql) = Self.chunkSQL.first { $0.rows <= rows.count - start }!
                values.removeAll(keepingCapacity: true)
                for e in rows[start..<(start + n)] {
                    // A kind every store receives is in every region.
                    let recordRegion = kinds.kind(e.entity)?.scope == .chain ? Database.everyGroup
                        : keepsRegions ? try priorRegion(db, e) ?? region : region
                    values += [e.gseq.databaseValue, Int64(bitPattern: e.hlc.rawValue).databaseValue, e.node.databaseValue,
                               e.entity.rawValue.databaseValue, e.key.databaseValue, e.echoSeq.databaseValue, recordRegion.databaseValue]
                }
                try db.runCached(sql, values)
                start += n
            }
        }
    }

    static func hubHLC(_ db: Database) throws -> HLC {
        HLC(rawValue: UInt64(try String.fetchOne(db, sql: "SELECT value FROM hub_meta WHERE key = 'hlc'") ?? "0") ?? 0)
    }

    static func setHubHLC(_ db: Database, _ hlc: HLC) throws {
        try db.execute(sql: "INSERT INTO hub_meta (key, value) VALUES ('hlc', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                       arguments: [String(hlc.rawValue)])
    }

    // MARK: Pull and snapshot

    /// Records changed after `cursor`, in the order of their latest change, each as its current
    /// row image (`insert`) or as a removal (`delete`); `seq` is the global sequence.
    /// All read in one transaction, so a page is a consistent view.
    ///
    /// `own` is the pulling node and the last journal sequence its store holds: rows that are
    /// exactly an image that node sent with a sequence up to there are left out (it has them):
    /// they do not count towards `limit`, and the cursor moves past them. Superseded rows (see
    /// "v5-hub-feed-log") are left out too, but count. Snapshots pass nil and get every row.
    ///
    /// `region` is the pulling node's region: only records of that region are read (nil: all).
    /// The cursor moves to the end of the feed once the last page is read, past rows of other
    /// regions, so a later pull does not scan them again.
    public func feed(after cursor: Int64, limit: Int, own: (node: String, through: Int64)? = nil,
                     region: String? = nil) throws -> (changes: [Change], nextCursor: Int64, more: Bool) {
        let limit = max(limit, 1)
        return try pool.read { db in
            var conditions = ["gseq > ?"], arguments: [DatabaseValue] = [cursor.databaseValue]
            switch region {
            case nil: break
            case ""?: conditions.append("region IN ('', '\(Database.everyGroup)')")
            case let region?:
                // `region <> ''` lets SQLite use the partial index hub_feed_region. Records of
                // kinds every store receives are in region '*'.
                conditions += ["region IN (?, '\(Database.everyGroup)')", "region <> ''"]
                arguments.append(region.databaseValue)
            }
            if let own {
                // The node's own images are skipped by SQLite: a store back from a long outage
                // does not page through everything it has just pushed.
                conditions.append("NOT (node = ? AND echo_seq IS NOT NULL AND echo_seq <= ?)")
                arguments += [own.node.databaseValue, own.through.databaseValue]
            }
            let rows = try db.rowsCached("SELECT gseq, hlc, node, entity, key FROM hub_feed WHERE \(conditions.joined(separator: " AND ")) ORDER BY gseq LIMIT ?",
                                         arguments + [(limit + 1).databaseValue])
            let more = rows.count > limit
            var changes: [Change] = []
            changes.reserveCapacity(min(rows.count, limit))
            for r in rows.prefix(limit) {
                guard let gseq = Int64.fromDatabaseValue(r[0]), let hlc = Int64.fromDatabaseValue(r[1]),
                      let node = String.fromDatabaseValue(r[2]), let key = String.fromDatabaseValue(r[4]),
                      let entity = String.fromDatabaseValue(r[3]).flatMap(kinds.entity(named:)),
                      let table = kinds.table(entity) else { continue }
                // A row that is not its record's position was superseded by a later change.
                let image: Fields?
                if let current = try table.fetchWithFeedPosition(db, key: key) {
                    guard current.position == gseq else { continue }
                    image = current.image
                } else {
                    guard try Self.tombstone(db, entity: entity, key: key) == gseq else { continue }
                    image = nil
                }
                changes.append(Change(seq: gseq, hlc: HLC(rawValue: UInt64(bitPattern: hlc)), node: node,
                                      entity: entity, key: key, op: image == nil ? .delete : .insert, fields: image ?? [:]))
            }
            let next: Int64 = more ? Int64.fromDatabaseValue(rows[limit - 1][0]) ?? cursor : max(cursor, try Int64.fetchOne(db, sql: "SELECT max(gseq) FROM hub_feed") ?? cursor)
            return (changes, next, more)
        }
    }

    // MARK: Feed sweep

    /// One step of `sweepFeed`: where it started, the log rows it read and removed, and
    /// whether it reached the end of the log (the next step starts again from its beginning).
    public struct SweepStep: Sendable, Equatable {
        public var startedAfter: Int64, scanned: Int, removed: Int, wrapped: Bool
    }

    /// Removes superseded rows (see "v5-hub-feed-log") among the next `maxRows` rows of the
    /// feed after the sweep's place (`hub_meta` 'feed_swept'), in one write transaction; the
    /// deletes go in log order, so they write few pages. Pulls skip superseded rows anyway:
    /// sweeping keeps the log near one row per record, so snapshots and late pulls read little
    /// more than the records. `FeedSweeper` runs it while no push comes.
    @discardableResult
    public func sweepFeed(maxRows: Int = 5000) throws -> SweepStep {
        let maxRows = max(maxRows, 1)
        let step = try pool.write { db in
            let from = Int64(try String.fetchOne(db, sql: "SELECT value FROM hub_meta WHERE key = 'feed_swept'") ?? "") ?? 0
            let rows = try db.rowsCached("SELECT gseq, entity, key FROM hub_feed WHERE gseq > ? ORDER BY gseq LIMIT ?",
                                         [from.databaseValue, maxRows.databaseValue])
            var removed = 0
            for r in rows {
                guard let gseq = Int64.fromDatabaseValue(r[0]) else { continue }
                let entity = String.fromDatabaseValue(r[1]).flatMap(kinds.entity(named:))
                let position = try entity.flatMap { try Self.feedPosition(db, entity: $0, key: String.fromDatabaseValue(r[2]) ?? "", kinds: kinds) }
                guard position != gseq else { continue }
                try db.runCached("DELETE FROM hub_feed WHERE gseq = ?", [gseq.databaseValue])
                removed += 1
            }
            let wrapped = rows.count < maxRows
            let place = wrapped ? 0 : (rows.last.flatMap { Int64.fromDatabaseValue($0[0]) } ?? 0)
            try db.execute(sql: "INSERT INTO hub_meta (key, value) VALUES ('feed_swept', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                           arguments: [String(place)])
            return SweepStep(startedAfter: from, scanned: rows.count, removed: removed, wrapped: wrapped)
        }
        checkpointer?.request()
        return step
    }

    /// Follows `sweepFeed` steps until they have read the whole log once: from its beginning
    /// to its end, wherever the sweep stood when the pass began.
    public struct SweepPass: Sendable {
        private var sawBeginning = false
        public init() {}

        /// Takes in the next step; true when the pass is complete.
        public mutating func complete(after step: SweepStep) -> Bool {
            sawBeginning = sawBeginning || step.startedAfter == 0
            if step.wrapped && sawBeginning { return true }
            if step.wrapped { sawBeginning = true }
            return false
        }
    }

    /// Sweeps the whole log once, from wherever the sweep stands; returns the rows removed.
    @discardableResult
    public func sweepFeedPass(step: Int = 5000) throws -> Int {
        var removed = 0, pass = SweepPass()
        while true {
            let s = try sweepFeed(maxRows: step)
            removed += s.removed
            if pass.complete(after: s) { return removed }
        }
    }

    /// The feed's last position (0 when it is empty).
    public func feedEnd() throws -> Int64 {
        try pool.read { try Int64.fetchOne($0, sql: "SELECT max(gseq) FROM hub_feed") ?? 0 }
    }

    /// Records a pull, to the minute: a store polling every few seconds does not make the hub
    /// write (and fsync) on every poll.
    public func markPulled(node: String) throws {
        let now = AuditRecord.now()
        let minute = String(now.prefix(16))  // 2026-11-25T08:32
        try pool.write { db in
            try db.execute(sql: "UPDATE hub_node SET last_pull_at = ? WHERE node_id = ? AND (last_pull_at IS NULL OR substr(last_pull_at, 1, 16) < ?)",
                           arguments: [now, node, minute])
        }
    }

    // MARK: Queries

    public func partnerExists(code: String) throws -> Bool {
        try pool.read { try ReplicatedTable.partner.exists($0, key: PartnerCode.normalized(code)) }
    }

    /// Whether `code` is taken and which partner already has the Polish VAT ID `vatID`: the
    /// store's question before it registers a partner online.
    public func partnerCheck(code: String, vatID: String?, country: String?) throws -> PartnerCheck {
        let code = PartnerCode.normalized(code)
        return try pool.read { db in
            PartnerCheck(code: code, codeTaken: try ReplicatedTable.partner.exists(db, key: code),
                         vatIDUsedBy: try db.partnerWithSameNIP(vatID: vatID, country: country, excluding: code))
        }
    }

    /// The digest of every replicated record, or of one region's records: what the state hash
    /// of a store node of that region must equal once it has synced.
    public func stateHash(region: String? = nil) throws -> String {
        guard let region else { return try pool.read { try $0.stateHash(kinds: kinds) } }
        return try pool.read { try Self.stateHashes($0, regions: [region], kinds: kinds)[region]! }
    }

    /// The state hash of every region that has nodes or records, in one pass over the
    /// replicated tables.
    public func regionStateHashes() throws -> [String: String] {
        try pool.read { db in
            try Self.stateHashes(db, regions: Set(String.fetchAll(db, sql: "SELECT region FROM hub_node UNION SELECT DISTINCT region FROM hub_feed"))
                .subtracting([Database.everyGroup]), kinds: kinds)
        }
    }

    static func stateHashes(_ db: Database, regions: Set<String>, kinds: RecordKinds) throws -> [String: String] {
        try db.stateHashes(groups: regions, kinds: kinds) { table in
            "(SELECT f.region FROM hub_feed f WHERE f.gseq = \(table.name).\(ReplicatedTable.feedColumn))"
        }
    }

    public func audit(kind: AuditKind? = nil, limit: Int = 1000) throws -> [AuditRecord] {
        try pool.read { try $0.auditRecords(kind: kind, limit: limit) }
    }

    /// The latest `limit` audit records a node of `region` may read, newest last: those of
    /// records in its region (the record's feed row says), and of records the hub no longer
    /// has or never fed when the node that caused the entry is in the region. Records of other
    /// regions carry other regions' customers' old and new values.
    public func audit(kind: AuditKind? = nil, limit: Int = 1000, region: String) throws -> [AuditRecord] {
        try pool.read { db in
            var nodeRegion: [String: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT node_id, region FROM hub_node") { nodeRegion[row[0]] = row[1] }
            // One region for the whole chain: every record is in it.
            if nodeRegion.values.allSatisfy({ $0 == region }) { return try db.auditRecords(kind: kind, limit: limit) }
            var kept: [AuditRecord] = []
            var before = Int64.max
            // Newest first, a page at a time, until `limit` are kept or the audit ends.
            while kept.count < limit {
                let page = try db.auditPage(kind: kind, before: before, limit: 500)
                guard let last = page.last else { break }
                before = last.id ?? 0
                for record in page {
                    let recordRegion = try kinds.entity(named: record.entity).flatMap { try Self.region(db, entity: $0, key: record.key, kinds: kinds) }
                    let owner = recordRegion ?? nodeRegion[record.node]
                    if owner == region || owner == Database.everyGroup { kept.append(record) }
                    if kept.count == limit { break }
                }
            }
            return kept.reversed()
        }
    }

    /// Carries out a customer move through the hub's API (same rules as a pushed move).
    public func move(_ request: MoveRequest) throws {
        defer { lastPushNanos.store(DispatchTime.now().uptimeNanoseconds, ordering: .relaxed) }
        try pool.write { db in
            var hlc = try Self.hubHLC(db)
            hlc = HLC.tick(last: hlc, nowMillis: clock())
            let touched = try CustomerMove.execute(db, request, stamp: MergeStamp(hlc: hlc, node: "hub"),
                                                   siteRegion: { try Self.region(db, site: $0) })
            var feed = FeedEmitter(region: try Self.region(db, site: request.site) ?? "", keepsRegions: true, kinds: kinds)
            var positions = FeedPositions(next: try Self.nextFeedPosition(db))
            try feed.add(db, Array(touched), hlc: hlc, node: "hub", positions: &positions)
            try feed.write(db)
            try Self.setHubHLC(db, hlc)
        }
    }

    /// Recomputes balances on the hub.
    public func recalculateBalances() throws -> [CustomerBalance] {
        try pool.write { try Balances.recalculate($0) }
    }
}
