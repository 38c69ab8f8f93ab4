import CSQLiteTuning
import Foundation
import GRDB
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// The hub's store in a PostgreSQL database (docs/design.md, "The hub's store: one seam for
/// SQLite and PostgreSQL").
///
/// PostgreSQL holds the hub's tables, the same tables and columns as a SQLite hub (each with a
/// `_v` column: the version of the write that last set the row), and the versions' log. Each
/// hub process works on a replica of them in a SQLite file of its own, so the hub's rules
/// (the reconciler, the feed, cases, master data, the connector, the console) are the same
/// code on both stores; what is engine-specific is here, in one place:
///
/// - *Write*: a write transaction of the hub begins a PostgreSQL transaction, takes the
///   hub's write lock (`pg_advisory_xact_lock`, held to its commit), brings the replica up to
///   the database's last version, runs, and then writes the rows it changed, which temporary
///   triggers on the replica's writing connection noted (`pgmirror_changed`), as one new
///   version, in bulk (one `INSERT … SELECT FROM unnest(…) ON CONFLICT` per table), and commits. Writes
///   from every process are serialized on the lock, as a SQLite hub's are on its one writer,
///   so versions (and the feed positions inside them) commit in order.
/// - *Read*: a read asks for the database's last version first (one round trip) and copies
///   what other processes wrote since into the replica (the log names the tables; the rows
///   come by `_v`) in one repeatable-read snapshot, so a reader never sees part of a write.
/// - A replica that does not continue the database's history (the database was restored to
///   an earlier point, the replica is new) is emptied and copied whole.
final class PostgresMirror: @unchecked Sendable {
    let location: PostgresLocation
    private let password: String?
    private let logger: Logger
    /// Tables the replica holds, as its schema has them.
    private(set) var tables: [MirroredTable] = []
    private var byName: [String: MirroredTable] = [:]
    /// The connection the replica's write transactions use: only under GRDB's one writer.
    private var writerConnection: PostgresConnection?
    /// The connection reads ask the last version on.
    private let probeConnection = Mutex<PostgresConnection?>(nil)
    /// The version the replica holds (after its last committed write or copy) and its token.
    private let known = Mutex<Version>(Version(number: -1, token: ""))
    /// `sqlite_sequence` as last sent.
    private var sentSequences: [String: Int64] = [:]
    /// A write that copied the database whole into a replica that had held an earlier history
    /// records a new epoch (`HubStore.recordEpoch`): the database was restored under it.
    var onRestoreDetected: ((Database) throws -> Void)?

    /// The hub's write lock and the migrations' lock (`pg_advisory_*lock` keys).
    static let writeLockKey: Int64 = 0x706f_7368_7562_0001
    static let migrationLockKey: Int64 = 0x706f_7368_7562_0002
    /// How long a write waits for the write lock, and how long a transaction may sit idle
    /// (a stalled process) before PostgreSQL ends it and frees what it holds.
    static let lockTimeout = "60s", idleInTransactionTimeout = "120s"

    struct Version: Equatable, Sendable {
        var number: Int64
        var token: String
    }

    /// The logger of queries (postgres-nio's, at its own levels).
    static let queryLogger = Logger(label: "poshub.postgres")

    init(location: PostgresLocation, password: String?, logger: Logger = PostgresMirror.queryLogger) {
        self.location = location
        self.password = password
        self.logger = logger
    }

    // MARK: Opening

    /// Opens the hub's store in `location`: makes the replica at `replicaPath` from the
    /// database (migrating the database first when it is new or older than `migrator`), under
    /// the migrations' lock, so two processes starting together migrate once.
    /// `create`: a database without a hub's store gets one; otherwise that is an error.
    static func open(location: PostgresLocation, password: String?, replicaPath: String, openReplica: (String) throws -> DatabasePool,
                     migrator: DatabaseMigrator, create: Bool) throws -> (PostgresMirror, DatabasePool) {
        let mirror = PostgresMirror(location: location, password: password)
        let conn: PostgresConnection
        do { conn = try mirror.connect() } catch HubError.storeUnavailable(let why) { throw HubError.invalidConfiguration(why) }
        defer { _ = try? conn.close().wait() }
        // A process waits for another's migration however long it takes (no lock timeout
        // here); the lock is held only while the database is migrated.
        try conn.run("SET lock_timeout = 0")
        try conn.run("SELECT pg_advisory_lock($1)", [.int(migrationLockKey)])
        var locked = true
        func unlock() {
            if locked { _ = try? conn.run("SELECT pg_advisory_unlock($1)", [.int(migrationLockKey)]) }
            locked = false
        }
        defer { unlock() }
        let applied = try Self.appliedMigrations(conn)
        if applied.isEmpty && !create {
            throw HubError.invalidConfiguration("hub store \(location) does not exist; run 'poshub init --db \(location)' first")
        }
        let known = migrator.migrations
        if let unknown = applied.first(where: { !known.contains($0) }) {
            throw HubError.invalidConfiguration("hub store \(location) was migrated by a newer poshub (migration \(unknown)); use that version")
        }
        let pool = try openReplica(replicaPath)
        if applied.isEmpty {
            try migrator.migrate(pool)
            try mirror.readSchema(pool)
            try mirror.createTables(conn, dropping: false)
            try mirror.installCapture(pool)
            try mirror.upload(pool)
        } else {
            // The replica at the database's migration, its rows, then what this version adds.
            let last = known.last(where: { applied.contains($0) })!
            try migrator.migrate(pool, upTo: last)
            try mirror.readSchema(pool)
            try mirror.installCapture(pool)
            if applied.count == known.count { unlock() }
            try mirror.copy(pool)
            if applied.count < known.count {
                try migrator.migrate(pool)
                try mirror.readSchema(pool)
                try conn.run("BEGIN")
                try mirror.createTables(conn, dropping: true)
                try conn.run("COMMIT")
                try mirror.installCapture(pool)
                try mirror.upload(pool)
            }
        }
        return (mirror, pool)
    }

