import Foundation
import GRDB
import SyncModel
import SyncReconcile
import SyncStore

extension HubStore {
    /// The node name the hub's own changes carry (feed rows, merge stamps, audit).
    public static let hubNode = "hub"

    /// One change the hub makes to its own records (`write(_:)`).
    public struct CentralChange: Sendable {
        public var entity: Entity
        public var op: ChangeOp
        /// nil: taken from the key columns in `fields`.
        public var key: String?
        public var fields: Fields
        /// What `Reconciler.prepare` made of the change, when its caller checked it already
        /// (nil: prepared when it is applied).
        public var prepared: PreparedChange?

        public init(_ entity: Entity, _ op: ChangeOp, key: String? = nil, fields: Fields, prepared: PreparedChange? = nil) {
            self.entity = entity; self.op = op; self.key = key; self.fields = fields; self.prepared = prepared
        }
    }

    /// Writes a record of a kind the hub may write (`RecordKind.Writers.hub`: central master
    /// data such as categories and prices), by its declaration, as the hub's own change: the
    /// same reconciler as a push (column checks, validation, references, field-level merge with
    /// the hub's clock), fed to every store that receives the kind. `key`: nil takes it from
    /// the key columns in `fields`. A refusal throws `HubError.refused` and changes nothing.
    @discardableResult
    public func write(_ entity: Entity, op: ChangeOp, key: String? = nil, fields: Fields) throws -> EntryResult {
        try write { _ in [CentralChange(entity, op, key: key, fields: fields)] }[0]
    }

    /// Writes the changes `plan` gives, in one transaction: `plan` reads the hub's records
    /// inside it (what is there decides what to write, such as the next price version), and a
    /// refusal of any change throws `HubError` and writes none of them.
    /// `storeRecords`: the hub writes records of the stores' kinds on the stores' behalf: an
    /// erasure (`HubStore.erase`) or a customer an external system transferred
    /// (`HubStore.transferCustomers`); `after` runs in the same transaction once they are applied.
    /// `erasing`: an erasure's transaction (`HubDatabase.write(erasing:)`).
    @discardableResult
    public func write(storeRecords: Bool = false, erasing: Bool = false, _ plan: (Database) throws -> [CentralChange],
                      after: (Database) throws -> Void = { _ in }) throws -> [EntryResult] {
        defer { noteSyncActivity() }
        return try pool.write(erasing: erasing) { db in
            let changes = try plan(db)
            var hlc = try Self.hubHLC(db)
            var context = ApplyContext(node: Self.hubNode, series: "", site: "", prefixRule: prefixRule, kinds: kinds)
            context.byHub = true
            context.storeRecords = storeRecords
            context.positions = FeedPositions(next: try Self.nextFeedPosition(db))
            var feed = FeedEmitter(region: "", keepsRegions: true, kinds: kinds)
            var results: [EntryResult] = []
            for c in changes {
                guard let kind = kinds.kind(c.entity), let table = ReplicatedTable.of(kind) else {
                    throw HubError.refused("no record kind \(c.entity.rawValue) is stored at this hub")
                }
                let key: String
                do { key = try c.key ?? table.key(ofImage: c.fields) } catch let e as FieldError {
                    throw HubError.invalid(e)
                }
                hlc = HLC.tick(last: hlc, nowMillis: clock())
                context.hubHLC = hlc
                let change = Change(seq: 0, hlc: hlc, node: Self.hubNode, entity: c.entity, key: key, op: c.op, fields: c.fields)
                let (result, touched) = try Reconciler.apply(db, change: change, prepared: c.prepared, context: &context)
                guard result.outcome == .applied else { throw HubError.refused(result.reason ?? "\(c.entity.rawValue) \(key) refused") }
                try feed.add(db, touched, hlc: hlc, node: Self.hubNode, positions: &context.positions!)
                results.append(result)
            }
            try feed.write(db)
            try Self.setHubHLC(db, hlc)
            try after(db)
            return results
        }
    }

    /// A record of any stored kind by its key (nil: none).
    public func record(_ entity: Entity, key: String) throws -> Fields? {
        guard let table = kinds.table(entity) else { throw HubError.refused("no record kind \(entity.rawValue) is stored at this hub") }
        return try pool.read { try table.fetch($0, key: key) }
    }
}
