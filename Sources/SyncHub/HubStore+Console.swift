import Foundation
import GRDB
import SyncModel
import SyncReconcile
import SyncStore

/// One store as the operator console, `poshub node status` and `/metrics` see it: one query,
/// three views (docs/console.md).
public struct StoreStatus: Sendable, Codable, Hashable {
    enum CodingKeys: String, CodingKey {
        case node, site, region, state, lastPushAt = "last_push_at", lastPullAt = "last_pull_at", pendingEntries = "pending_entries"
        case waiting, clockOffsetMillis = "clock_offset_ms", refused, lastError = "last_error", lastErrorAt = "last_error_at", revoked
        case rebaseline, secondsSinceSeen = "seconds_since_seen"
    }
    /// How a store stands, in the order the console lists them: what needs a person first.
    public enum State: String, Sendable, Codable, CaseIterable {
        case notSeen = "not-seen", behind, revoked, inSync = "in-sync"
        public var label: String {
            switch self {
            case .notSeen: return "not seen"
            case .behind: return "behind"
            case .revoked: return "token revoked"
            case .inSync: return "in sync"
            }
        }
    }

    public var node: String
    public var site: String
    public var region: String
    public var state: State
    public var lastPushAt: String?
    public var lastPullAt: String?
    /// Journal entries the store reported still to send at its last push (`X-Pending-Entries`).
    public var pendingEntries: Int64
    /// Feed positions waiting for it at the hub: the feed's head minus its cursor.
    public var waiting: Int64
    public var clockOffsetMillis: Int64?
    /// Entries of its pushes the hub refused, since the hub's store began counting.
    public var refused: Int64
    public var lastError: String?
    public var lastErrorAt: String?
    public var revoked: Bool
    /// The operator asked it to re-baseline its pull; it does at its next round.
    public var rebaseline: Bool
    /// Seconds since its last push or pull (nil: never seen).
    public var secondsSinceSeen: Int?
}

/// Something that needs a person, with the page of the record it concerns.
public struct AttentionItem: Sendable, Codable, Hashable {
    /// `rename`, `move-refused`, `duplicate`, `double-pickup`, `clock`, `access-case`,
    /// `transfer`, `accounting`.
    public var kind: String
    public var title: String
    public var detail: String
    /// The console's page of the record (`/console/customers/K2-1001`).
    public var link: String
    public var at: String
}

/// A sync round of a store as the hub saw it, for the store's chart.
public struct SyncRoundRecord: Sendable, Codable, Hashable {
    public var at: Double
    public var kind: String
    public var seconds: Double
    public var backlog: Int64
}

/// An operator of the console.
public struct ConsoleOperator: Sendable, Hashable {
    public var name: String
    /// `viewer` (reads) or `operator` (reads and acts).
    public var role: String
    public var passwordHash: String?
    public var revoked: Bool
}

/// A console session (the cookie holds its id; the store only a hash of it).
public struct ConsoleSession: Sendable, Hashable {
    public var operatorName: String
    public var role: String
    public var csrf: String
    public var expiresAt: Double
}

extension HubStore {
    // MARK: Stores