    private static func appliedMigrations(_ conn: PostgresConnection) throws -> [String] {
        for statement in [
            "CREATE TABLE IF NOT EXISTS pgmirror_head (id integer PRIMARY KEY CHECK (id = 1), version bigint NOT NULL, token text NOT NULL)",
            "INSERT INTO pgmirror_head (id, version, token) VALUES (1, 0, '') ON CONFLICT (id) DO NOTHING",
            "CREATE TABLE IF NOT EXISTS pgmirror_log (version bigint PRIMARY KEY, token text NOT NULL, tables text NOT NULL, at timestamptz NOT NULL DEFAULT now())",
            "CREATE TABLE IF NOT EXISTS pgmirror_deleted (version bigint NOT NULL, tbl text NOT NULL, pk text NOT NULL)",
            "CREATE INDEX IF NOT EXISTS pgmirror_deleted_version ON pgmirror_deleted (version)",
            "CREATE TABLE IF NOT EXISTS pgmirror_sequence (name text PRIMARY KEY, seq bigint NOT NULL)",
        ] { try conn.run(statement) }
        let exists = try conn.run("SELECT to_regclass('grdb_migrations') IS NOT NULL").first.map { try $0.decode(Bool.self) } ?? false
        guard exists else { return [] }
        return try conn.run("SELECT identifier FROM grdb_migrations").map { try $0.decode(String.self) }
    }

    /// The replica's tables and their columns and keys (all but SQLite's own and the mirror's).
    private func readSchema(_ pool: DatabasePool) throws {
        tables = try pool.read { db in
            let names = try String.fetchAll(db, sql: """
                SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'pgmirror_%' ORDER BY name
                """)
            return try names.map { name in
                let info = try Row.fetchAll(db, sql: "SELECT name, type, pk FROM pragma_table_info(?) ORDER BY cid", arguments: [name])
                let columns = info.map { MirroredTable.Column(name: $0["name"], type: .init(declared: $0["type"])) }
                let keys = info.filter { ($0["pk"] as Int) > 0 }.sorted { ($0["pk"] as Int) < ($1["pk"] as Int) }.map { $0["name"] as String }
                guard !keys.isEmpty else {
                    throw HubError.invalidConfiguration("table \(name) has no primary key: a PostgreSQL hub store cannot hold it")
                }
                let withoutRowid = try Bool.fetchOne(db, sql: "SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = ?", arguments: [name]) ?? false
                return MirroredTable(name: name, columns: columns, keys: keys, hasRowid: !withoutRowid)
            }
        }
        byName = Dictionary(uniqueKeysWithValues: tables.map { ($0.name, $0) })
    }

    /// Creates the database's tables for the replica's (`dropping`: those there are first).
    private func createTables(_ conn: PostgresConnection, dropping: Bool) throws {
        for table in tables {
            if dropping { try conn.run("DROP TABLE IF EXISTS \(quoted(table.name))") }
            try conn.run(table.createSQL)
            try conn.run("CREATE INDEX IF NOT EXISTS \(quoted(table.name + "__v")) ON \(quoted(table.name)) (_v)")
        }
    }

