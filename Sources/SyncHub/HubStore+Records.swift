import Foundation
import GRDB
import SyncModel
import SyncReconcile
import SyncStore

extension HubStore {
    /// The node name the hub's own changes carry (feed rows, merge stamps, audit).
    public static let hubNode = "hub"

    /// Writes a record of a kind the hub may write (`RecordKind.Writers.hub`: central master
    /// data such as categories and prices), by its declaration, as the hub's own change: the
    /// same reconciler as a push (column checks, validation, field-level merge with the hub's
    /// clock), fed to every store that receives the kind. `key`: nil takes it from the key
    /// columns in `fields`. A refusal throws `HubError.refused` and changes nothing.
    @discardableResult
    public func write(_ entity: Entity, op: ChangeOp, key given: String? = nil, fields: Fields) throws -> EntryResult {
        guard let kind = kinds.kind(entity), let table = ReplicatedTable.of(kind) else {
            throw HubError.refused("no record kind \(entity.rawValue) is stored at this hub")
        }
        let key: String
        do { key = try given ?? table.key(of: table.presentColumns(fields).map { $0 ?? .null }) } catch let e as FieldError {
            throw HubError.invalid(e)
        }
        defer { lastPushNanos.store(DispatchTime.now().uptimeNanoseconds, ordering: .relaxed) }
        return try pool.write { db in
            let hlc = HLC.tick(last: try Self.hubHLC(db), nowMillis: clock())
            let change = Change(seq: 0, hlc: hlc, node: Self.hubNode, entity: entity, key: key, op: op, fields: fields)
            var context = ApplyContext(node: Self.hubNode, series: "", site: "", prefixRule: prefixRule, kinds: kinds)
            context.byHub = true
            context.hubHLC = hlc
            context.positions = FeedPositions(next: try Self.nextFeedPosition(db))
            let (result, touched) = try Reconciler.apply(db, change: change, context: &context)
            guard result.outcome == .applied else { throw HubError.refused(result.reason ?? "\(entity.rawValue) \(key) refused") }
            var feed = FeedEmitter(region: "", keepsRegions: true, kinds: kinds)
            try feed.add(db, touched, hlc: hlc, node: Self.hubNode, positions: &context.positions!)
            try feed.write(db)
            try Self.setHubHLC(db, hlc)
            return result
        }
    }

    /// A record of any stored kind by its key (nil: none).
    public func record(_ entity: Entity, key: String) throws -> Fields? {
        guard let table = kinds.table(entity) else { throw HubError.refused("no record kind \(entity.rawValue) is stored at this hub") }
        return try pool.read { try table.fetch($0, key: key) }
    }
}
