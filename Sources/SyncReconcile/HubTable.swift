import Foundation
import GRDB
import GRDBSQLite
import Synchronization
import SyncModel
import SyncStore

/// The hub's side of a replicated table: the columns only the hub's schema adds to it
/// (`HubSchema`: merge clocks, feed position and echo; node stores do not have them) and the
/// statements that read and write them together with the row, built once per table. The
/// store layer node and hub share (`ReplicatedTable`) knows nothing of them.
public final class HubTable: Sendable {
    public let table: ReplicatedTable
    var name: String { table.name }
    var columns: [String] { table.columns }
    var columnTypes: [ReplicatedTable.ColumnType] { table.columnTypes }
    var keyPredicate: String { table.keyPredicate }
    // SQL built once per table.
    private let clockedUpsertSQL: String
    private let clockedInsertSQL: String
    private let selectWithClocksSQL: String
    private let selectWithFeedSQL: String
    private let feedPositionSQL: String
    private let setFeedPositionSQL: String
    private let setFeedEchoSQL: String
    /// The columns a hub row is inserted with (`insert`) and their parameter marks.
    private let clockedColumnList: String, clockedMarks: String

    private init(_ table: ReplicatedTable) {
        self.table = table
        let name = table.name, columns = table.columns, keyColumns = table.keyColumns, keyPredicate = table.keyPredicate
        let list = columns.joined(separator: ", ")
        let updates = columns.filter { !keyColumns.contains($0) }.map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
        let clocks = Self.clockColumns, feed = Self.feedColumn, echo = Self.feedEchoColumn
        clockedColumnList = (columns + clocks + [feed, echo]).joined(separator: ", ")
        clockedMarks = Array(repeating: "?", count: columns.count + clocks.count + 2).joined(separator: ", ")
        let clockedInsert = "INSERT INTO \(name) (\(clockedColumnList)) VALUES (\(clockedMarks)) "
            + "ON CONFLICT(\(keyColumns.joined(separator: ", "))) "
        // A row written again without a position keeps the one it has, and its echo (the feed sets them).
        clockedUpsertSQL = clockedInsert + "DO UPDATE SET " + (updates.isEmpty ? "" : "\(updates), ") + clocks.map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
            + ", \(echo) = CASE WHEN excluded.\(feed) IS NULL THEN \(echo) ELSE excluded.\(echo) END"
            + ", \(feed) = coalesce(excluded.\(feed), \(feed))"
        clockedInsertSQL = clockedInsert + "DO NOTHING"
        selectWithClocksSQL = Self.selectWithClocks(columns, from: name, where: keyPredicate)
        selectWithFeedSQL = "SELECT \(list), \(Self.feedColumn) FROM \(name) WHERE \(keyPredicate)"
        feedPositionSQL = "SELECT \(Self.feedColumn) FROM \(name) WHERE \(keyPredicate)"
        setFeedPositionSQL = "UPDATE \(name) SET \(Self.feedColumn) = ?, \(Self.feedEchoColumn) = ? WHERE \(keyPredicate)"
        setFeedEchoSQL = "UPDATE \(name) SET \(Self.feedEchoColumn) = ? WHERE \(keyPredicate)"
    }

    public static let partner = HubTable(.partner)
    public static let address = HubTable(.address)
    public static let document = HubTable(.document)

    /// The hub's side of `table`: the standard tables' without a lookup, a declared kind's
    /// built once.
    public static func of(_ table: ReplicatedTable) -> HubTable {
        if table === ReplicatedTable.partner { return .partner }
        if table === ReplicatedTable.address { return .address }
        if table === ReplicatedTable.document { return .document }
        return declared.withLock { tables in
            if let t = tables[ObjectIdentifier(table)] { return t }
            let t = HubTable(table)
            tables[ObjectIdentifier(table)] = t
            return t
        }
    }

    /// The hub's sides of declared kinds' tables (each holds its table, so an identifier is not reused).
    private static let declared = Mutex<[ObjectIdentifier: HubTable]>([:])

    /// The hub's merge clocks, kept in the replicated row itself (added by the hub's schema;
    /// node stores do not have them): the stamp of the row's creation (`clock_hlc`,
    /// `clock_node`) and the stamps of fields changed since (`clock_fields`). Written with the
    /// row, so a change costs no separate clock rows (see `HubSchema.registerRowClocks`).
    public static let clockColumns = ["clock_hlc", "clock_node", fieldClocksColumn]

    /// The column of the stamps of fields changed since the row's creation (`clockColumns`).
    public static let fieldClocksColumn = "clock_fields"