    /// The replica's writing connection notes every row a write changes (temporary triggers:
    /// nothing of them is in the file).
    private func installCapture(_ pool: DatabasePool) throws {
        try pool.writeWithoutTransaction { db in
            // A row is noted by its rowid when written (by its key in a table without rowid), by
            // its key when deleted or when an update changes its key; a plain append, no
            // constraint (an outer statement's conflict handling would apply to it), the same
            // row noted again as often as it is written.
            try db.execute(sql: "CREATE TEMP TABLE IF NOT EXISTS pgmirror_changed (tbl TEXT NOT NULL, rid INTEGER, pk TEXT)")
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS pgmirror_replica (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL, token TEXT NOT NULL)")
            try db.execute(sql: "INSERT OR IGNORE INTO pgmirror_replica (id, version, token) VALUES (1, 0, '')")
            for table in tables {
                let name = table.name
                let new = "json_array(" + table.keys.map { "NEW.\(quoted($0))" }.joined(separator: ", ") + ")"
                let old = "json_array(" + table.keys.map { "OLD.\(quoted($0))" }.joined(separator: ", ") + ")"
                let written = table.hasRowid ? "INSERT INTO pgmirror_changed (tbl, rid) VALUES ('\(name)', NEW.rowid);"
                    : "INSERT INTO pgmirror_changed (tbl, pk) VALUES ('\(name)', \(new));"
                let gone = "INSERT INTO pgmirror_changed (tbl, pk) VALUES ('\(name)', \(old));"
                let keyChanged = table.keys.map { "OLD.\(quoted($0)) IS NOT NEW.\(quoted($0))" }.joined(separator: " OR ")
                var statements: [String] = []
                for suffix in ["i", "u", "k", "d"] { statements.append("DROP TRIGGER IF EXISTS temp.\(quoted("pgmirror_\(name)_\(suffix)"))") }
                statements += [
                    "CREATE TEMP TRIGGER \(quoted("pgmirror_\(name)_i")) AFTER INSERT ON main.\(quoted(name)) BEGIN \(written) END",
                    "CREATE TEMP TRIGGER \(quoted("pgmirror_\(name)_u")) AFTER UPDATE ON main.\(quoted(name)) BEGIN \(written) END",
                    "CREATE TEMP TRIGGER \(quoted("pgmirror_\(name)_k")) AFTER UPDATE ON main.\(quoted(name)) WHEN \(keyChanged) BEGIN \(gone) END",
                    "CREATE TEMP TRIGGER \(quoted("pgmirror_\(name)_d")) AFTER DELETE ON main.\(quoted(name)) BEGIN \(gone) END",
                ]
                for sql in statements { try db.execute(sql: sql) }
            }
        }
    }

    /// Writes every row of the replica to the database as one new version that names all
    /// tables (a new store, a migration): other processes copy the database whole.
    private func upload(_ pool: DatabasePool) throws {
        try write(pool, everything: true) { _ in }
    }

    /// Copies the database into a new replica (a write that changes nothing).
    private func copy(_ pool: DatabasePool) throws {
        try write(pool) { _ in }
    }

    // MARK: Connections

