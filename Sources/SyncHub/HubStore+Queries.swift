import Foundation
import GRDB
import SyncModel
import SyncReconcile
import SyncStore

/// What the API and the operator read: partner checks, state hashes, audit; moves and balances.
extension HubStore {
    public func partnerExists(code: String) throws -> Bool {
        try pool.read { try ReplicatedTable.partner.exists($0, key: PartnerCode.normalized(code)) }
    }

    /// Whether `code` is taken and which partner already has the Polish VAT ID `vatID`: the
    /// store's question before it registers a partner online.
    public func partnerCheck(code: String, vatID: String?, country: String?) throws -> PartnerCheck {
        let code = PartnerCode.normalized(code)
        return try pool.read { db in
            PartnerCheck(code: code, codeTaken: try ReplicatedTable.partner.exists(db, key: code),
                         vatIDUsedBy: try db.partnerWithSameNIP(vatID: vatID, country: country, excluding: code))
        }
    }

    /// The digest of every replicated record, or of one region's records: what the state hash
    /// of a store node of that region must equal once it has synced.
    public func stateHash(region: String? = nil) throws -> String {
        guard let region else { return try pool.read { try $0.stateHash(kinds: kinds) } }
        return try pool.read { try Self.stateHashes($0, regions: [region], kinds: kinds)[region]! }
    }

    /// The state hash of every region that has nodes or records, in one pass over the
    /// replicated tables.
    public func regionStateHashes() throws -> [String: String] {
        try pool.read { db in
            try Self.stateHashes(db, regions: Set(String.fetchAll(db, sql: "SELECT region FROM hub_node UNION SELECT DISTINCT region FROM hub_feed"))
                .subtracting([Database.everyGroup]), kinds: kinds)
        }
    }

    static func stateHashes(_ db: Database, regions: Set<String>, kinds: RecordKinds) throws -> [String: String] {
        try db.stateHashes(groups: regions, kinds: kinds) { table in
            "(SELECT f.region FROM hub_feed f WHERE f.gseq = \(table.name).\(HubTable.feedColumn))"
        }
    }

    public func audit(kind: AuditKind? = nil, limit: Int = 1000) throws -> [AuditRecord] {
        try pool.read { try $0.auditRecords(kind: kind, limit: limit) }
    }

    /// The latest `limit` audit records a node of `region` may read, newest last: those of
    /// records in its region (the record's feed row says), and of records the hub no longer
    /// has or never fed when the node that caused the entry is in the region. Records of other
    /// regions carry other regions' customers' old and new values.
    public func audit(kind: AuditKind? = nil, limit: Int = 1000, region: String) throws -> [AuditRecord] {
        try pool.read { db in
            var nodeRegion: [String: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT node_id, region FROM hub_node") { nodeRegion[row[0]] = row[1] }
            // One region for the whole chain: every record is in it.
            if nodeRegion.values.allSatisfy({ $0 == region }) { return try db.auditRecords(kind: kind, limit: limit) }
            var kept: [AuditRecord] = []
            var before = Int64.max
            // Newest first, a page at a time, until `limit` are kept or the audit ends.
            while kept.count < limit {
                let page = try db.auditPage(kind: kind, before: before, limit: 500)
                guard let last = page.last else { break }
                before = last.id ?? 0
                for record in page {
                    let recordRegion = try kinds.entity(named: record.entity).flatMap { try Self.region(db, entity: $0, key: record.key, kinds: kinds) }
                    let owner = recordRegion ?? nodeRegion[record.node]
                    if owner == region || owner == Database.everyGroup { kept.append(record) }
                    if kept.count == limit { break }
                }
            }
            return kept.reversed()
        }
    }

    /// Carries out a customer move through the hub's API (same rules as a pushed move).
    public func move(_ request: MoveRequest) throws {
        defer { noteSyncActivity() }
        try pool.write { db in
            var hlc = try Self.hubHLC(db)
            hlc = HLC.tick(last: hlc, nowMillis: clock())
            let touched = try CustomerMove.execute(db, request, stamp: MergeStamp(hlc: hlc, node: "hub"), kinds: kinds,
                                                   siteRegion: { try Self.region(db, site: $0) })
            var feed = FeedEmitter(region: try Self.region(db, site: request.site) ?? "", keepsRegions: true, kinds: kinds)
            var positions = FeedPositions(next: try Self.nextFeedPosition(db))
            try feed.add(db, Array(touched), hlc: hlc, node: "hub", positions: &positions)
            try feed.write(db)
            try Self.setHubHLC(db, hlc)
        }
    }

    /// Recomputes balances on the hub.
    public func recalculateBalances() throws -> [CustomerBalance] {
        try pool.write { try Balances.recalculate($0) }
    }
}