    /// The hub's columns of a row, as `fetchWithClocks` reads them beside its values.
    public struct HubColumns: Sendable {
        /// `clock_hlc` and `clock_node`: the stamp of the row's creation.
        public var createdHLC: DatabaseValue, createdNode: DatabaseValue
        /// `clock_fields`: the stamps of fields changed since.
        public var fieldClocks: DatabaseValue
        /// `feed_gseq`: the row's feed position.
        public var position: Int64?
        /// `feed_echo`: the node whose echo the row's feed row is (see `feedEchoColumn`).
        public var echoNode: String?
        /// The row's SQLite rowid: `setMerged` writes the row it read without finding its key again.
        public var rowid: Int64
    }

    /// The hub's feed position of a row: the global sequence of its latest change (added by the
    /// hub's schema, see `HubSchema`). The hub's feed is a log of changes; a log row whose
    /// sequence is not its record's `feed_gseq` has been superseded.
    public static let feedColumn = "feed_gseq"

    /// The node whose own image the row's current feed row is (the feed row's `node` when its
    /// `echo_seq` is set), NULL otherwise (hub only): written with every feed position, so a
    /// node's edit of its own row finds whether the row is still that node's image in the row
    /// it reads for the merge, instead of reading the feed row (see `HubStore.FeedEmitter`).
    public static let feedEchoColumn = "feed_echo"

    /// Inserts a row (`storedValues` of its image) with the hub's clock columns
    /// (`clockColumns`): the stamp of its creation and no field stamps; and its feed position
    /// (`feedColumn`; nil: the feed sets it, and a row written again keeps the one it has).
    /// `replacing`: a row that already exists is overwritten, clocks too, so nothing of it is
    /// left; otherwise it is kept as it is and false is returned. `ifExists` (not replacing):
    /// the row also needs a row of that table with that key (a document its partner), in the
    /// same statement; false then also when that one does not exist (the caller tells which).
    @discardableResult
    public func insert(_ db: Database, stored values: [DatabaseValue], createdHLC: Int64, createdNode: String, position: Int64? = nil,
                       echoNode: String? = nil, replacing: Bool, ifExists required: (table: ReplicatedTable, key: String)? = nil) throws -> Bool {
        precondition(!replacing || required == nil, "a row that needs another is inserted, not replaced")
        let statement: Statement
        var requiredKeys: [DatabaseValue] = []
        if let required {
            let other = required.table
            statement = try requiringStatements.statement(db, for: UInt64(other.entity.code)) {
                // The WHERE keeps SQLite from reading ON CONFLICT as a join's ON.
                return "INSERT INTO \(name) (\(clockedColumnList)) SELECT \(clockedMarks) "
                    + "WHERE EXISTS (SELECT 1 FROM \(other.name) WHERE \(other.keyPredicate)) "
                    + "ON CONFLICT(\(table.keyColumns.joined(separator: ", "))) DO NOTHING"
            }
            requiredKeys = try other.keyValues(required.key)
        } else {
            statement = try db.cachedStatement(sql: replacing ? clockedUpsertSQL : clockedInsertSQL)
        }
        return try FastStatement.run(statement) { b in
            try b.bind(values)
            try b.bind(createdHLC)
            try b.bind(createdNode)
            try b.bind(nil as String?)
            try b.bind(position)
            try b.bind(position == nil ? nil : echoNode)
            try b.bind(requiredKeys)
        } > 0
    }

    /// `insert`'s statements with `ifExists`, by the other table.
    private let requiringStatements = StatementTexts()

    /// A row's values in column order, and the hub's clock columns and feed position, in one read.
    public func fetchWithClocks(_ db: Database, key: String) throws -> (values: [FieldValue], clocks: HubColumns)? {
        try fetchWithClocks(db, key: key, only: nil)
    }

    /// `fetchWithClocks` reading only the columns at positions `wanted` (nil: all); the others
    /// read as null. An edit that no validation needs the whole row for reads what it merges.
    public func fetchWithClocks(_ db: Database, key: String, only wanted: [Int]?) throws -> (values: [FieldValue], clocks: HubColumns)? {
        var mask: UInt64 = 0
        if let wanted { for i in wanted { mask |= 1 << UInt64(i) } } else { mask = (1 << UInt64(columns.count)) - 1 }
        let statement = try wanted == nil ? db.cachedStatement(sql: selectWithClocksSQL) : partialSelects.statement(db, for: mask) {
            Self.selectWithClocks((0..<columns.count).filter { mask & (1 << UInt64($0)) != 0 }.map { columns[$0] }, from: name, where: keyPredicate)
        }
        return try FastStatement.fetchFirst(statement, table.keyValues(key)) { s in
            // Read into fields directly, as `value(_:type:)` reads a value.
            var values = [FieldValue](repeating: .null, count: columns.count)
            var c: Int32 = 0
            for (i, type) in columnTypes.enumerated() where mask & (1 << UInt64(i)) != 0 {
                switch sqlite3_column_type(s, c) {
                case SQLITE_NULL: break
                case SQLITE_INTEGER:
                    let n = sqlite3_column_int64(s, c)
                    switch type {
                    case .bool: values[i] = .bool(n != 0)
                    case .int: values[i] = .int(n)
                    case .text: values[i] = .text(String(n))
                    }
                default: values[i] = table.value(FastStatement.column(s, c), type: type)
                }
                c += 1
            }
            // Then clockColumns in their order, feedColumn, feedEchoColumn and the rowid.
            return (values, HubColumns(createdHLC: FastStatement.column(s, c), createdNode: FastStatement.column(s, c + 1),
                                       fieldClocks: FastStatement.column(s, c + 2),
                                       position: sqlite3_column_type(s, c + 3) == SQLITE_INTEGER ? sqlite3_column_int64(s, c + 3) : nil,
                                       echoNode: String.fromDatabaseValue(FastStatement.column(s, c + 4)),
                                       rowid: sqlite3_column_int64(s, c + 5)))
        }
    }