    func connect() throws -> PostgresConnection {
        let configuration = PostgresConnection.Configuration(host: location.host, port: location.port, username: location.user,
                                                             password: password, database: location.database, tls: .disable)
        let conn: PostgresConnection
        do {
            conn = try PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration,
                                                  id: Int.random(in: 1...Int.max), logger: logger).wait()
        } catch {
            throw HubError.storeUnavailable("hub store \(location): cannot connect: \(Self.describe(error))")
        }
        for setting in ["lock_timeout = '\(Self.lockTimeout)'", "idle_in_transaction_session_timeout = '\(Self.idleInTransactionTimeout)'",
                        "application_name = 'poshub'"] {
            try conn.run("SET \(setting)")
        }
        return conn
    }

    /// The writing connection, opened again when the last one broke.
    private func writer() throws -> PostgresConnection {
        if let conn = writerConnection, !conn.isClosed { return conn }
        let conn = try connect()
        writerConnection = conn
        return conn
    }

    deinit { close() }

    func close() {
        if let conn = writerConnection { _ = try? conn.close().wait() }
        writerConnection = nil
        probeConnection.withLock { conn in
            if let c = conn { _ = try? c.close().wait() }
            conn = nil
        }
    }

    /// A PostgreSQL error as one line: the server's message (PSQLError's description hides it).
    static func describe(_ error: any Error) -> String {
        if let e = error as? PSQLError {
            if let message = e.serverInfo?[.message] {
                return message + (e.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? "")
            }
            return "\(e.code)" + (e.underlying.map { ": \($0)" } ?? "")
        }
        return String(describing: error)
    }

    // MARK: Transactions

    /// One write of the hub on the replica `pool` (`transaction`), and the version it left
    /// the replica at recorded once the replica has committed it.
    func write<T>(_ pool: DatabasePool, everything: Bool = false, erasing: Bool = false, _ body: (Database) throws -> T) throws -> T {
        let (result, version) = try pool.write { db in try transaction(db, everything: everything, erasing: erasing, body) }
        known.withLock { $0 = version }
        return result
    }

    /// Runs `body` as one write of the hub: under the write lock, on the replica brought up to
    /// the database's last version; the rows it changed become the next version, committed
    /// with it. Returns `body`'s result and the version the replica then holds.
    private func transaction<T>(_ db: Database, everything: Bool, erasing: Bool, _ body: (Database) throws -> T) throws -> (T, Version) {
        let conn = try writer()
        var open = false
        do {
            try conn.run("BEGIN")
            open = true
            try conn.run("SELECT pg_advisory_xact_lock($1)", [.int(Self.writeLockKey)])
            // A write of every row (a new store, a migration) is of the replica as it is.
            var current = Version(number: 0, token: "")
            if !everything {
                let restored: Bool
                (current, restored) = try catchUp(db, conn, from: continuing(db, conn))
                if restored { try onRestoreDetected?(db) }
            }
            let result = try body(db)
            let version = try flush(db, conn, everything: everything, erasing: erasing) ?? current
            try conn.run("COMMIT")
            open = false
            return (result, version)
        } catch {
            if open { abandon(conn) }
            throw Self.storeError(error, location)
        }
    }

    /// Rolls back a transaction that failed; a connection that cannot is closed.
    private func abandon(_ conn: PostgresConnection) {
        do { try conn.run("ROLLBACK") } catch {
            _ = try? conn.close().wait()
            writerConnection = nil
        }
    }

    /// Errors from PostgreSQL as the hub's; the hub's own pass through.
    static func storeError(_ error: any Error, _ location: PostgresLocation) -> any Error {
        guard error is PSQLError else { return error }
        return HubError.storeUnavailable("hub store \(location): \(describe(error))")
    }

    /// Brings the replica up to the database before a read: nothing when it holds the last
    /// version; otherwise the new versions in one snapshot (a replica that does not continue
    /// the database's history is copied whole by a write, which records the restore).
    func refresh(_ pool: DatabasePool) throws {
        let head = try probe()
        if known.withLock({ $0 }) == head { return }
        let outcome: Version? = try pool.write { db in
            let conn = try self.writer()
            do {
                try conn.run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                defer { _ = try? conn.run("COMMIT") }
                guard let local = try self.continuing(db, conn) else { return nil }
                return try self.catchUp(db, conn, from: local).0
            } catch {
                self.abandon(conn)
                throw Self.storeError(error, self.location)
            }
        }
        if let outcome {
            known.withLock { $0 = outcome }
        } else {
            try write(pool) { _ in }
        }
    }

    /// The database's last version.
    private func probe() throws -> Version {
        try probeConnection.withLock { conn in
            do {
                if conn == nil || conn!.isClosed { conn = try connect() }
                let row = try conn!.run("SELECT version, token FROM pgmirror_head WHERE id = 1").first
                let (number, token) = try row!.decode((Int64, String).self)
                return Version(number: number, token: token)
            } catch {
                if let c = conn { _ = try? c.close().wait() }
                conn = nil
                throw Self.storeError(error, location)
            }
        }
    }

    /// The replica's version when it continues the database's history (its version is in the
    /// log with its token); nil when it must be copied whole.
    private func continuing(_ db: Database, _ conn: PostgresConnection) throws -> Version? {
        let row = try Row.fetchOne(db, sql: "SELECT version, token FROM pgmirror_replica WHERE id = 1")
        let local = Version(number: row?["version"] ?? 0, token: row?["token"] ?? "")
        guard local.number > 0 else { return nil }
        let logged = try conn.run("SELECT token FROM pgmirror_log WHERE version = $1", [.int(local.number)]).first.map { try $0.decode(String.self) }
        guard logged == local.token else { return nil }
        // A version that names every table (a new store, a migration) is copied whole.
        let whole = try conn.run("SELECT 1 FROM pgmirror_log WHERE version > $1 AND tables = '*' LIMIT 1", [.int(local.number)]).first != nil
        return whole ? nil : local
    }

    /// Copies into the replica what the database has beyond `local`, the replica's version
    /// (`continuing`; nil: all of it). Returns the version copied and whether the replica had
    /// held a history the database does not have (a restore).
    private func catchUp(_ db: Database, _ conn: PostgresConnection, from local: Version?) throws -> (Version, Bool) {
        let head = try conn.run("SELECT version, token FROM pgmirror_head WHERE id = 1").first!.decode((Int64, String).self)
        let target = Version(number: head.0, token: head.1)
        if let local, local == target { return (target, false) }
        let held = try Int64.fetchOne(db, sql: "SELECT version FROM pgmirror_replica WHERE id = 1") ?? 0
        _ = posnode_sqlite_enable_triggers(db.sqliteConnection, 0)
        defer { _ = posnode_sqlite_enable_triggers(db.sqliteConnection, 1) }
        if let local {
            // Rows deleted since, then the rows of the tables written since.
            for row in try conn.run("SELECT tbl, pk FROM pgmirror_deleted WHERE version > $1 ORDER BY version", [.int(local.number)]) {
                let (tbl, pk) = try row.decode((String, String).self)
                guard let table = byName[tbl] else { continue }
                try db.execute(sql: table.deleteSQL, arguments: StatementArguments(try table.key(pk)))
            }
            // Tables an erasure deleted from (`table!`) are copied whole: their deleted keys are not kept.
            var names = Set<String>(), whole = Set<String>()
            for row in try conn.run("SELECT tables FROM pgmirror_log WHERE version > $1", [.int(local.number)]) {
                for name in try row.decode(String.self).split(separator: ",") {
                    if name.hasSuffix("!") { whole.insert(String(name.dropLast())) } else { names.insert(String(name)) }
                }
            }
            for table in tables where whole.contains(table.name) {
                try db.execute(sql: "DELETE FROM \(quoted(table.name))")
                try download(db, conn, table, after: nil)
            }
            for table in tables where names.contains(table.name) && !whole.contains(table.name) {
                try download(db, conn, table, after: local.number)
            }
        } else {
            for table in tables { try db.execute(sql: "DELETE FROM \(quoted(table.name))") }
            try db.execute(sql: "DELETE FROM sqlite_sequence")
            for table in tables { try download(db, conn, table, after: nil) }
        }
        for row in try conn.run("SELECT name, seq FROM pgmirror_sequence") {
            let (name, seq) = try row.decode((String, Int64).self)
            try db.execute(sql: "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", arguments: [seq, name])
            if db.changesCount == 0 { try db.execute(sql: "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", arguments: [name, seq]) }
            sentSequences[name] = seq
        }
        try db.execute(sql: "UPDATE pgmirror_replica SET version = ?, token = ? WHERE id = 1", arguments: [target.number, target.token])
        try db.execute(sql: "DELETE FROM temp.pgmirror_changed")
        return (target, local == nil && held > 0)
    }

    /// Copies a table's rows written after version `after` (all: nil) into the replica.
    /// (Through a cursor, `downloadPage` rows at a time: a process copying a large hub holds
    /// one page of it in memory, not a table.)
    private func download(_ db: Database, _ conn: PostgresConnection, _ table: MirroredTable, after: Int64?) throws {
        let sql = table.selectSQL + (after.map { " WHERE _v > \($0)" } ?? "")
        try conn.run("DECLARE pgmirror_copy NO SCROLL CURSOR FOR \(sql)")
        defer { _ = try? conn.run("CLOSE pgmirror_copy") }
        let statement = try db.cachedStatement(sql: table.replaceSQL)
        var values: [DatabaseValue] = []
        values.reserveCapacity(table.columns.count)
        while true {
            let rows = try conn.run("FETCH \(Self.downloadPage) FROM pgmirror_copy")
            var count = 0
            for row in rows {
                values.removeAll(keepingCapacity: true)
                for (cell, column) in zip(row, table.columns) { values.append(try column.type.value(cell)) }
                try statement.execute(arguments: StatementArguments(values))
                count += 1
            }
            if count < Self.downloadPage { break }
        }
    }

    static let downloadPage = 5_000

    /// Log entries kept behind the last version: a replica further behind is copied whole.
    static let logKept: Int64 = 100_000

    /// Writes the rows the transaction changed as the next version (every row: `everything`);
    /// nil when it changed none.
    /// `erasing`: deleted keys are not logged; the tables they were deleted from are marked to
    /// be copied whole (`table!` in the log) and their earlier logged deletions dropped.
    private func flush(_ db: Database, _ conn: PostgresConnection, everything: Bool, erasing: Bool) throws -> Version? {
        // Per table the rows it changed (as column arrays) and the keys it deleted, read by
        // joining the noted keys with the table (one statement each, no row read by itself).
        var upserts: [String: [[Bind]]] = [:]
        var deletes: [String: [String]] = [:]
        func collect(_ table: MirroredTable, _ sql: String) throws {
            var columns = [[Bind]](repeating: [], count: table.columns.count)
            let rows = try Row.fetchCursor(db.cachedStatement(sql: sql))
            while let row = try rows.next() {
                for (c, column) in table.columns.enumerated() {
                    columns[c].append(try column.type.bind(row[c], table: table.name, column: column.name))
                }
            }
            if columns.first?.isEmpty == false { upserts[table.name] = columns }
        }
        if everything {
            for table in tables { try collect(table, table.selectSQL) }
        } else {
            for name in try String.fetchAll(db, sql: "SELECT DISTINCT tbl FROM temp.pgmirror_changed") {
                guard let table = byName[name] else { continue }
                try collect(table, table.changedRowsSQL)
                let gone = try String.fetchAll(db.cachedStatement(sql: table.goneKeysSQL))
                if !gone.isEmpty { deletes[name] = gone }
            }
        }
        try db.execute(sql: "DELETE FROM temp.pgmirror_changed")
        var sequences: [(String, Int64)] = []
        for row in try Row.fetchAll(db, sql: "SELECT name, seq FROM sqlite_sequence") {
            let name: String = row["name"], seq: Int64 = row["seq"]
            if sentSequences[name] != seq { sequences.append((name, seq)) }
        }
        guard everything || !upserts.isEmpty || !deletes.isEmpty || !sequences.isEmpty else { return nil }
        let token = UUID().uuidString
        let number = try conn.run("UPDATE pgmirror_head SET version = version + 1, token = $1 WHERE id = 1 RETURNING version", [.text(token)])
            .first!.decode(Int64.self)
        if everything {
            for table in tables { try conn.run("DELETE FROM \(quoted(table.name))") }
        }
        // Each table's deletions and upserts in one statement, the columns as arrays (`unnest`).
        for (name, keys) in deletes.sorted(by: { $0.key < $1.key }) {
            let table = byName[name]!
            let decoded = try keys.map { try table.key($0) }
            try conn.run(table.pgDeleteSQL, try columnArrays(table.keys.indices.map { i in
                let type = table.keyColumn(i).type
                return (type, try decoded.map { try type.bind($0[i], table: name) })
            }))
            if erasing {
                try conn.run("DELETE FROM pgmirror_deleted WHERE tbl = $1", [.text(name)])
            } else {
                try conn.run("INSERT INTO pgmirror_deleted (version, tbl, pk) SELECT $1, $2, unnest($3::text[])",
                             try columnArrays([(.integer, [.int(number)]), (.text, [.text(name)]), (.text, keys.map { .text($0) })], scalars: 2))
            }
        }
        for (name, changed) in upserts.sorted(by: { $0.key < $1.key }) {
            let table = byName[name]!
            var columns = zip(table.columns, changed).map { ($0.type, $1) }
            columns.append((.integer, [.int(number)]))
            try conn.run(table.pgUpsertSQL, try columnArrays(columns, scalarLast: true))
        }
        for (name, seq) in sequences {
            try conn.run("INSERT INTO pgmirror_sequence (name, seq) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET seq = GREATEST(pgmirror_sequence.seq, EXCLUDED.seq)",
                         [.text(name), .int(seq)])
        }
        let names = everything ? "*" : Set(upserts.keys).union(deletes.keys).sorted().map { erasing && deletes[$0] != nil ? $0 + "!" : $0 }
            .joined(separator: ",")
        try conn.run("INSERT INTO pgmirror_log (version, token, tables) VALUES ($1, $2, $3)", [.int(number), .text(token), .text(names)])
        // The log and the deleted keys are kept for the last `logKept` versions.
        if number % 1_000 == 0 {
            try conn.run("DELETE FROM pgmirror_log WHERE version < $1", [.int(number - Self.logKept)])
            try conn.run("DELETE FROM pgmirror_deleted WHERE version < $1", [.int(number - Self.logKept)])
        }
        try db.execute(sql: "UPDATE pgmirror_replica SET version = ?, token = ? WHERE id = 1", arguments: [number, token])
        for (name, seq) in sequences { sentSequences[name] = seq }
        return Version(number: number, token: token)
    }

    /// Binds for a statement over column arrays: each column one array parameter, except the
    /// first `scalars` (or the last, `scalarLast`), which bind their single value as it is.
    private func columnArrays(_ columns: [(MirroredTable.ColumnType, [Bind])], scalars: Int = 0, scalarLast: Bool = false) throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: columns.count)
        for (i, (type, values)) in columns.enumerated() {
            if i < scalars || (scalarLast && i == columns.count - 1) {
                values[0].append(to: &bindings)
            } else {
                try bindings.append(ColumnArray(type: type, values: values))
            }
        }
        return bindings
    }
}

