import Foundation

/// Which store a test's hub keeps its data in.
public enum HubStoreKind: String, Sendable, CustomStringConvertible, CaseIterable {
    case sqlite, postgres

    /// The kinds this test run has: SQLite always; PostgreSQL when the test server is set
    /// (`POS_TEST_POSTGRES`, started by Scripts/test.sh).
    public static var available: [HubStoreKind] { TestPostgres.serverURL == nil ? [.sqlite] : [.sqlite, .postgres] }

    public var description: String { rawValue }
}

/// The PostgreSQL server the tests use (Scripts/pg-cluster.sh, started by Scripts/test.sh):
/// `POS_TEST_POSTGRES` is the URL of its database for administration
/// (`postgres://poshub@127.0.0.1:PORT/poshub`), `PGPASSWORD` the role's password. Each test
/// gets a database of its own.
public enum TestPostgres {
    public static var serverURL: String? {
        ProcessInfo.processInfo.environment["POS_TEST_POSTGRES"].flatMap { $0.isEmpty ? nil : $0 }
    }

    public struct Database: Sendable {
        public var name: String
        public var url: String
    }

    /// Runs `commands` (SQL or psql's own, such as `\copy`, each a `-c`) with psql on the
    /// database at `url`, and returns what it printed.
    @discardableResult
    public static func psql(_ commands: [String], url: String) throws -> String {
        try client("psql", [url, "-v", "ON_ERROR_STOP=1", "-Atq"] + commands.flatMap { ["-c", $0] })
    }

    /// Runs PostgreSQL's client program `name` (psql, pg_dump, pg_restore) and returns what it
    /// printed; one that fails throws with what it said.
    @discardableResult
    static func client(_ name: String, _ arguments: [String]) throws -> String {
        let r = try runCommand("/usr/bin/" + name, arguments)
        guard r.succeeded else { throw ClusterError.commandFailed("\(name): \(r.stderr)") }
        return r.stdout
    }

    /// Runs SQL with psql on the test server's administration database (or `database` on it).
    @discardableResult
    public static func psql(_ sql: String, database: String? = nil) throws -> String {
        guard let server = serverURL else { throw ClusterError.commandFailed("POS_TEST_POSTGRES is not set") }
        return try psql([sql], url: database.map { url(of: $0, server: server) } ?? server).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The URL of database `name` on the server whose administration database is at `server`.
    public static func url(of name: String, server: String? = serverURL) -> String {
        guard let server, let slash = server.lastIndex(of: "/") else { return "" }
        return String(server[...slash]) + name
    }

    /// A new database on `server` (the test server by default), named with `prefix`.
    public static func createDatabase(server: String? = serverURL, prefix: String = "hub") throws -> Database {
        guard let server else { throw ClusterError.commandFailed("POS_TEST_POSTGRES is not set") }
        let name = prefix + "_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        try psql(["CREATE DATABASE \(name)"], url: server)
        return Database(name: name, url: url(of: name, server: server))
    }

    public static func drop(_ database: Database, server: String? = serverURL) throws {
        guard let server else { throw ClusterError.commandFailed("POS_TEST_POSTGRES is not set") }
        try psql(["DROP DATABASE IF EXISTS \(database.name) WITH (FORCE)"], url: server)
    }

    /// A copy of the database as it is now (pg_dump), for a test that restores the hub to an
    /// earlier point.
    public static func dump(_ database: Database, to file: String) throws {
        try client("pg_dump", ["--format=custom", "--file", file, database.url])
    }

    /// Every row of the database as pg_dump writes it (its data, as text).
    public static func dataText(_ database: Database) throws -> String {
        try client("pg_dump", ["--data-only", database.url])
    }

    /// Replaces the database with the copy in `file` (the hub restored to that point).
    public static func restore(_ database: Database, from file: String) throws {
        try drop(database)
        try psql("CREATE DATABASE \(database.name)")
        try client("pg_restore", ["--no-owner", "--dbname", database.url, file])
    }
}
