import Foundation
import GRDB
import SyncModel
import SyncStore

/// Who holds a bearer token at the hub besides the stores: operators (the central API) and
/// external systems (the transfer API). Both have the life cycle nodes have: listed, revoked
/// at once, rotated (the new token shown once; only its hash is kept). Audited (kind `token`).
public enum CredentialKind: String, Sendable, CaseIterable, Codable {
    case system, `operator`

    var table: String { self == .system ? "hub_system" : "hub_operator" }
}

/// A system's or an operator's entry, never its token.
public struct CredentialInfo: Sendable, Codable, Hashable {
    enum CodingKeys: String, CodingKey { case kind, name, createdAt = "created_at", revoked, series }
    public var kind: String
    public var name: String
    public var createdAt: String
    public var revoked: Bool
    /// A system's code series.
    public var series: String?
}

extension HubStore {
    public func credentials(_ kind: CredentialKind) throws -> [CredentialInfo] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM \(kind.table) ORDER BY name").map { row in
                CredentialInfo(kind: kind.rawValue, name: row["name"], createdAt: row["created_at"],
                               revoked: (row["token_hash"] as String).hasPrefix(Self.revokedMark), series: kind == .system ? row["series"] : nil)
            }
        }
    }

    /// Revokes the token of the system or operator `name` at once (its calls answer 401).
    public func revokeCredential(_ kind: CredentialKind, name: String) throws {
        try pool.write { db in
            try Self.requireCredential(db, kind, name)
            try db.execute(sql: "UPDATE \(kind.table) SET token_hash = ? WHERE name = ?", arguments: [Self.revokedMark + kind.rawValue + ":" + name, name])
            // An operator's console sessions end with the token (docs/console.md).
            if kind == .operator { try db.execute(sql: "DELETE FROM hub_console_login WHERE operator = ?", arguments: [name]) }
            try db.appendAudit(AuditRecord(node: Self.hubNode, kind: .token, entity: kind.rawValue, key: name, reason: "token revoked"))
        }
    }

    /// Gives the system or operator `name` a new token and returns it; the old one stops at once.
    public func rotateCredential(_ kind: CredentialKind, name: String) throws -> String {
        let token = Self.newToken()
        try pool.write { db in
            try Self.requireCredential(db, kind, name)
            try db.execute(sql: "UPDATE \(kind.table) SET token_hash = ? WHERE name = ?", arguments: [Self.hashToken(token), name])
            if kind == .operator { try db.execute(sql: "DELETE FROM hub_console_login WHERE operator = ?", arguments: [name]) }
            try db.appendAudit(AuditRecord(node: Self.hubNode, kind: .token, entity: kind.rawValue, key: name, reason: "token replaced"))
        }
        return token
    }

    static func requireCredential(_ db: Database, _ kind: CredentialKind, _ name: String) throws {
        guard try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM \(kind.table) WHERE name = ?)", arguments: [name]) == true else {
            throw HubError.invalid(FieldError(field: "name", reason: "no \(kind.rawValue) \(name) is registered", code: .notFound))
        }
    }
}