/// A column's values as one PostgreSQL array parameter, NULLs included, in the binary array
/// format (postgres-nio's arrays take no NULL elements): a write of thousands of rows is one
/// statement with one parameter per column, which PostgreSQL plans once.
struct ColumnArray: PostgresThrowingDynamicTypeEncodable {
    let type: MirroredTable.ColumnType
    let values: [Bind]

    var psqlType: PostgresDataType {
        switch type {
        case .integer: return .int8Array
        case .real: return .float8Array
        case .text: return .textArray
        case .blob: return .byteaArray
        }
    }

    var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) throws {
        let element: PostgresDataType
        switch type {
        case .integer: element = .int8
        case .real: element = .float8
        case .text: element = .text
        case .blob: element = .bytea
        }
        buffer.writeInteger(Int32(1))  // dimensions
        buffer.writeInteger(Int32(values.contains { if case .null = $0 { return true } else { return false } } ? 1 : 0))
        buffer.writeInteger(element.rawValue)
        buffer.writeInteger(Int32(values.count))
        buffer.writeInteger(Int32(1))  // lower bound
        for value in values {
            switch value {
            case .null: buffer.writeInteger(Int32(-1))
            case .int(let v):
                buffer.writeInteger(Int32(8))
                buffer.writeInteger(v)
            case .double(let v):
                buffer.writeInteger(Int32(8))
                buffer.writeInteger(v.bitPattern)
            case .text(let v):
                let start = buffer.writerIndex
                buffer.writeInteger(Int32(0))
                let n = buffer.writeString(v)
                buffer.setInteger(Int32(n), at: start)
            case .bytes(let v):
                buffer.writeInteger(Int32(v.count))
                buffer.writeBytes(v)
            }
        }
    }
}