    /// Every store's status, what needs a person first: not seen for longer than
    /// `notSeenAfter` seconds (longest first), behind (largest backlog first), token revoked,
    /// in sync.
    public func storeOverview(now: Date = Date(), notSeenAfter: Int) throws -> [StoreStatus] {
        try pool.read { db in
            let head = try Int64.fetchOne(db, sql: "SELECT last FROM hub_feed_counter WHERE id = 1") ?? 0
            let rows = try Row.fetchAll(db, sql: """
                SELECT n.node_id, n.site, n.region, n.token_hash, n.last_push_at, n.last_pull_at,
                       a.pending_entries, a.cursor, a.clock_offset_ms, a.refused_total, a.last_error, a.last_error_at, a.rebaseline, a.last_seen
                FROM hub_node n LEFT JOIN hub_node_activity a ON a.node = n.node_id
                """)
            let formatter = ISO8601DateFormatter()
            var out: [StoreStatus] = rows.map { r in
                let push: String? = r["last_push_at"], pull: String? = r["last_pull_at"]
                let seen = ([push, pull].compactMap { $0.flatMap { formatter.date(from: $0) } }
                            + [(r["last_seen"] as Double?).map { Date(timeIntervalSince1970: $0) }].compactMap { $0 }).max()
                let since = seen.map { Int(now.timeIntervalSince($0)) }
                let pending: Int64 = r["pending_entries"] ?? 0
                let cursor: Int64 = r["cursor"] ?? 0
                let waiting = max(0, head - cursor)
                let revoked = (r["token_hash"] as String? ?? "").hasPrefix(Self.revokedMark)
                let state: StoreStatus.State
                if revoked { state = .revoked }
                else if since.map({ $0 > notSeenAfter }) ?? true { state = .notSeen }
                else if pending > 0 || waiting > 0 { state = .behind }
                else { state = .inSync }
                return StoreStatus(node: r["node_id"], site: r["site"], region: r["region"], state: state, lastPushAt: push, lastPullAt: pull,
                                   pendingEntries: pending, waiting: waiting, clockOffsetMillis: r["clock_offset_ms"],
                                   refused: r["refused_total"] ?? 0, lastError: r["last_error"], lastErrorAt: r["last_error_at"],
                                   revoked: revoked, rebaseline: (r["rebaseline"] as Int64? ?? 0) != 0, secondsSinceSeen: since)
            }
            let order = Dictionary(uniqueKeysWithValues: StoreStatus.State.allCases.enumerated().map { ($1, $0) })
            out.sort { a, b in
                if a.state != b.state { return order[a.state]! < order[b.state]! }
                switch a.state {
                case .notSeen: return (a.secondsSinceSeen ?? .max, a.node) > (b.secondsSinceSeen ?? .max, b.node)
                case .behind: return (a.pendingEntries + a.waiting, b.node) > (b.pendingEntries + b.waiting, a.node)
                default: return a.node < b.node
                }
            }
            return out
        }
    }

