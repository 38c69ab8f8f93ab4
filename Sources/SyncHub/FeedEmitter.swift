import Foundation
import GRDB
import SyncModel
import SyncReconcile
import SyncStore

/// Feed positions, regions and tombstones of records, and the feed rows one transaction writes.
extension HubStore {
    /// The region of the nodes at `site`, nil when no node is registered there.
    static func region(_ db: Database, site: String) throws -> String? {
        if let region = try String.fetchOne(db.cachedStatement(sql: "SELECT region FROM hub_node WHERE site = ? LIMIT 1"), arguments: [site]) {
            return region
        }
        // A back office's site (its customers' addresses, `BOOKING`) is in the default region,
        // as the customers it transfers are: a move treats it as any site of that region.
        let system = try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS(SELECT 1 FROM hub_system WHERE upper(name) = ?)"), arguments: [site]) ?? false
        return system ? "" : nil
    }

    /// The region a record belongs to (its feed row's), nil when the hub has no such record.
    /// Within a push, a record an earlier change of the same push fed has a position whose
    /// feed row is added when the push ends: nil then. That change was the same node's and
    /// passed the same region check, so the region scope's verdicts do not change.
    static func region(_ db: Database, entity: Entity, key: String, kinds: RecordKinds) throws -> String? {
        try feedPosition(db, entity: entity, key: key, kinds: kinds).flatMap { try feedRegion(db, gseq: $0) }
    }

    /// The position of a record's current feed row: its row's `feed_gseq`, or its tombstone's
    /// when the row was removed (or is back and not fed yet); nil when the hub has never fed it.
    static func feedPosition(_ db: Database, entity: Entity, key: String, kinds: RecordKinds) throws -> Int64? {
        guard let table = kinds.table(entity) else { return nil }
        if let position = try table.hub.feedPosition(db, key: key), let position { return position }
        return try tombstone(db, entity: entity, key: key)
    }

    static func tombstone(_ db: Database, entity: Entity, key: String) throws -> Int64? {
        try db.firstRowCached("SELECT gseq FROM hub_tombstone WHERE entity = ? AND key = ?",
                              [entity.rawValue.databaseValue, key.databaseValue]).flatMap { Int64.fromDatabaseValue($0[0]) }
    }

    /// The region of the feed row at `gseq` (nil: no such row). The only part of a feed row
    /// the hub reads while applying: whether a row is a node's echo is kept in the record's
    /// row (`HubTable.feedEchoColumn`).
    static func feedRegion(_ db: Database, gseq: Int64) throws -> String? {
        try db.firstRowCached("SELECT region FROM hub_feed WHERE gseq = ?", [gseq.databaseValue]).map { String.fromDatabaseValue($0[0]) ?? "" }
    }

    /// The first position not handed out yet: one after the feed's counter row, which the
    /// feed rows of every transaction move (`advanceFeedCounter`) and which never goes back,
    /// so no position is handed out twice, also when the newest rows are removed.
    static func nextFeedPosition(_ db: Database) throws -> Int64 {
        (try Int64.fetchOne(db.cachedStatement(sql: "SELECT last FROM hub_feed_counter WHERE id = 1")) ?? 0) + 1
    }

    /// Moves the feed's counter to `position` (never back): the last statement of a
    /// transaction that wrote feed rows.
    static func advanceFeedCounter(_ db: Database, to position: Int64) throws {
        try db.runCached("UPDATE hub_feed_counter SET last = max(last, ?) WHERE id = 1", [position.databaseValue])
    }

    /// Keeps `sqlite_sequence` (AUTOINCREMENT's counter, the feed's counter before
    /// `hub_feed_counter`) at least at `sequence` while an old store's migrations rebuild the log.
    static func raiseFeedSequence(_ db: Database, to sequence: Int64) throws {
        try db.execute(sql: "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'hub_feed'", arguments: [sequence])
        if db.changesCount == 0, sequence > 0 {
            try db.execute(sql: "INSERT INTO sqlite_sequence (name, seq) VALUES ('hub_feed', ?)", arguments: [sequence])
        }
    }