/// A value bound to a PostgreSQL statement.
enum Bind {
    case null, int(Int64), double(Double), text(String), bytes([UInt8])

    func append(to binds: inout PostgresBindings) {
        switch self {
        case .null: binds.appendNull()
        case .int(let v): binds.append(v)
        case .double(let v): binds.append(v)
        case .text(let v): binds.append(v)
        case .bytes(let v): binds.append(ByteBuffer(bytes: v))
        }
    }
}

/// A table of the hub as the mirror writes and reads it.
struct MirroredTable {
    struct Column {
        var name: String
        var type: ColumnType
    }

    /// A column's type in PostgreSQL, after its declared type in SQLite (its affinity).
    enum ColumnType {
        case integer, real, text, blob

        init(declared: String) {
            let t = declared.uppercased()
            if t.contains("INT") { self = .integer }
            else if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") { self = .text }
            else if t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB") { self = .real }
            else { self = .blob }
        }

        /// The column's array type in a statement (`unnest`).
        var arraySQL: String {
            switch self {
            case .integer: return "bigint[]"
            case .real: return "double precision[]"
            case .text: return "text[]"
            case .blob: return "bytea[]"
            }
        }

        var sql: String {
            switch self {
            case .integer: return "bigint"
            case .real: return "double precision"
            case .text: return "text COLLATE \"C\""
            case .blob: return "bytea"
            }
        }

