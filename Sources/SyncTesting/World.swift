import Foundation
import Synchronization
import GRDB
import SyncHub
import SyncModel
import SyncNode
import SyncStore

/// A hub in a temporary folder with nodes registered, plus node stores syncing with it in-process.
public final class World {
    public let dir: TemporaryDirectory
    public private(set) var hub: HubStore
    public var stores: [String: NodeStore] = [:]
    /// The record kinds hub and stores replicate.
    public let kinds: RecordKinds

    /// `regions`: replication regions by node id (others are in the default region).
    public init(nodes: [(id: String, site: String, series: String)] = [("A", "WAW", "K1"), ("B", "KRK", "K2"), ("C", "GDA", "K3")],
                separator: String = "-", regions: [String: String] = [:], kinds: RecordKinds = .standard,
                hubClock: @escaping @Sendable () -> UInt64 = { HLC.nowMillis }) throws {
        dir = try TemporaryDirectory(prefix: "reconcile")
        self.kinds = kinds
        hub = try HubStore(path: dir.file("hub.sqlite"), prefixRule: .init(separator: separator), kinds: kinds, clock: hubClock)
        reopen = { path in try HubStore(path: path, prefixRule: .init(separator: separator), kinds: kinds, clock: hubClock) }
        for n in nodes { try addNode(n.id, site: n.site, series: n.series, region: regions[n.id] ?? "") }
    }

    /// Registers a node at the hub and creates its (empty) store.
    public func addNode(_ id: String, site: String, series: String, region: String = "") throws {
        _ = try hub.addNode(node: id, site: site, series: series, region: region)
        stores[id] = try NodeStore.create(path: dir.file("\(id).sqlite"), node: id, site: site, series: series, kinds: kinds)
    }

    deinit { dir.remove() }

    /// Opens a hub store at a path as this world's hub is opened.
    private let reopen: (String) throws -> HubStore

    /// A copy of the hub's database as it is now (what a file backup holds).
    public func backupHub(as name: String) throws -> String {
        let path = dir.file(name)
        try hub.pool.writeWithoutTransaction { try $0.execute(sql: "VACUUM INTO ?", arguments: [path]) }
        return path
    }

    /// The hub stopped and started again as `poshub serve` starts (a new epoch): on a copy of
    /// `backup` (a hub restored to an earlier point), or on its own store (nil).
    public func restartHub(from backup: String? = nil) throws {
        try hub.close()
        var path = dir.file("hub.sqlite")
        if let backup {
            path = dir.file("hub-restored-\(UUID().uuidString.prefix(8)).sqlite")
            try FileManager.default.copyItem(atPath: backup, toPath: path)
        }
        hub = try reopen(path)
        try hub.beginEpoch()
    }

    public func store(_ id: String) -> NodeStore { stores[id]! }

    /// One sync round of a node against the hub, through the real batch encoding.
    @discardableResult
    public func sync(_ id: String) async throws -> SyncSummary {
        let transport = InProcessHubTransport(hub: hub, node: try hub.node(id))
        return try await SyncRound(store: store(id), transport: transport).run()
    }

    /// Syncs every node twice, so every node has seen every other node's changes.
    public func syncAll() async throws {
        for _ in 0..<2 { for id in stores.keys.sorted() { try await sync(id) } }
    }

    public func hashesAgree() throws -> Bool {
        let h = try hub.stateHash()
        return try stores.values.allSatisfy { try $0.stateHash() == h }
    }

    /// Pushes hand-made changes for a node straight to the hub.
    @discardableResult
    public func push(_ id: String, _ changes: [Change], renamesApplied: Int64 = 0) throws -> PushReply {
        try hub.push(node: try hub.node(id), changes: changes, renamesApplied: renamesApplied)
    }
}

/// A wall clock a test sets (milliseconds since 1970), for dates such as due dates.
public final class SetClock: Sendable {
    private let millis: Synchronization.Atomic<UInt64>

    public init(day: String) { millis = .init(Self.millis(day)) }

    /// Midday UTC of `day` (`YYYY-MM-DD`).
    public static func millis(_ day: String) -> UInt64 {
        let f = ISO8601DateFormatter()
        return UInt64(f.date(from: day + "T12:00:00Z")!.timeIntervalSince1970 * 1000)
    }

    public func set(day: String) { millis.store(Self.millis(day), ordering: .relaxed) }

    public var now: @Sendable () -> UInt64 { { [self] in self.millis.load(ordering: .relaxed) } }
}

public func consumer(_ code: String, first: String = "Anna", last: String = "Nowak") -> Partner {
    Partner(code: code, kind: .consumer, firstName: first, lastName: last, country: "PL")
}

/// A chain's catalog for tests: a default and a school category, one
/// offer category of tickets, an adult ticket at 20.00, schools pay 12.50.
public func publishCatalog(_ hub: HubStore) throws {
    try hub.addCustomerCategory(code: "STD", name: "Standard", isDefault: true)
    try hub.addCustomerCategory(code: "SCH", name: "Schools")
    try hub.addOfferCategory(code: "TIX", name: "Tickets")
    try hub.addOffer(code: "ADULT", name: "Adult ticket", offerCategory: "TIX", priceMinor: 2000, currency: "PLN", articleCode: "4711")
    try hub.setPrice(customerCategory: "SCH", offerCategory: "TIX", amountMinor: 1250, currency: "PLN")
}

public func change(_ node: String, _ seq: Int64, hlc: UInt64, _ entity: Entity, _ key: String, _ op: ChangeOp, _ fields: Fields) -> Change {
    Change(seq: seq, hlc: HLC(rawValue: hlc), node: node, entity: entity, key: key, op: op, fields: fields)
}


/// The hub's row of partner `code` (nil: none).
public func hubPartner(_ world: World, _ code: String) throws -> Fields? {
    try world.hub.pool.read { try ReplicatedTable.partner.fetch($0, key: code) }
}