    static func regionScope(_ region: String, kinds: RecordKinds) -> RegionScope {
        RegionScope(region: region, siteRegion: { try Self.region($0, site: $1) },
                    recordRegion: { try Self.region($0, entity: $1, key: $2, kinds: kinds) })
    }


    /// The feed rows of one hub transaction, written when it ends. A record touched by several
    /// changes of a push is written once, at the place of its last change, and the rows go in
    /// with multi-row INSERTs: per-statement work is paid once per chunk instead of once per
    /// change. Each row becomes its record's feed position (`HubTable.feedColumn`, or
    /// `hub_tombstone` when the row is gone) as its change is added, with its echo
    /// (`HubTable.feedEchoColumn`), so a later change of the same push finds both in the
    /// row; the record's earlier feed row stays in the log, superseded, until `sweepFeed`
    /// removes it. A record keeps the region it has in the feed; a new one gets `region`, the
    /// region of the node whose change created it. A hub without regions (`keepsRegions`
    /// false: every record in '') skips looking the region up.
    struct FeedEmitter {
        struct Entry {
            var entity: Entity, key: String, hlc: HLC, node: String
            /// The node's journal sequence when the feed row is that node's echo (`echo_seq`, see `feed`).
            var echoSeq: Int64?
            /// The feed row's position, and the record's position before this push, for its
            /// region (a new row: its tombstone's, if any).
            var gseq: Int64, before: FeedPositions.Prior
        }
        let region: String
        let keepsRegions: Bool
        let kinds: RecordKinds
        private var entries: [Entry?] = []
        private var position: [TouchedRow: Int] = [:]
        /// The rows the change being added wrote with positions (storage reused, see `FeedPositions.endChange`).
        private var written: [(row: TouchedRow, written: FeedPositions.Written)] = []

        /// `expected`: about how many records the transaction feeds (a push: its entries), so
        /// the entries and their index are not regrown and rehashed as they fill.
        init(region: String, keepsRegions: Bool, kinds: RecordKinds, expected: Int = 0) {
            self.region = region
            self.keepsRegions = keepsRegions
            self.kinds = kinds
            entries.reserveCapacity(expected)
            position.reserveCapacity(expected)
        }

        /// Rows changed by one change of `node` (journal sequence `seq`, nil for the hub's own
        /// moves), stamped with the hub's clock `hlc`. Sorted, so the feed is deterministic.
        /// `positions`: the rows the change wrote with a position (`FeedPositions.endChange`)
        /// keep it; the others get the next ones, set in their rows now.
        ///
        /// A row is an echo of `node` (its pulls skip it, see `feed`) when every mention of it
        /// in the change is one (`TouchedRow.echo`: stored exactly as sent, or the node's edit
        /// taken as sent on a row that was the node's own image).
        mutating func add(_ db: Database, _ touched: [TouchedRow], hlc: HLC, node: String, seq: Int64? = nil,
                          positions: inout FeedPositions) throws {
            positions.endChange(into: &written)
            let written = self.written
            // Most changes touch one row, the one they wrote with a position.
            if touched.count == 1, let t = touched.first, written.count <= 1, written.first.map({ $0.row.entity == t.entity && $0.row.key == t.key }) ?? true {
                return try add(db, t, slot: written.first?.written, hlc: hlc, node: node, seq: seq, positions: &positions)
            }
            var touched = touched
            // A row written with a position is fed whatever the change reported: a position
            // without its feed row would hide the record from pulls.
            for w in written where !touched.contains(where: { $0.entity == w.row.entity && $0.key == w.row.key }) {
                touched.append(w.row)
            }
            // One entry per record: an echo only if every mention of it in this change is one.
            var echoes: [TouchedRow: Bool] = [:]
            for t in touched {
                let id = TouchedRow(t.entity, t.key)
                echoes[id] = (echoes[id] ?? true) && t.echo
            }
            for (id, echo) in echoes.sorted(by: { ($0.key.entity.rawValue, $0.key.key) < ($1.key.entity.rawValue, $1.key.key) }) {
                try add(db, TouchedRow(id.entity, id.key, echo: echo), slot: written.first { $0.row == id }?.written,
                        hlc: hlc, node: node, seq: seq, positions: &positions)
            }
        }