        /// A replica's value for this column, as PostgreSQL takes it.
        func bind(_ value: DatabaseValue, table: String, column: String = "key") throws -> Bind {
            switch (self, value.storage) {
            case (_, .null): return .null
            case (.integer, .int64(let v)): return .int(v)
            case (.integer, .double(let v)) where v.rounded() == v && abs(v) < 9.2e18: return .int(Int64(v))
            case (.integer, .string(let s)) where Int64(s) != nil: return .int(Int64(s)!)
            case (.real, .double(let v)): return .double(v)
            case (.real, .int64(let v)): return .double(Double(v))
            case (.text, .string(let s)): return .text(s)
            case (.text, .int64(let v)): return .text(String(v))
            case (.text, .double(let v)): return .text(String(v))
            case (.blob, .blob(let d)): return .bytes([UInt8](d))
            case (.blob, .string(let s)): return .bytes(Array(s.utf8))
            default:
                throw HubError.invalidConfiguration("table \(table), column \(column): the value \(value) does not fit the column's type \(sql)")
            }
        }

        /// A database's value for this column, as the replica stores it.
        func value(_ cell: PostgresCell) throws -> DatabaseValue {
            switch self {
            case .integer: return try cell.decode(Int64?.self).databaseValue
            case .real: return try cell.decode(Double?.self).databaseValue
            case .text: return try cell.decode(String?.self).databaseValue
            case .blob: return try cell.decode(ByteBuffer?.self).map { Data($0.readableBytesView) }.databaseValue
            }
        }
    }

    let name: String
    let columns: [Column]
    let keys: [String]
    /// A rowid table (written rows are noted by rowid); false: `WITHOUT ROWID`.
    let hasRowid: Bool
    let createSQL, selectSQL, replaceSQL, deleteSQL, changedRowsSQL, goneKeysSQL, pgUpsertSQL, pgDeleteSQL: String