    /// A store's sync rounds since `since` (seconds since 1970), oldest first.
    public func syncRounds(node: String, since: Double) throws -> [SyncRoundRecord] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT at, kind, seconds, backlog FROM hub_sync_round WHERE node = ? AND at >= ? ORDER BY at",
                             arguments: [node, since]).map { SyncRoundRecord(at: $0["at"], kind: $0["kind"], seconds: $0["seconds"], backlog: $0["backlog"]) }
        }
    }

    /// Asks store `node` to re-baseline its pull: its next round's epoch check answers that its
    /// cursor is not to be kept, and it reads a snapshot. Audited with the operator's name.
    public func requestRebaseline(node: String, by operatorName: String) throws {
        try pool.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM hub_node WHERE node_id = ?)", arguments: [node]) == true else {
                throw HubError.unknownNode(node)
            }
            try db.execute(sql: """
                INSERT INTO hub_node_activity (node, rebaseline) VALUES (?, 1) ON CONFLICT (node) DO UPDATE SET rebaseline = 1
                """, arguments: [node])
            try db.appendAudit(AuditRecord(node: Self.hubNode, kind: .config, entity: "node", key: node,
                                           reason: "re-baseline of its pull asked by operator \(operatorName)"))
        }
    }

    /// Whether `node` was asked to re-baseline; clears the request (the node is told now).
    static func takeRebaseline(_ db: Database, node: String) throws -> Bool {
        guard try Int64.fetchOne(db, sql: "SELECT rebaseline FROM hub_node_activity WHERE node = ?", arguments: [node]) == 1 else { return false }
        try db.execute(sql: "UPDATE hub_node_activity SET rebaseline = 0 WHERE node = ?", arguments: [node])
        return true
    }

    // MARK: What needs a person

    /// What needs a person: open access cases (overdue first), the accounting connector's open
    /// errors, duplicate candidates with the move that would merge them, and the last week's
    /// renames, refused moves, double pick-ups, clock restamps and transfer problems, newest first.
    public func attention(now: Date = Date(), days: Int = 7, limit: Int = 200) throws -> [AttentionItem] {
        var items: [AttentionItem] = []
        for c in try accessRequests() where c.status == "open" {
            let left = c.daysLeft ?? 0
            items.append(AttentionItem(kind: "access-case", title: "Access request \(c.id): \(left < 0 ? "overdue by \(-left) days" : "\(left) days left")",
                                       detail: "due \(c.due), \(c.identifierKind) \(c.identifier)", link: "/console/cases/\(c.id)", at: c.received))
        }
        items.sort { a, b in a.title.contains("overdue") && !b.title.contains("overdue") }
        for i in try openAccountingIssues() {
            items.append(AttentionItem(kind: "accounting", title: "Invoice of document \(i.document): \(i.kind)", detail: "\(i.message) — \(i.fix)",
                                       link: "/console/documents/\(i.document)", at: "run \(i.lastRun)"))
        }
        let groups = try pool.read { try DuplicateFinder.candidates($0) }
        for g in groups.prefix(50) {
            let move = g.moves.first { $0.possible }
            items.append(AttentionItem(kind: "duplicate", title: "Possible duplicates \(g.codes.joined(separator: ", "))",
                                       detail: "same \(g.reason) \(g.value)" + (move.map { "; merge: \($0.command)" } ?? ""),
                                       link: "/console/customers/\(g.codes.first ?? "")", at: ""))
        }
        let since = ISO8601DateFormatter().string(from: now.addingTimeInterval(-Double(days) * 86_400))
        let kinds: [(AuditKind, String)] = [(.rename, "Renamed by the store-prefix rule"), (.moveRefused, "Customer move refused"),
                                            (.doublePickup, "Order picked up twice"), (.clock, "Clock restamped"), (.transfer, "Back-office transfer")]
        for a in try audit(kind: .rejected, limit: limit) where a.at >= since && a.entity == "transfer" {
            items.append(AttentionItem(kind: "transfer", title: "Back-office transfer item refused: \(a.key)", detail: "system \(a.node): \(a.reason)",
                                       link: "/console/audit", at: a.at))
        }
        for (kind, title) in kinds {
            for a in try audit(kind: kind, limit: limit) where a.at >= since {
                let link = a.entity == "partner" || a.entity == "institution" ? "/console/customers/\(a.newValue ?? a.key)"
                    : a.entity == "node" ? "/console/stores/\(a.key)" : a.entity == "document" ? "/console/documents/\(a.key)" : "/console/audit"
                items.append(AttentionItem(kind: kind.rawValue, title: "\(title): \(a.key)", detail: "\(a.node): \(a.reason)", link: link, at: a.at))
            }
        }
        return items
    }

    // MARK: Operators and sessions

    /// The console's view of operator `name` (nil: none).
    public func consoleOperator(_ name: String) throws -> ConsoleOperator? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT name, role, password_hash, token_hash FROM hub_operator WHERE name = ?", arguments: [name]).map {
                ConsoleOperator(name: $0["name"], role: $0["role"], passwordHash: $0["password_hash"],
                                revoked: ($0["token_hash"] as String).hasPrefix(Self.revokedMark))
            }
        }
    }

    /// Sets operator `name`'s console role and password hash.
    public func setConsoleLogin(name: String, role: String, passwordHash: String) throws {
        guard ["viewer", "operator"].contains(role) else {
            throw HubError.invalid(FieldError(field: "role", reason: "'\(role)' is not a role (viewer, operator)"))
        }
        try pool.write { db in
            try Self.requireCredential(db, .operator, name)
            try db.execute(sql: "UPDATE hub_operator SET role = ?, password_hash = ? WHERE name = ?", arguments: [role, passwordHash, name])
            try db.execute(sql: "DELETE FROM hub_console_login WHERE operator = ?", arguments: [name])
            try db.appendAudit(AuditRecord(node: Self.hubNode, kind: .token, entity: "operator", key: name, reason: "console login set, role \(role)"))
        }
    }

    /// Starts a session of `operatorName` for `seconds`: the store keeps the hash of `idHash`'s
    /// id and the session's CSRF token.
    public func startConsoleSession(idHash: String, operatorName: String, csrf: String, seconds: Double) throws {
        let now = Date().timeIntervalSince1970
        try pool.write { db in
            try db.execute(sql: "DELETE FROM hub_console_login WHERE expires_at < ?", arguments: [now])
            try db.execute(sql: "INSERT INTO hub_console_login (id_hash, operator, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                           arguments: [idHash, operatorName, csrf, now, now + seconds])
            try db.appendAudit(AuditRecord(node: Self.hubNode, kind: .token, entity: "operator", key: operatorName, reason: "console login"))
        }
    }

    /// The live session whose id hashes to `idHash` (nil: none, expired, or its operator revoked).
    public func consoleSession(idHash: String) throws -> ConsoleSession? {
        try pool.read { db in
            guard let r = try Row.fetchOne(db, sql: """
                SELECT s.operator, s.csrf, s.expires_at, o.role, o.token_hash FROM hub_console_login s
                JOIN hub_operator o ON o.name = s.operator WHERE s.id_hash = ?
                """, arguments: [idHash]) else { return nil }
            guard (r["expires_at"] as Double) > Date().timeIntervalSince1970, !(r["token_hash"] as String).hasPrefix(Self.revokedMark) else { return nil }
            return ConsoleSession(operatorName: r["operator"], role: r["role"], csrf: r["csrf"], expiresAt: r["expires_at"])
        }
    }

    /// Ends a session: its cookie is worth nothing afterwards.
    public func endConsoleSession(idHash: String) throws {
        try pool.write { db in
            if let name = try String.fetchOne(db, sql: "SELECT operator FROM hub_console_login WHERE id_hash = ?", arguments: [idHash]) {
                try db.execute(sql: "DELETE FROM hub_console_login WHERE id_hash = ?", arguments: [idHash])
                try db.appendAudit(AuditRecord(node: Self.hubNode, kind: .token, entity: "operator", key: name, reason: "console logout"))
            }
        }
    }

    /// Records a failed login of `name` from `address`; returns the failures of that name or
    /// that address in the last `window` seconds.
    @discardableResult
    public func noteLoginFailure(name: String, address: String, window: Double) throws -> Int {
        let now = Date().timeIntervalSince1970
        return try pool.write { db in
            try db.execute(sql: "DELETE FROM hub_login_failure WHERE at < ?", arguments: [now - window])
            try db.execute(sql: "INSERT INTO hub_login_failure (name, address, at) VALUES (?, ?, ?)", arguments: [String(name.prefix(64)), address, now])
            try db.appendAudit(AuditRecord(node: Self.hubNode, kind: .token, entity: "operator", key: String(name.prefix(64)),
                                           reason: "console login refused from \(address)"))
            return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM hub_login_failure WHERE name = ? OR address = ?", arguments: [String(name.prefix(64)), address]) ?? 0
        }
    }

    /// Failed logins of `name` or from `address` in the last `window` seconds, and when the
    /// oldest of them leaves the window.
    public func loginFailures(name: String, address: String, window: Double) throws -> (count: Int, oldest: Double?) {
        let since = Date().timeIntervalSince1970 - window
        return try pool.read { db in
            let r = try Row.fetchOne(db, sql: "SELECT COUNT(*) AS n, MIN(at) AS oldest FROM hub_login_failure WHERE at >= ? AND (name = ? OR address = ?)",
                                     arguments: [since, String(name.prefix(64)), address])
            return (r?["n"] ?? 0, r?["oldest"])
        }
    }

    /// Records an operator's action in the audit, with their name.
    public func auditConsoleAction(operatorName: String, entity: String, key: String, action: String) throws {
        try pool.write { db in
            try db.appendAudit(AuditRecord(node: Self.hubNode, kind: .config, entity: entity, key: key, reason: "\(action) by operator \(operatorName) (console)"))
        }
    }
}
