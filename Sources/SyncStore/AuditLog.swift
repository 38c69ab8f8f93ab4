import Foundation
import GRDB
import SyncModel

/// One audit record: a rename, an overwritten field value, a move, a refusal.
public struct AuditRecord: Sendable, Codable, Hashable {
    public var id: Int64?
    public var at: String
    public var node: String
    public var kind: String
    public var entity: String
    public var key: String
    public var field: String?
    public var oldValue: String?
    public var newValue: String?
    public var reason: String

    public init(id: Int64? = nil, at: String = AuditRecord.now(), node: String, kind: String, entity: String, key: String,
                field: String? = nil, oldValue: String? = nil, newValue: String? = nil, reason: String) {
        self.id = id; self.at = at; self.node = node; self.kind = kind; self.entity = entity; self.key = key
        self.field = field; self.oldValue = oldValue; self.newValue = newValue; self.reason = reason
    }

    public static func now() -> String { ISO8601DateFormatter().string(from: Date()) }

    /// ISO 8601 (UTC, seconds) of milliseconds since 1970.
    public static func iso(millis: UInt64) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
    }
}

extension Database {
    public func appendAudit(_ r: AuditRecord) throws {
        try execute(sql: """
            INSERT INTO audit (at, node, kind, entity, key, field, old_value, new_value, reason)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [r.at, r.node, r.kind, r.entity, r.key, r.field, r.oldValue, r.newValue, r.reason])
    }

    /// Audit records, newest last; `kind` filters (e.g. "rename").
    public func auditRecords(kind: String? = nil, limit: Int = 1000) throws -> [AuditRecord] {
        let rows = try Row.fetchAll(self, sql: """
            SELECT * FROM (SELECT * FROM audit WHERE (?1 IS NULL OR kind = ?1) ORDER BY id DESC LIMIT ?2) ORDER BY id
            """, arguments: [kind, limit])
        return rows.map {
            AuditRecord(id: $0["id"], at: $0["at"], node: $0["node"], kind: $0["kind"], entity: $0["entity"],
                        key: $0["key"], field: $0["field"], oldValue: $0["old_value"], newValue: $0["new_value"],
                        reason: $0["reason"])
        }
    }
}

extension FieldValue {
    /// The value as audit text.
    public var auditText: String? {
        switch self {
        case .null: return nil
        case .int(let i): return String(i)
        case .bool(let b): return b ? "true" : "false"
        case .text(let s): return s
        }
    }
}
