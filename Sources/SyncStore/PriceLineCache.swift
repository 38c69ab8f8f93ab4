import GRDB
import Synchronization

/// What prices a line at a store — the offer's columns with its price cell for the customer
/// category, and the price table's version — kept in memory between sales, so a sale reads
/// each offer once, not once per line of every sale.
///
/// Those rows are the store's replica of the hub's catalog, which a store never writes
/// itself (`RecordKind.writers`, docs/rules.md). They change only when this store applies
/// a feed page (`NodeStore.applyFeed` drops what is kept) or when another connection commits,
/// a `posnode sync` beside `posnode serve` for instance, which SQLite reports through
/// `PRAGMA data_version` on the store's writer connection: every sale reads it first and drops
/// what is kept when it moved. So it is used in the writer's transactions only (a sale); the
/// readers' connections (`NodeStore.quote`) read the tables.
///
/// Measured (perf, 40,000 orders of 5 lines, release build): reading the offer and its cell
/// for each line took 8.6 µs of an order's 28 µs of CPU time in the store, and the table's
/// version 1 µs more. With the rows kept, `posbench --only order` went from 0.57–0.60× (three
/// runs) to 0.63–0.67× (six runs, 0.66× in a full run).
final class PriceLineCache: Sendable {
    struct Key: Hashable {
        var category: String?
        var offer: String
    }

    private struct State {
        /// `PRAGMA data_version` of the writer connection when the rows were read (nil: none read).
        var dataVersion: Int64?
        var rows: [Key: [DatabaseValue]] = [:]
        var priceTableVersion: Int64?
        /// Whether a customer category is active, by code.
        var categories: [String: Bool] = [:]
    }

    private let state = Mutex(State())

    /// At most this many offer and category pairs are kept; past it they are read afresh.
    static let capacity = 4_096

    /// Drops what is kept when another connection committed since it was read. Called at the
    /// start of a sale, in the writer's transaction.
    func validate(_ db: Database) throws {
        let version = try FastStatement.fetchFirst(db.cachedStatement(sql: "PRAGMA data_version"), []).flatMap { Int64.fromDatabaseValue($0[0]) }
        state.withLock { s in
            if s.dataVersion != version || version == nil { s = State(dataVersion: version) }
        }
    }

    /// Whether customer category `code` is active: kept, or `read`'s (kept).
    func categoryActive(_ code: String, read: () throws -> Bool) rethrows -> Bool {
        if let kept = state.withLock({ $0.categories[code] }) { return kept }
        let active = try read()
        state.withLock { s in
            guard s.dataVersion != nil, s.categories.count < Self.capacity else { return }
            s.categories[code] = active
        }
        return active
    }

    /// Drops everything kept (this connection is about to change the catalog).
    func invalidate() {
        state.withLock { $0 = State() }
    }

    /// The kept row of `key`, or `read`'s (kept when there is one).
    func row(_ key: Key, read: () throws -> [DatabaseValue]?) rethrows -> [DatabaseValue]? {
        if let kept = state.withLock({ $0.rows[key] }) { return kept }
        guard let row = try read() else { return nil }
        state.withLock { s in
            guard s.dataVersion != nil else { return }
            if s.rows.count >= Self.capacity { s.rows.removeAll(keepingCapacity: true) }
            s.rows[key] = row
        }
        return row
    }

    /// The kept price table version, or `read`'s.
    func priceTableVersion(read: () throws -> Int64) rethrows -> Int64 {
        if let kept = state.withLock({ $0.priceTableVersion }) { return kept }
        let version = try read()
        state.withLock { s in if s.dataVersion != nil { s.priceTableVersion = version } }
        return version
    }
}
