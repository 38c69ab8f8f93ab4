import Crypto
import Foundation
import GRDB
import SyncModel
import SyncStore

/// Nodes and their tokens: registration, revocation, rotation, authentication.
extension HubStore {
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

    /// A new random token (256 bits): the stores', systems' and operators' tokens, and the
    /// console's session ids and form tokens.
    public static func newToken() -> String {
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

    /// What the hub keeps of a token: its SHA-256, hex.
    public static func hashToken(_ token: String) -> String {
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

    /// The node or operator a bearer token belongs to, or nil.
    public func caller(token: String) throws -> HubCaller? {
        let hash = Self.hashToken(token)
        return try pool.read { db in
            if let node = try Row.fetchOne(db, sql: "SELECT * FROM hub_node WHERE token_hash = ?", arguments: [hash]).map(Self.node) {
                return .node(node)
            }
            if let name = try String.fetchOne(db, sql: "SELECT name FROM hub_operator WHERE token_hash = ?", arguments: [hash]) {
                return .operator(name)
            }
            return try String.fetchOne(db, sql: "SELECT name FROM hub_system WHERE token_hash = ?", arguments: [hash]).map(HubCaller.system)
        }
    }

    /// Registers an operator and returns its new bearer token (only its hash is stored): the
    /// token writes the central master data through the API. Audited (kind `token`).
    public func addOperator(name: String) throws -> String {
        guard !name.isEmpty, name.count <= 64, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.@".contains($0) }) else {
            throw HubError.invalid(FieldError(field: "name", reason: "'\(name)' is not a name of letters, digits and - _ . @ (at most 64)"))
        }
        let token = Self.newToken()
        try pool.write { db in
            if try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM hub_operator WHERE name = ?)", arguments: [name]) == true {
                throw HubError.invalid(FieldError(field: "name", reason: "operator \(name) is already registered", code: .conflict))
            }
            try db.execute(sql: "INSERT INTO hub_operator (name, token_hash, created_at) VALUES (?, ?, ?)",
                           arguments: [name, Self.hashToken(token), AuditRecord.now()])
            try db.appendAudit(AuditRecord(node: Self.hubNode, kind: .token, entity: "operator", key: name, reason: "operator registered"))
        }
        return token
    }

    static func node(_ r: Row) -> HubNode {
        HubNode(node: r["node_id"], site: r["site"], series: r["series"], region: r["region"], lastSeq: r["last_seq"],
                lastPushAt: r["last_push_at"], lastPullAt: r["last_pull_at"],
                revoked: (r["token_hash"] as String? ?? "").hasPrefix(revokedMark))
    }

    /// Every registered node, with the center parameters it journaled (the defaults for a
    /// node that sent none).
    public func nodes() throws -> [HubNode] {
        try pool.read { db in
            let parameters = try ReplicatedTable.of(.nodeParameters).map { table in
                try Row.fetchAll(db, sql: "SELECT \(table.columns.joined(separator: ", ")) FROM \(table.name)").map(table.fields(of:))
            } ?? []
            var center: [String: CenterParameters] = [:]
            for f in parameters {
                guard let node = f["node"]?.text else { continue }
                center[node] = CenterParameters(lowestPriceForNewBusiness: f["lowest_price_business"]?.bool ?? false,
                                                lowestPriceForNewConsumer: f["lowest_price_consumer"]?.bool ?? false,
                                                defaultCountry: f["default_country"]?.text)
            }
            return try Row.fetchAll(db, sql: "SELECT * FROM hub_node ORDER BY node_id").map { row in
                var node = Self.node(row)
                node.center = center[node.node] ?? CenterParameters()
                return node
            }
        }
    }

    /// A registered node by id.
    public func node(_ id: String) throws -> HubNode {
        guard let n = try pool.read({ try Row.fetchOne($0, sql: "SELECT * FROM hub_node WHERE node_id = ?", arguments: [id]) }) else {
            throw HubError.unknownNode(id)
        }
        return Self.node(n)
    }
}
