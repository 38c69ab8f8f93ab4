import Foundation
import GRDB
import GRDBSQLite
import SyncModel

/// A node's configuration, stored in its database.
public struct NodeConfig: Sendable, Codable, Hashable {
    public var nodeID: String
    public var site: String
    public var series: String
    public var hubURL: String?
    public var token: String?
    /// PEM file of the certificate authorities an `https://` hub's certificate must chain to;
    /// nil: the system's trust store.
    public var hubCAFile: String?
    public var center: CenterParameters
    public var cursor: Int64
    public var renamesApplied: Int64
    public var bootstrapped: Bool
    public var lastSyncAt: String?
    public var lastSyncError: String?
    /// The last hybrid-logical-clock value this node issued or saw (raw bits).
    public var lastHLC: Int64 = 0
    /// Whether a plain `http://` hub on another machine was allowed (`--insecure-plaintext`):
    /// the node's token and customer data then cross the network readable.
    public var insecurePlaintext = false
}

/// A store node's local SQLite store: replicated tables plus the change journal.
///
/// Every write changes its table and appends its journal entry in the same transaction.
public final class NodeStore: Sendable {
    public let pool: DatabasePool
    public let path: String
    /// Wall-clock milliseconds for the hybrid logical clock and document dates; the simulator
    /// passes a simulated clock so a seeded run is reproducible.
    public let clock: @Sendable () -> UInt64
    /// The record kinds the store replicates (the hub it syncs with has the same).
    public let kinds: RecordKinds
    /// The catalog rows sales price from, kept between sales (see `PriceLineCache`).
    let priceLines = PriceLineCache()

    private init(pool: DatabasePool, path: String, kinds: RecordKinds, clock: @escaping @Sendable () -> UInt64) {
        self.pool = pool
        self.path = path
        self.kinds = kinds
        self.clock = clock
    }

    static func migrator(kinds: RecordKinds) -> DatabaseMigrator {
        var m = DatabaseMigrator()
        Schema.registerShared(&m)
        Schema.registerNode(&m)
        Schema.registerSharedUpgrades(&m)
        Schema.registerInvoicing(&m)
        Schema.registerDeclaredTables(&m, kinds: kinds)
        return m
    }