    /// The read of `fetchWithClocks`: `read`, then the clock columns in their order, the feed
    /// position, its echo and the rowid (the order its reader takes them in).
    private static func selectWithClocks(_ read: [String], from table: String, where predicate: String) -> String {
        "SELECT \((read + clockColumns + [feedColumn, feedEchoColumn, "rowid"]).joined(separator: ", ")) FROM \(table) WHERE \(predicate)"
    }

    /// `fetchWithClocks(_:key:only:)`'s statements, by the mask of columns they read.
    private let partialSelects = StatementTexts()

    /// A row's image and its feed position (`feedColumn`, hub only), in one read.
    public func fetchWithFeedPosition(_ db: Database, key: String) throws -> (image: Fields, position: Int64?)? {
        guard let row = try FastStatement.fetchFirst(db.cachedStatement(sql: selectWithFeedSQL), table.keyValues(key)) else { return nil }
        return (table.fields { row[$0] }, Int64.fromDatabaseValue(row[columns.count]))
    }

    /// A row's feed position (hub only): nil when the row does not exist, `.some(nil)` when
    /// it has none.
    public func feedPosition(_ db: Database, key: String) throws -> Int64?? {
        guard let row = try FastStatement.fetchFirst(db.cachedStatement(sql: feedPositionSQL), table.keyValues(key)) else { return nil }
        return .some(Int64.fromDatabaseValue(row[0]))
    }

    /// Sets a row's feed position and its echo (`feedEchoColumn`, hub only); false when the
    /// row does not exist.
    @discardableResult
    public func setFeedPosition(_ db: Database, key: String, _ gseq: Int64, echoNode: String?) throws -> Bool {
        try FastStatement.execute(db.cachedStatement(sql: setFeedPositionSQL), [gseq.databaseValue, echoNode.databaseValue] + table.keyValues(key)) > 0
    }

    /// Sets a row's echo alone (`feedEchoColumn`, hub only).
    public func setFeedEcho(_ db: Database, key: String, echoNode: String?) throws {
        try FastStatement.execute(db.cachedStatement(sql: setFeedEchoSQL), [echoNode.databaseValue] + table.keyValues(key))
    }

    /// Writes a merge's outcome into an existing row (hub only), the row `fetchWithClocks`
    /// read as `rowid` in the same transaction: the columns that took new values (by position
    /// in `columns`, each at most once), the row's field stamps (`fieldClocksColumn`), and its
    /// feed position and echo when given. The statement for each set of columns is built once
    /// (`update` builds its text on every call; see `StatementTexts`).
    @discardableResult
    public func setMerged(_ db: Database, rowid: Int64, columns changed: [(column: Int, value: FieldValue)], fieldClocks: String,
                          position: Int64?, echoNode: String? = nil) throws -> Bool {
        var mask: UInt64 = position == nil ? 0 : 1 << 63
        for c in changed { mask |= 1 << UInt64(c.column) }
        let statement = try mergeStatements.statement(db, for: mask) {
            let sets = (0..<columns.count).filter { mask & (1 << UInt64($0)) != 0 }.map { "\(columns[$0]) = ?" }
                + ["\(Self.fieldClocksColumn) = ?"] + (position == nil ? [] : ["\(Self.feedColumn) = ?", "\(Self.feedEchoColumn) = ?"])
            return "UPDATE \(name) SET \(sets.joined(separator: ", ")) WHERE rowid = ?"
        }
        return try FastStatement.run(statement) { b in
            for i in 0..<columns.count where mask & (1 << UInt64(i)) != 0 {
                try b.bind(table.dbValue(changed.first { $0.column == i }!.value, type: columnTypes[i]))
            }
            try b.bind(fieldClocks)
            if let position {
                try b.bind(position)
                try b.bind(echoNode)
            }
            try b.bind(rowid)
        } > 0
    }

    /// `setMerged`'s statements, by the mask of columns they set.
    private let mergeStatements = StatementTexts()
}

extension ReplicatedTable {
    /// The hub's side of the table (`HubTable`).
    public var hub: HubTable { HubTable.of(self) }
}
