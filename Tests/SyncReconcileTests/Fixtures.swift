import Foundation
import GRDB
@testable import SyncHub
import SyncModel
import SyncNode
import SyncStore
import SyncTesting

/// A hub in a temporary folder with nodes registered, plus node stores syncing with it in-process.
final class World {
    let dir: TemporaryDirectory
    let hub: HubStore
    var stores: [String: NodeStore] = [:]

    /// `regions`: replication regions by node id (others are in the default region).
    init(nodes: [(id: String, site: String, series: String)] = [("A", "WAW", "K1"), ("B", "KRK", "K2"), ("C", "GDA", "K3")],
         separator: String = "-", regions: [String: String] = [:]) throws {
        dir = try TemporaryDirectory(prefix: "reconcile")
        hub = try HubStore(path: dir.file("hub.sqlite"), prefixRule: .init(separator: separator))
        for n in nodes { try addNode(n.id, site: n.site, series: n.series, region: regions[n.id] ?? "") }
    }

    /// Registers a node at the hub and creates its (empty) store.
    func addNode(_ id: String, site: String, series: String, region: String = "") throws {
        _ = try hub.addNode(node: id, site: site, series: series, region: region)
        stores[id] = try NodeStore.create(path: dir.file("\(id).sqlite"), node: id, site: site, series: series)
    }

    deinit { dir.remove() }

    func store(_ id: String) -> NodeStore { stores[id]! }

    /// One sync round of a node against the hub, through the real batch encoding.
    @discardableResult
    func sync(_ id: String) async throws -> SyncSummary {
        let transport = InProcessHubTransport(hub: hub, node: try hub.node(id))
        return try await SyncRound(store: store(id), transport: transport).run()
    }

    /// Syncs every node twice, so every node has seen every other node's changes.
    func syncAll() async throws {
        for _ in 0..<2 { for id in stores.keys.sorted() { try await sync(id) } }
    }

    func hashesAgree() throws -> Bool {
        let h = try hub.stateHash()
        return try stores.values.allSatisfy { try $0.stateHash() == h }
    }

    /// Pushes hand-made changes for a node straight to the hub.
    @discardableResult
    func push(_ id: String, _ changes: [Change], renamesApplied: Int64 = 0) throws -> PushReply {
        try hub.push(node: try hub.node(id), changes: changes, renamesApplied: renamesApplied)
    }
}

func consumer(_ code: String, first: String = "Anna", last: String = "Nowak") -> Partner {
    Partner(code: code, kind: .consumer, firstName: first, lastName: last, country: "PL")
}

func change(_ node: String, _ seq: Int64, hlc: UInt64, _ entity: Entity, _ key: String, _ op: ChangeOp, _ fields: Fields) -> Change {
    Change(seq: seq, hlc: HLC(rawValue: hlc), node: node, entity: entity, key: key, op: op, fields: fields)
}

/// Writes a hub file as an earlier release left it: migrated up to `version`, then `sql` run.
func writeOldHub(at path: String, upTo version: String, _ sql: String) throws {
    let old = try DatabasePool(path: path)
    try HubStore.migrator().migrate(old, upTo: version)
    try old.write { try $0.execute(sql: sql) }
    try old.close()
}