    /// Creates and initializes a node store. Fails if `path` already holds an initialized store.
    public static func create(path: String, node: String, site: String, series: String, hubURL: String? = nil,
                              token: String? = nil, hubCAFile: String? = nil, center: CenterParameters = .init(),
                              options: StoreOptions = .default, kinds: RecordKinds = .standard,
                              clock: @escaping @Sendable () -> UInt64 = { HLC.nowMillis }) throws -> NodeStore {
        do {
            try NodeIdentity.validate(node: node, site: site, series: series)
            try center.validate()
        } catch let e as FieldError { throw StoreError.invalid(e) }
        let pool = try options.openPool(path: path)
        try migrator(kinds: kinds).migrate(pool)
        try pool.write { db in
            if let existing = try String.fetchOne(db, sql: "SELECT node_id FROM node_config") {
                throw StoreError.alreadyInitialized(path: path, node: existing)
            }
            try db.execute(sql: """
                INSERT INTO node_config (id, node_id, site, series, hub_url, token, lowest_price_business, lowest_price_consumer, default_country,
                                         hub_ca_file)
                VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [node, site, series, hubURL, token, center.lowestPriceForNewBusiness, center.lowestPriceForNewConsumer,
                                 center.defaultCountry, hubCAFile])
            // Parameters other than the defaults go to the hub like any change.
            if center != CenterParameters() {
                try NodeTransaction(db: db, kinds: kinds, clock: clock).write(.nodeParameters, op: .insert, fields: center.fields(node: node))
            }
        }
        return NodeStore(pool: pool, path: path, kinds: kinds, clock: clock)
    }

    /// Opens an initialized node store.
    public static func open(path: String, options: StoreOptions = .default, kinds: RecordKinds = .standard,
                            clock: @escaping @Sendable () -> UInt64 = { HLC.nowMillis }) throws -> NodeStore {
        guard FileManager.default.fileExists(atPath: path) else { throw StoreError.notInitialized(path: path) }
        let pool = try options.openPool(path: path)
        try migrator(kinds: kinds).migrate(pool)
        let store = NodeStore(pool: pool, path: path, kinds: kinds, clock: clock)
        guard try pool.read({ try Bool.fetchOne($0, sql: "SELECT EXISTS(SELECT 1 FROM node_config)") }) == true else {
            throw StoreError.notInitialized(path: path)
        }
        return store
    }

    public func config() throws -> NodeConfig {
        try pool.read { try Self.config($0) }
    }

    static func config(_ db: Database) throws -> NodeConfig {
        // Read on every local write: positional columns, no row object.
        guard let r = try db.firstRowCached("""
            SELECT node_id, site, series, hub_url, token, lowest_price_business, lowest_price_consumer,
                   cursor, renames_applied, bootstrapped, last_sync_at, last_sync_error, last_hlc, default_country, hub_ca_file, insecure_plaintext
            FROM node_config WHERE id = 1
            """) else {
            throw StoreError.notInitialized(path: db.description)
        }
        func text(_ i: Int) -> String? { String.fromDatabaseValue(r[i]) }
        func int(_ i: Int) -> Int64 { Int64.fromDatabaseValue(r[i]) ?? 0 }
        return NodeConfig(
            nodeID: text(0) ?? "", site: text(1) ?? "", series: text(2) ?? "", hubURL: text(3), token: text(4), hubCAFile: text(14),
            center: CenterParameters(lowestPriceForNewBusiness: int(5) != 0, lowestPriceForNewConsumer: int(6) != 0, defaultCountry: text(13)),
            cursor: int(7), renamesApplied: int(8), bootstrapped: int(9) != 0,
            lastSyncAt: text(10), lastSyncError: text(11), lastHLC: int(12), insecurePlaintext: int(15) != 0)
    }

    /// Sets hub address, token and CA file (`posnode init` or later reconfiguration).
    public func setHub(url: String?, token: String?, caFile: String?, insecurePlaintext: Bool? = nil) throws {
        try pool.write { db in
            try db.execute(sql: "UPDATE node_config SET hub_url = ?, token = ?, hub_ca_file = ?, insecure_plaintext = COALESCE(?, insecure_plaintext) WHERE id = 1",
                           arguments: [url, token, caFile, insecurePlaintext])
        }
    }

    /// Changes the center parameters (operator only): each changed value is recorded in the
    /// node's audit log (kind `config`) and journaled to the hub (the node's `node_parameters`
    /// row) in the same transaction. Returns the new parameters.
    @discardableResult
    public func setCenter(_ change: (inout CenterParameters) -> Void) throws -> CenterParameters {
        try transaction { tx in
            let db = tx.db
            let cfg = try Self.config(db)
            var center = cfg.center
            change(&center)
            do { try center.validate() } catch let e as FieldError { throw StoreError.invalid(e) }
            let changes: [(String, String?, String?)] = [
                ("lowest_price_business", String(cfg.center.lowestPriceForNewBusiness), String(center.lowestPriceForNewBusiness)),
                ("lowest_price_consumer", String(cfg.center.lowestPriceForNewConsumer), String(center.lowestPriceForNewConsumer)),
                ("default_country", cfg.center.defaultCountry, center.defaultCountry),
            ]
            for (field, old, new) in changes where old != new {
                try db.appendAudit(AuditRecord(node: cfg.nodeID, kind: .config, entity: "node", key: cfg.nodeID, field: field,
                                               oldValue: old ?? "none", newValue: new ?? "none", reason: "center parameter changed by the operator"))
            }
            let row = center.fields(node: cfg.nodeID)
            if let stored = try ReplicatedTable.of(.nodeParameters)!.fetch(db, key: cfg.nodeID) {
                let changed = row.filter { column, value in column != "node" && (stored[column] ?? .null) != value }
                if !changed.isEmpty { try tx.write(.nodeParameters, op: .update, key: cfg.nodeID, fields: changed) }
            } else if center != cfg.center {
                try tx.write(.nodeParameters, op: .insert, fields: row)
            }
            try db.execute(sql: """
                UPDATE node_config SET lowest_price_business = ?, lowest_price_consumer = ?, default_country = ? WHERE id = 1
                """, arguments: [center.lowestPriceForNewBusiness, center.lowestPriceForNewConsumer, center.defaultCountry])
            return center
        }
    }

    public func stateHash() throws -> String { try pool.read { try $0.stateHash(kinds: kinds) } }
}

// MARK: - Journal

/// A journal entry as stored, its fields as the text the journal keeps
/// (`Fields.canonicalJSON`), read in place (see `NodeStore.forEachPendingJournal`).
public struct StoredJournalEntry {
    public var seq: Int64
    public var hlc: HLC
    public var node: String
    public var entity: Entity
    public var key: String
    public var op: ChangeOp
    public var fieldsJSON: UnsafeBufferPointer<UInt8>
}

/// Journal entry with its acknowledgement state, as `posnode journal` shows it.
public struct JournalEntry: Sendable, Codable, Hashable {
    public var change: Change
    public var acked: Bool
    public var outcome: String?
    public var reason: String?
}

extension Database {
    /// Appends a journal entry for a local change: next gapless sequence, next HLC tick.
    /// Must run inside the write transaction that made the change.
    func appendJournal(entity: Entity, key: String, op: ChangeOp, fields: Fields, config cfg: NodeConfig, now: UInt64) throws -> Change {
        let (seq, hlc) = try appendJournal(entity: entity, key: key, op: op, fieldsJSON: fields.canonicalJSON(), config: cfg, now: now)
        return Change(seq: seq, hlc: hlc, node: cfg.nodeID, entity: entity, key: key, op: op, fields: fields)
    }

    /// `appendJournal` of fields already encoded (`Fields.canonicalJSON`, `FlatJSON.encode(row:of:)`).
    @discardableResult
    func appendJournal(entity: Entity, key: String, op: ChangeOp, fieldsJSON: String, config cfg: NodeConfig, now: UInt64) throws -> (seq: Int64, hlc: HLC) {
        // The clock's last value is the newer of the last journal entry's and the last one seen from
        // the hub (node_config), so a local write touches no configuration page.
        let last = try firstRowCached("SELECT seq, hlc FROM journal ORDER BY seq DESC LIMIT 1")
        let seq: Int64 = (last.flatMap { Int64.fromDatabaseValue($0[0]) } ?? 0) + 1
        let lastJournalHLC = last.flatMap { Int64.fromDatabaseValue($0[1]) } ?? 0
        let lastHLC = max(HLC(rawValue: UInt64(bitPattern: cfg.lastHLC)), HLC(rawValue: UInt64(bitPattern: lastJournalHLC)))
        let hlc = HLC.tick(last: lastHLC, nowMillis: now)
        try runCached("INSERT INTO journal (seq, hlc, node, entity, key, op, fields) VALUES (?, ?, ?, ?, ?, ?, ?)",
                      [seq.databaseValue, Int64(bitPattern: hlc.rawValue).databaseValue, cfg.nodeID.databaseValue, entity.rawValue.databaseValue,
                       key.databaseValue, op.rawValue.databaseValue, fieldsJSON.databaseValue])
        return (seq, hlc)
    }

    /// The last journal sequence this store holds (0 for none).
    func journalHead() throws -> Int64 {
        try Int64.fetchOne(self, sql: "SELECT COALESCE(MAX(seq), 0) FROM journal") ?? 0
    }

    /// Moves the local clock past a timestamp seen from the hub, unless it leads this node's
    /// wall clock beyond the bound (`HLC.defaultMaxLeadMillis`): a hub whose clock was dragged
    /// into the future must not drag every store along.
    func observeHLC(_ remote: HLC, nowMillis: UInt64) throws {
        guard !HLC.isBeyondBound(remote, nowMillis: nowMillis) else { return }
        let last = HLC(rawValue: UInt64(bitPattern: try Int64.fetchOne(cachedStatement(sql: "SELECT last_hlc FROM node_config WHERE id = 1")) ?? 0))
        if remote > last {
            try cachedStatement(sql: "UPDATE node_config SET last_hlc = ? WHERE id = 1").execute(arguments: [Int64(bitPattern: remote.rawValue)])
        }
    }

    /// Where the unacknowledged entries start (they follow it in sequence order).
    static let ackedThrough = "(SELECT acked_through FROM node_config WHERE id = 1)"

    /// Entries the hub has not acknowledged: those after `acked_through`. Sequences are
    /// gapless and a reply acknowledges every entry up to its last (`applyPushReply`), so no
    /// entry after it is acknowledged and the count is a subtraction: counting them read every
    /// pending row, 10 ms before a 100,000-entry backlog's first push.
    func pendingCount() throws -> Int {
        try Int.fetchOne(self, sql: "SELECT max(0, COALESCE(MAX(seq), 0) - \(Database.ackedThrough)) FROM journal") ?? 0
    }

    /// The journal columns in the order `journalEntry` reads them by position. An entry up to
    /// `acked_through` is acknowledged, and `applied` unless its row says otherwise: a push
    /// reply acknowledges its range by moving `acked_through` alone, and writes a row only for
    /// a verdict that is not `applied` (renamed, duplicate, rejected).
    static let journalColumns = """
        seq, hlc, node, entity, key, op, fields, acked OR seq <= \(ackedThrough),
        coalesce(outcome, CASE WHEN seq <= \(ackedThrough) THEN 'applied' END), reason
        """

    /// The entries `sql` (a SELECT of `journalColumns`) reads, bound and read directly
    /// (`FastStatement`): a push reads 5,000 at a time.
    func journalEntries(_ sql: String, _ arguments: [DatabaseValue] = [], kinds: RecordKinds) throws -> [JournalEntry] {
        try rowsCached(sql, arguments).map { r in
            func text(_ i: Int) -> String { String.fromDatabaseValue(r[i]) ?? "" }
            let change = Change(
                seq: Int64.fromDatabaseValue(r[0]) ?? 0, hlc: HLC(rawValue: UInt64(bitPattern: Int64.fromDatabaseValue(r[1]) ?? 0)),
                node: text(2), entity: kinds.entity(named: text(3)) ?? .partner, key: text(4),
                op: ChangeOp(rawValue: text(5)) ?? .update, fields: try Fields.fromJSON(text(6)))
            return JournalEntry(change: change, acked: Bool.fromDatabaseValue(r[7]) ?? false,
                                outcome: String.fromDatabaseValue(r[8]), reason: String.fromDatabaseValue(r[9]))
        }
    }
}

extension NodeStore {
    /// Journal entries not yet acknowledged by the hub, oldest first.
    public func pendingJournal(after seq: Int64 = 0, limit: Int = 1000) throws -> [JournalEntry] {
        try pool.read { db in
            try db.journalEntries("SELECT \(Database.journalColumns) FROM journal WHERE seq > MAX(?, \(Database.ackedThrough)) AND acked = 0 ORDER BY seq LIMIT ?",
                                  [seq.databaseValue, limit.databaseValue], kinds: kinds)
        }
    }

    /// Journal entries not yet acknowledged by the hub, oldest first, handed to `body` as
    /// stored (their fields as text, not decoded) until it returns false: a push encodes them
    /// straight from the text. The entry is valid only until `body` returns.
    public func forEachPendingJournal(after seq: Int64, limit: Int, _ body: (StoredJournalEntry) throws -> Bool) throws {
        try pool.read { db in
            let statement = try db.cachedStatement(sql: """
                SELECT seq, hlc, node, entity, key, op, fields FROM journal
                WHERE seq > MAX(?, \(Database.ackedThrough)) AND acked = 0 ORDER BY seq LIMIT ?
                """)
            try FastStatement.forEachRow(statement, [seq.databaseValue, limit.databaseValue]) { s in
                func text(_ i: Int32) -> String { String(decoding: FastStatement.textBytes(s, i), as: UTF8.self) }
                // Unknown entity or op words read as in `journalEntries`.
                return try body(StoredJournalEntry(
                    seq: sqlite3_column_int64(s, 0), hlc: HLC(rawValue: UInt64(bitPattern: sqlite3_column_int64(s, 1))), node: text(2),
                    entity: kinds.entity(named: text(3)) ?? .partner, key: text(4), op: ChangeOp(rawValue: text(5)) ?? .update,
                    fieldsJSON: FastStatement.textBytes(s, 6)))
            }
        }
    }

    /// How many journal entries the hub has not acknowledged yet.
    public func pendingCount() throws -> Int {
        try pool.read { try $0.pendingCount() }
    }

    /// All journal entries (acknowledged or not) of one record.
    public func journal(entity: Entity, key: String) throws -> [JournalEntry] {
        try pool.read { db in
            try db.journalEntries("SELECT \(Database.journalColumns) FROM journal WHERE entity = ? AND key = ? ORDER BY seq",
                                  [entity.rawValue.databaseValue, key.databaseValue], kinds: kinds)
        }
    }
}

/// What `posnode status` shows.
public struct NodeStatus: Sendable, Codable {
    enum CodingKeys: String, CodingKey {
        case node, site, series, hub, center, pending, acknowledged, refused, warnings, lastSeq = "last_seq", cursor, partners, addresses
        case documents, lastSyncAt = "last_sync_at", lastSyncError = "last_sync_error", renames, problems, stateHash = "state_hash"
        case clockOffsetMillis = "clock_offset_ms"
    }

    public var node: String
    public var site: String
    public var series: String
    public var hub: String?
    /// The center parameters: lowest-price defaults and the default country.
    public var center: CenterParameters
    public var pending: Int
    public var acknowledged: Int
    /// Entries the hub refused (nothing of them was applied; see `problems`).
    public var refused: Int
    /// Entries the hub stored with a warning (a duplicate Polish VAT ID registered offline).
    public var warnings: Int
    public var lastSeq: Int64
    public var cursor: Int64
    public var partners: Int
    public var addresses: Int
    public var documents: Int
    public var lastSyncAt: String?
    public var lastSyncError: String?
    public var renames: [AuditRecord]
    /// The latest refusals, warnings and moves the hub reported (audit kinds `rejected`,
    /// `duplicate-vat`, `move`, `move-refused`), newest last.
    public var problems: [AuditRecord]
    public var stateHash: String
    /// This node's wall clock minus the hub's at the last push (nil: not measured yet).
    public var clockOffsetMillis: Int64?
}

extension NodeStore {
    /// The last journal sequence this store holds (0 for none).
    public func journalHead() throws -> Int64 {
        try pool.read { try $0.journalHead() }
    }

    public func status() throws -> NodeStatus {
        try pool.read { db in
            let cfg = try NodeStore.config(db)
            let counts = try db.replicatedCounts(kinds: kinds)
            return NodeStatus(
                node: cfg.nodeID, site: cfg.site, series: cfg.series, hub: cfg.hubURL, center: cfg.center,
                pending: try db.pendingCount(),
                acknowledged: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM journal WHERE acked = 1 OR seq <= \(Database.ackedThrough)") ?? 0,
                refused: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM journal WHERE outcome = 'rejected'") ?? 0,
                warnings: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM audit WHERE kind = 'duplicate-vat'") ?? 0,
                lastSeq: try db.journalHead(),
                cursor: cfg.cursor, partners: counts["partner"] ?? 0, addresses: counts["address"] ?? 0,
                documents: counts["document"] ?? 0, lastSyncAt: cfg.lastSyncAt, lastSyncError: cfg.lastSyncError,
                renames: try db.auditRecords(kind: .rename, limit: 20),
                problems: try db.latestAudit(kinds: [.rejected, .duplicateVat, .move, .moveRefused, .clock], limit: 20),
                stateHash: try db.stateHash(kinds: kinds),
                clockOffsetMillis: try Int64.fetchOne(db, sql: "SELECT clock_offset_ms FROM node_config WHERE id = 1"))
        }
    }
}

extension NodeStore {
    /// Audit records of this node, oldest first; `kind` filters (rename, overwrite, move, rejected).
    public func audit(kind: AuditKind? = nil, limit: Int = 1000) throws -> [AuditRecord] {
        try pool.read { try $0.auditRecords(kind: kind, limit: limit) }
    }
}
