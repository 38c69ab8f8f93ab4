import Foundation
import GRDB
import SyncModel
import SyncStore

/// A replicated row changed by applying a change; the hub emits its new image to the feed.
public struct TouchedRow: Sendable, Hashable {
    public var entity: Entity
    public var key: String
    /// The row is now exactly the image the sending node wrote itself: a new row stored as
    /// sent, or that node's edit applied as sent to a row that was its own image (the row's
    /// `HubTable.feedEchoColumn`). That node already holds it, so its pulls may skip it.
    public var echo: Bool

    public init(_ entity: Entity, _ key: String, echo: Bool = false) {
        self.entity = entity
        self.key = key
        self.echo = echo
    }
}

/// Who sent a change and what the hub knows of that node while applying one push.
public struct ApplyContext: Sendable {
    public var node: String
    public var series: String
    public var site: String
    public var prefixRule: PrefixRule
    /// Renames of this node's partners and institutions the node has not applied yet (oldest
    /// first): codes in its entries are mapped through them.
    public var pendingRenames: [CodeRenaming]
    /// The hub's clock when the change is applied. Decisions the hub makes (customer moves)
    /// are stamped with it, so they beat every value the hub had already seen.
    public var hubHLC: HLC = .zero
    /// The hub's replication regions; nil when it has none (every node in the default region).
    public var regions: RegionScope?
    /// Feed positions for the rows the push writes (nil: the feed sets them afterwards).
    public var positions: FeedPositions?
    /// The record kinds the hub replicates.
    public var kinds: RecordKinds
    /// The change is the hub's own (central master data written at the hub), not a node's push.
    public var byHub = false
    /// The hub's own change writes the stores' kinds on their behalf (an erasure, a customer
    /// an external system transferred).
    public var storeRecords = false
    /// Whether the hub has erased anyone (`erasure` has rows), so a change of a partner or an
    /// address must be checked against the erasures. Read once per push; true is always safe.
    public var erasuresRecorded = true
    /// Whether the hub may have carried out a customer move (`move_alias` has rows), so a new
    /// document must be looked up there. The hub reads it once per push; true is always safe.
    public var movesRecorded = true

    public init(node: String, series: String, site: String, prefixRule: PrefixRule = .init(),
                pendingRenames: [CodeRenaming] = [], regions: RegionScope? = nil, kinds: RecordKinds = .standard) {
        self.node = node; self.series = series; self.site = site; self.kinds = kinds
        self.prefixRule = prefixRule; self.pendingRenames = pendingRenames; self.regions = regions
    }
}

/// What the hub knows of replication regions while it applies a node's push: a node may only
/// change records of its own region (it never receives others), and a customer move needs
/// both sites in one region (condition 8).
public struct RegionScope: Sendable {
    /// The pushing node's region.
    public var region: String
    /// The region of a site's nodes (nil: no node registered there).
    public var siteRegion: SiteRegion
    /// The region of a record at the hub (nil: no such record).
    public var recordRegion: @Sendable (Database, Entity, String) throws -> String?

    public init(region: String, siteRegion: @escaping SiteRegion,
                recordRegion: @escaping @Sendable (Database, Entity, String) throws -> String?) {
        self.region = region; self.siteRegion = siteRegion; self.recordRegion = recordRegion
    }

    /// Why `node` may not change a record of `entity`/`key` (nil: it may, or no such record).
    func refusal(_ db: Database, _ entity: Entity, _ key: String, node: String, what: String) throws -> String? {
        guard let other = try recordRegion(db, entity, key), other != region else { return nil }
        return "\(what): \(entity.rawValue) \(key) belongs to region '\(other)', node \(node) replicates region '\(region)'"
    }
}