    init(name: String, columns: [Column], keys: [String], hasRowid: Bool) {
        self.name = name
        self.columns = columns
        self.keys = keys
        self.hasRowid = hasRowid
        let list = columns.map { quoted($0.name) }.joined(separator: ", ")
        let keyList = keys.map(quoted).joined(separator: ", ")
        let byKey = keys.map { "\(quoted($0)) = ?" }.joined(separator: " AND ")
        createSQL = "CREATE TABLE IF NOT EXISTS \(quoted(name)) (" + columns.map { "\(quoted($0.name)) \($0.type.sql)" }.joined(separator: ", ")
            + ", _v bigint NOT NULL, PRIMARY KEY (\(keyList)))"
        selectSQL = "SELECT \(list) FROM \(quoted(name))"
        replaceSQL = "INSERT OR REPLACE INTO \(quoted(name)) (\(list)) VALUES (\(Array(repeating: "?", count: columns.count).joined(separator: ", ")))"
        deleteSQL = "DELETE FROM \(quoted(name)) WHERE \(byKey)"
        // The rows and the deleted keys of a transaction's noted keys (`pgmirror_changed`).
        let byNoted = keys.enumerated().map { "t.\(quoted($0.element)) = json_extract(c.pk, '$[\($0.offset)]')" }.joined(separator: " AND ")
        let qualified = columns.map { "t.\(quoted($0.name))" }.joined(separator: ", ")
        changedRowsSQL = hasRowid
            ? "SELECT \(list) FROM main.\(quoted(name)) WHERE rowid IN (SELECT rid FROM temp.pgmirror_changed WHERE tbl = '\(name)' AND rid IS NOT NULL)"
            : "SELECT \(qualified) FROM (SELECT DISTINCT pk FROM temp.pgmirror_changed WHERE tbl = '\(name)' AND pk IS NOT NULL) AS c "
                + "JOIN main.\(quoted(name)) AS t ON \(byNoted)"
        goneKeysSQL = "SELECT DISTINCT c.pk FROM temp.pgmirror_changed AS c WHERE c.tbl = '\(name)' AND c.pk IS NOT NULL AND NOT EXISTS "
            + "(SELECT 1 FROM main.\(quoted(name)) AS t WHERE \(byNoted))"
        // Rows as column arrays: $1…$n the columns, $n+1 the version.
        let arrays = columns.enumerated().map { "$\($0.offset + 1)::\($0.element.type.arraySQL)" }.joined(separator: ", ")
        let others = columns.filter { !keys.contains($0.name) }.map { "\(quoted($0.name)) = EXCLUDED.\(quoted($0.name))" } + ["_v = EXCLUDED._v"]
        pgUpsertSQL = "INSERT INTO \(quoted(name)) (\(list), _v) SELECT *, $\(columns.count + 1) FROM unnest(\(arrays)) "
            + "ON CONFLICT (\(keyList)) DO UPDATE SET " + others.joined(separator: ", ")
        let keyArrays = keys.enumerated().map { i, key in "$\(i + 1)::\(columns.first { $0.name == key }!.type.arraySQL)" }.joined(separator: ", ")
        pgDeleteSQL = "DELETE FROM \(quoted(name)) AS t USING unnest(\(keyArrays)) AS d(\(keys.indices.map { "k\($0)" }.joined(separator: ", "))) WHERE "
            + keys.enumerated().map { "t.\(quoted($0.element)) = d.k\($0.offset)" }.joined(separator: " AND ")
    }

    func keyColumn(_ i: Int) -> Column { columns.first { $0.name == keys[i] }! }

    /// A row's key as the capture triggers note it (`json_array` of the key columns), in the
    /// key columns' types.
    func key(_ json: String) throws -> [DatabaseValue] {
        guard let array = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [Any], array.count == keys.count else {
            throw HubError.invalidConfiguration("table \(name): a noted row key is not a JSON array of its \(keys.count) key columns: \(json)")
        }
        return array.enumerated().map { i, item in
            switch (item, keyColumn(i).type) {
            case (let s as String, _): return s.databaseValue
            case (let n as NSNumber, .real): return n.doubleValue.databaseValue
            case (let n as NSNumber, _): return n.int64Value.databaseValue
            default: return .null
            }
        }
    }
}

/// An SQL identifier in double quotes (SQLite and PostgreSQL read it alike).
func quoted(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

extension PostgresConnection {
    /// Runs `sql` and waits for its rows (the hub's store calls PostgreSQL from its writer's
    /// thread, never from an event loop).
    @discardableResult
    func run(_ sql: String, _ binds: [Bind] = []) throws -> PostgresQueryResult {
        var bindings = PostgresBindings(capacity: binds.count)
        for b in binds { b.append(to: &bindings) }
        return try run(sql, bindings)
    }

    @discardableResult
    func run(_ sql: String, _ bindings: PostgresBindings) throws -> PostgresQueryResult {
        try query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: PostgresMirror.queryLogger).wait()
    }
}
