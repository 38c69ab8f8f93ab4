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

    /// Runs SQL on the server's administration database with psql.
    @discardableResult
    public static func psql(_ sql: String, database: String? = nil) throws -> String {
        guard let server = serverURL else { throw ClusterError.commandFailed("POS_TEST_POSTGRES is not set") }
        let target = database.map { Self.url(of: $0) } ?? server
        let r = try runCommand("/usr/bin/psql", [target, "-v", "ON_ERROR_STOP=1", "-Atqc", sql])
        guard r.succeeded else { throw ClusterError.commandFailed("psql: \(r.stderr)") }
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The URL of database `name` on the test server.
    public static func url(of name: String) -> String {
        guard let server = serverURL, let slash = server.lastIndex(of: "/") else { return "" }
        return String(server[...slash]) + name
    }

    public static func createDatabase() throws -> Database {
        let name = "hub_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        try psql("CREATE DATABASE \(name)")
        return Database(name: String(name), url: url(of: String(name)))
    }

    public static func drop(_ database: Database) throws {
        try psql("DROP DATABASE IF EXISTS \(database.name) WITH (FORCE)")
    }

    /// A copy of the database as it is now (pg_dump), for a test that restores the hub to an
    /// earlier point.
    public static func dump(_ database: Database, to file: String) throws {
        let r = try runCommand("/usr/bin/pg_dump", ["--format=custom", "--file", file, database.url])
        guard r.succeeded else { throw ClusterError.commandFailed("pg_dump: \(r.stderr)") }
    }

    /// Every row of the database as pg_dump writes it (its data, as text).
    public static func dataText(_ database: Database) throws -> String {
        let r = try runCommand("/usr/bin/pg_dump", ["--data-only", database.url])
        guard r.succeeded else { throw ClusterError.commandFailed("pg_dump: \(r.stderr)") }
        return r.stdout
    }

    /// Replaces the database with the copy in `file` (the hub restored to that point).
    public static func restore(_ database: Database, from file: String) throws {
        try drop(database)
        try psql("CREATE DATABASE \(database.name)")
        let r = try runCommand("/usr/bin/pg_restore", ["--no-owner", "--dbname", database.url, file])
        guard r.succeeded else { throw ClusterError.commandFailed("pg_restore: \(r.stderr)") }
    }
}
