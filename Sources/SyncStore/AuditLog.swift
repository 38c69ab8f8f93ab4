import Foundation
import GRDB
import SyncModel

/// What an audit record tells, at node and hub (the filter of `posnode audit --kind`,
/// `poshub audit --kind` and `GET /v1/audit?kind=`).
public enum AuditKind: String, Sendable, Codable, CaseIterable {
    /// A partner code renamed by the store-prefix rule.
    case rename
    /// A field value replaced by a later concurrent edit (merge order).
    case overwrite
    /// A multi-site customer move carried out.
    case move
    /// A customer move refused (its conditions did not hold).
    case moveRefused = "move-refused"
    /// A journal entry the hub refused.
    case rejected
    /// A Polish VAT ID registered twice.
    case duplicateVat = "duplicate-vat"
    /// A document priced (offline) with a price table that had changed at the hub since.
    case oldPrice = "old-price"
    /// A center parameter changed by the operator.
    case config
    /// A change stamped beyond the clock bound and applied with the hub's time.
    case clock
    /// A node's hub token revoked or replaced.
    case token
    /// A person's data erased (GDPR Art. 17), or an older copy of it scrubbed; no erased value.
    case erasure
    /// An external system's customer transferred again after its customer was deleted or erased.
    case transfer
    /// An order handed out on a receipt at two stores (both offline): both receipts are kept.
    case doublePickup = "double-pickup"
    /// A store's journal went back (restored from a backup): its later entries were renumbered.
    case restore

    /// The kinds as a reader lists them: `rename, overwrite, ...`.
    public static var list: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// One audit record: a rename, an overwritten field value, a move, a refusal.
public struct AuditRecord: Sendable, Codable, Hashable {
    enum CodingKeys: String, CodingKey {
        case id, at, node, kind, entity, key, field, oldValue = "old_value", newValue = "new_value", reason
    }

    public var id: Int64?
    public var at: String
    public var node: String
    /// An `AuditKind`'s raw value (read as text: a log may hold kinds of a later version).
    public var kind: String
    public var entity: String
    public var key: String
    public var field: String?
    public var oldValue: String?
    public var newValue: String?
    public var reason: String

    public init(id: Int64? = nil, at: String = AuditRecord.now(), node: String, kind: AuditKind, entity: String, key: String,
                field: String? = nil, oldValue: String? = nil, newValue: String? = nil, reason: String) {
        self.id = id; self.at = at; self.node = node; self.kind = kind.rawValue; self.entity = entity; self.key = key
        self.field = field; self.oldValue = oldValue; self.newValue = newValue; self.reason = reason
    }

    public static func now() -> String { iso(millis: UInt64(Date().timeIntervalSince1970 * 1000)) }

    /// ISO 8601 (UTC, seconds) of milliseconds since 1970, e.g. `2026-11-25T08:32:41Z`.
    /// Computed directly (civil-from-days): a Foundation formatter per call cost ~100 µs.
    public static func iso(millis: UInt64) -> String {
        let secs = Int64(millis / 1000)
        let days = secs >= 0 ? secs / 86_400 : (secs - 86_399) / 86_400
        let rem = secs - days * 86_400
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(y)-\(two(m))-\(two(d))T\(two(rem / 3600)):\(two(rem % 3600 / 60)):\(two(rem % 60))Z"
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
    public func auditRecords(kind: AuditKind? = nil, limit: Int = 1000) throws -> [AuditRecord] {
        try latestAudit(kinds: kind.map { [$0] }, limit: limit)
    }

    /// Up to `limit` audit records of `kind` (nil: all) older than the record `before`, newest first.
    public func auditPage(kind: AuditKind?, before: Int64, limit: Int) throws -> [AuditRecord] {
        try Row.fetchAll(self, sql: "SELECT * FROM audit WHERE id < ? AND (? IS NULL OR kind = ?) ORDER BY id DESC LIMIT ?",
                         arguments: [before, kind?.rawValue, kind?.rawValue, limit]).map(AuditRecord.init(row:))
    }

    /// The latest `limit` audit records of `kinds` (nil: all), newest last.
    public func latestAudit(kinds: [AuditKind]?, limit: Int) throws -> [AuditRecord] {
        let filter = kinds.map { "WHERE kind IN (\($0.map { _ in "?" }.joined(separator: ", ")))" } ?? ""
        let rows = try Row.fetchAll(self, sql: """
            SELECT * FROM (SELECT * FROM audit \(filter) ORDER BY id DESC LIMIT ?) ORDER BY id
            """, arguments: StatementArguments((kinds ?? []).map { $0.rawValue.databaseValue } + [limit.databaseValue]))
        return rows.map(AuditRecord.init(row:))
    }
}

extension AuditRecord {
    public init(row: Row) {
        self.init(id: row["id"], at: row["at"], node: row["node"], kind: .rename, entity: row["entity"],
                  key: row["key"], field: row["field"], oldValue: row["old_value"], newValue: row["new_value"],
                  reason: row["reason"])
        // As stored (a later version's kind reads as its text).
        kind = row["kind"]
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