        /// One record of `add`; `slot`: the change wrote its row with that position.
        private mutating func add(_ db: Database, _ record: TouchedRow, slot: FeedPositions.Written?, hlc: HLC, node: String, seq: Int64?,
                                  positions: inout FeedPositions) throws {
            let id = TouchedRow(record.entity, record.key)
            // The record's entry from an earlier change of this push, if any; this one takes its place.
            let earlier = position.updateValue(entries.count, forKey: id)
            let echoSeq = record.echo ? seq : nil
            let table = kinds.table(record.entity)
            // The record's position before this push: from its earlier entry in this push,
            // else as read with the row the change wrote, else read now (before the row takes
            // its new one below).
            let before: FeedPositions.Prior
            if let earlier, let e = entries[earlier] {
                before = e.before
                entries[earlier] = nil
            } else if let slot {
                before = slot.prior
            } else {
                before = .position(try HubStore.feedPosition(db, entity: record.entity, key: record.key, kinds: kinds))
            }
            let gseq: Int64
            if let slot {
                gseq = slot.position
                // The change wrote the row as an echo and another mention of it says otherwise.
                if slot.echo != (echoSeq != nil), let table {
                    try table.hub.setFeedEcho(db, key: record.key, echoNode: echoSeq == nil ? nil : node)
                }
            } else {
                gseq = positions.take()
                if try table?.hub.setFeedPosition(db, key: record.key, gseq, echoNode: echoSeq == nil ? nil : node) != true {
                    // No row: the record was removed (or never stored); its tombstone holds the position.
                    try db.runCached("INSERT INTO hub_tombstone (entity, key, gseq) VALUES (?, ?, ?) ON CONFLICT (entity, key) DO UPDATE SET gseq = excluded.gseq",
                                     [record.entity.rawValue.databaseValue, record.key.databaseValue, gseq.databaseValue])
                }
            }
            entries.append(Entry(entity: record.entity, key: record.key, hlc: hlc, node: node, echoSeq: echoSeq, gseq: gseq, before: before))
        }

        /// Statements of 64, 32, ..., 1 rows (at most 448 parameters, under SQLite's oldest
        /// limit of 999): any count is a few of them.
        static let chunkSQL: [(rows: Int, sql: String)] = (0...6).reversed().map { shift in
            let rows = 1 << shift
            return (rows, "INSERT INTO hub_feed (gseq, hlc, node, entity, key, echo_seq, region) VALUES "
                + Array(repeating: "(?, ?, ?, ?, ?, ?, ?)", count: rows).joined(separator: ", "))
        }

        /// The record's region before this push (nil: none, a new record).
        func priorRegion(_ db: Database, _ e: Entry) throws -> String? {
            let gseq: Int64?
            switch e.before {
            case .newRow: gseq = try HubStore.tombstone(db, entity: e.entity, key: e.key)
            case .position(let p): gseq = p
            }
            return try gseq.flatMap { try HubStore.feedRegion(db, gseq: $0) }
        }

        /// Appends the rows to the feed (their records hold their positions already). A record
        /// keeps its region; a new one gets `region`.
        func write(_ db: Database) throws {
            let rows = entries.compactMap { $0 }
            var values: [DatabaseValue] = []
            var start = 0
            while start < rows.count {
                let (n, sql) = Self.chunkSQL.first { $0.rows <= rows.count - start }!
                values.removeAll(keepingCapacity: true)
                for e in rows[start..<(start + n)] {
                    // A kind every store receives is in every region.
                    let recordRegion = kinds.kind(e.entity)?.scope == .chain ? Database.everyGroup
                        : keepsRegions ? try priorRegion(db, e) ?? region : region
                    values += [e.gseq.databaseValue, Int64(bitPattern: e.hlc.rawValue).databaseValue, e.node.databaseValue,
                               e.entity.rawValue.databaseValue, e.key.databaseValue, e.echoSeq.databaseValue, recordRegion.databaseValue]
                }
                try db.runCached(sql, values)
                start += n
            }
            if let last = rows.map(\.gseq).max() { try HubStore.advanceFeedCounter(db, to: last) }
        }
    }
}
