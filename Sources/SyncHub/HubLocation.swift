import Foundation

/// Where the hub's store is: a SQLite file (the embedded default) or a PostgreSQL database
/// (`postgres://user@host:port/database`), as `--db` names it.
public enum HubLocation: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(PostgresLocation)

    /// `db` as a location: a `postgres://` or `postgresql://` URL names a PostgreSQL database,
    /// anything else a SQLite file. A URL with a password in it is refused: a command line is
    /// visible to every user of the machine (the password comes from `PGPASSWORD` or a file).
    public static func parse(_ db: String) throws -> HubLocation {
        let lower = db.lowercased()
        guard lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://") else { return .sqlite(path: db) }
        func bad(_ why: String) -> HubError { .invalidConfiguration("--db \(PostgresLocation.redacted(db)): \(why)") }
        guard let url = URLComponents(string: db) else { throw bad("not a URL of the form postgres://user@host:port/database") }
        if url.password != nil {
            throw bad("the URL carries a password; give it in PGPASSWORD or --password-file, never on the command line")
        }
        guard let user = url.user, !user.isEmpty else { throw bad("the URL names no user (postgres://user@host:port/database)") }
        guard var host = url.host, !host.isEmpty else { throw bad("the URL names no host") }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let database = String(url.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else { throw bad("the URL names no database (postgres://user@host:port/database)") }
        if let query = url.query, !query.isEmpty { throw bad("parameters (\(query)) are not taken; the URL is postgres://user@host:port/database") }
        let port = url.port ?? 5432
        guard (1...65535).contains(port) else { throw bad("port \(port) is not a TCP port") }
        return .postgres(PostgresLocation(host: host, port: port, user: user, database: database))
    }

    public var description: String {
        switch self {
        case .sqlite(let path): return path
        case .postgres(let location): return location.description
        }
    }
}

/// A PostgreSQL database the hub keeps its store in.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String
    public var database: String

    public init(host: String, port: Int, user: String, database: String) {
        self.host = host
        self.port = port
        self.user = user
        self.database = database
    }

    public var description: String {
        "postgres://\(user)@\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)"
    }

    /// `text` with a password between `user:` and `@` replaced, for error messages.
    static func redacted(_ text: String) -> String {
        guard let scheme = text.range(of: "://"), let at = text[scheme.upperBound...].firstIndex(of: "@") else { return text }
        let userInfo = text[scheme.upperBound..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return text }
        return String(text[..<colon]) + ":***" + String(text[at...])
    }
}
