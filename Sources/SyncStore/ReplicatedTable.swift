import Foundation
import GRDB
import GRDBSQLite
import Synchronization
import SyncModel

/// A table whose rows are replicated between nodes and hub, and what its columns hold. A class:
/// the hot paths pass the three shared descriptions around, and copying a struct of a dozen
/// arrays and strings (retaining each) cost about 3 % of the hub's apply.
public final class ReplicatedTable: Sendable, Hashable {
    public enum ColumnType: Sendable, Hashable { case text, int, bool }

    /// The declaration the table is built from.
    public let kind: RecordKind
    public let entity: Entity
    public let name: String
    /// Column names, in the table's own column order (a test checks it), so rows are read by position.
    public let columns: [String]
    public let keyColumns: [String]
    public let types: [String: ColumnType]
    let columnTypes: [ColumnType]
    /// Each column's position in `columns`.
    public let columnIndex: [String: Int]
    // SQL built once per table.
    private let selectSQL: String
    private let existsSQL: String
    private let upsertSQL: String
    private let deleteSQL: String
    private let keyPredicate: String
    private let clockedUpsertSQL: String
    private let clockedInsertSQL: String
    private let selectWithClocksSQL: String
    private let selectWithFeedSQL: String
    private let feedPositionSQL: String
    private let setFeedPositionSQL: String
    private let setFeedEchoSQL: String
    /// The columns a hub row is inserted with (`insert`) and their parameter marks.
    private let clockedColumnList: String, clockedMarks: String

    private init(kind: RecordKind) {
        precondition(kind.table != nil, "\(kind.entity) is not kept in a table")
        self.kind = kind
        entity = kind.entity
        let name = kind.table!, columns = kind.columnNames, keyColumns = kind.key
        self.name = name
        self.columns = columns
        self.keyColumns = keyColumns
        var types: [String: ColumnType] = [:]
        for c in kind.columns {
            switch c.spec {
            case .text: types[c.name] = .text
            case .int: types[c.name] = .int
            case .bool: types[c.name] = .bool
            }
        }
        self.types = types
        columnTypes = columns.map { types[$0] ?? .text }
        columnIndex = Dictionary(uniqueKeysWithValues: columns.enumerated().map { ($1, $0) })
        keyIndices = keyColumns.map { key in columns.firstIndex(of: key)! }
        precondition(columns.count < 63, "setMerged keeps a table's columns in a 64-bit mask")
        keyPredicate = keyColumns.map { "\($0) = ?" }.joined(separator: " AND ")
        let list = columns.joined(separator: ", ")
        selectSQL = "SELECT \(list) FROM \(name) WHERE \(keyPredicate)"
        existsSQL = "SELECT EXISTS(SELECT 1 FROM \(name) WHERE \(keyPredicate))"
        let marks = Array(repeating: "?", count: columns.count).joined(separator: ", ")
        let updates = columns.filter { !keyColumns.contains($0) }.map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
        upsertSQL = "INSERT INTO \(name) (\(list)) VALUES (\(marks)) ON CONFLICT(\(keyColumns.joined(separator: ", "))) DO UPDATE SET \(updates)"
        deleteSQL = "DELETE FROM \(name) WHERE \(keyPredicate)"
        let clocks = Self.clockColumns, feed = Self.feedColumn, echo = Self.feedEchoColumn
        clockedColumnList = (columns + clocks + [feed, echo]).joined(separator: ", ")
        clockedMarks = Array(repeating: "?", count: columns.count + clocks.count + 2).joined(separator: ", ")
        let clockedInsert = "INSERT INTO \(name) (\(clockedColumnList)) VALUES (\(clockedMarks)) "
            + "ON CONFLICT(\(keyColumns.joined(separator: ", "))) "
        // A row written again without a position keeps the one it has, and its echo (the feed sets them).
        clockedUpsertSQL = clockedInsert + "DO UPDATE SET \(updates), " + clocks.map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
            + ", \(echo) = CASE WHEN excluded.\(feed) IS NULL THEN \(echo) ELSE excluded.\(echo) END"
            + ", \(feed) = coalesce(excluded.\(feed), \(feed))"
        clockedInsertSQL = clockedInsert + "DO NOTHING"
        selectWithClocksSQL = Self.selectWithClocks(columns, from: name, where: keyPredicate)
        selectWithFeedSQL = "SELECT \(list), \(Self.feedColumn) FROM \(name) WHERE \(keyPredicate)"
        feedPositionSQL = "SELECT \(Self.feedColumn) FROM \(name) WHERE \(keyPredicate)"
        setFeedPositionSQL = "UPDATE \(name) SET \(Self.feedColumn) = ?, \(Self.feedEchoColumn) = ? WHERE \(keyPredicate)"
        setFeedEchoSQL = "UPDATE \(name) SET \(Self.feedEchoColumn) = ? WHERE \(keyPredicate)"
    }

    /// The hub's merge clocks, kept in the replicated row itself (added by the hub's schema;
    /// node stores do not have them): the stamp of the row's creation (`clock_hlc`,
    /// `clock_node`) and the stamps of fields changed since (`clock_fields`). Written with the
    /// row, so a change costs no separate clock rows (see `Reconciler.registerRowClocks`).
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
    /// hub's schema, see `HubStore`). The hub's feed is a log of changes; a log row whose
    /// sequence is not its record's `feed_gseq` has been superseded.
    public static let feedColumn = "feed_gseq"

    /// The node whose own image the row's current feed row is (the feed row's `node` when its
    /// `echo_seq` is set), NULL otherwise (hub only): written with every feed position, so a
    /// node's edit of its own row finds whether the row is still that node's image in the row
    /// it reads for the merge, instead of reading the feed row (see `HubStore.FeedEmitter`).
    public static let feedEchoColumn = "feed_echo"

    /// An SQL expression for a row's replication key (`code`, `code|site|seq`, `id`), table-qualified.
    public var keySQL: String { keyColumns.map { "\(name).\($0)" }.joined(separator: " || '|' || ") }

    public static func == (a: ReplicatedTable, b: ReplicatedTable) -> Bool { a.name == b.name }
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }

    public static let partner = ReplicatedTable(kind: .partner)
    public static let address = ReplicatedTable(kind: .address)
    public static let document = ReplicatedTable(kind: .document)

    /// The table of a stored kind (nil: a request such as a move, not kept in a table). Built
    /// once per declaration; the standard kinds' tables without a lookup.
    public static func of(_ kind: RecordKind) -> ReplicatedTable? {
        if kind === RecordKind.partner { return .partner }
        if kind === RecordKind.address { return .address }
        if kind === RecordKind.document { return .document }
        guard kind.table != nil else { return nil }
        return declared.withLock { tables in
            if let t = tables[ObjectIdentifier(kind)] { return t }
            let t = ReplicatedTable(kind: kind)
            tables[ObjectIdentifier(kind)] = t
            return t
        }
    }

    /// Tables of declared kinds, by declaration (each table holds its kind, so an identifier is not reused).
    private static let declared = Mutex<[ObjectIdentifier: ReplicatedTable]>([:])

    public func type(of column: String) -> ColumnType { types[column] ?? .text }

    /// The replication key of a row given in column order: the key columns' values joined
    /// by `|` (nil when one is missing).
    public func key(of values: [FieldValue]) -> String? {
        var parts: [String] = []
        for i in keyIndices {
            switch values[i] {
            case .text(let s): parts.append(s)
            case .int(let n): parts.append(String(n))
            case .bool(let b): parts.append(b ? "1" : "0")
            case .null: return nil
            }
        }
        return parts.joined(separator: "|")
    }

    /// The key columns' values parsed from a replication key.
    public func keyFields(_ key: String) throws -> Fields {
        if keyColumns.count == 1 && type(of: keyColumns[0]) == .text { return [keyColumns[0]: .text(key)] }
        let parts = key.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == keyColumns.count else { throw StoreError.badKey(entity: entity, key: key) }
        var f: Fields = [:]
        for (c, p) in zip(keyColumns, parts) {
            if type(of: c) == .int {
                guard let i = Int64(p) else { throw StoreError.badKey(entity: entity, key: key) }
                f[c] = .int(i)
            } else {
                f[c] = .text(p)
            }
        }
        return f
    }

    /// The SQLite value of a field in `column`.
    public func databaseValue(_ v: FieldValue?, column: String) -> DatabaseValue { dbValue(v, column: column) }

    func dbValue(_ v: FieldValue?, column: String) -> DatabaseValue { dbValue(v, type: type(of: column)) }

    func dbValue(_ v: FieldValue?, type: ColumnType) -> DatabaseValue {
        switch v ?? .null {
        case .null: return .null
        case .int(let i): return i.databaseValue
        case .bool(let b): return (b ? 1 : 0).databaseValue
        case .text(let s):
            if type != .text, let i = Int64(s) { return i.databaseValue }
            return s.databaseValue
        }
    }

    func fieldValue(_ dbv: DatabaseValue, column: String) -> FieldValue {
        value(dbv, type: type(of: column))
    }

    /// The fields of a fetched row (all columns).
    public func fields(of row: Row) -> Fields {
        if row.count == columns.count { return fields { row[$0] as DatabaseValue } }
        var f: Fields = Dictionary(minimumCapacity: columns.count)
        for c in columns { f[c] = fieldValue(row[c] as DatabaseValue, column: c) }
        return f
    }

    /// The fields of a row whose values come in column order (`column(i)` is column `i`).
    func fields(_ column: (Int) -> DatabaseValue) -> Fields {
        var f: Fields = Dictionary(minimumCapacity: columns.count)
        for (i, c) in columns.enumerated() { f[c] = value(column(i), type: columnTypes[i]) }
        return f
    }

    func value(_ dbv: DatabaseValue, type: ColumnType) -> FieldValue {
        switch dbv.storage {
        case .null: return .null
        case .int64(let i):
            switch type {
            case .bool: return .bool(i != 0)
            case .int: return .int(i)
            case .text: return .text(String(i))
            }
        case .double(let d): return .int(Int64(d))
        case .string(let s): return .text(s)
        case .blob(let b): return .text(String(decoding: b, as: UTF8.self))
        }
    }

    private func keyValues(_ key: String) throws -> [DatabaseValue] {
        if keyColumns.count == 1 && columnTypes[0] == .text && columns[0] == keyColumns[0] { return [key.databaseValue] }
        let kf = try keyFields(key)
        return keyColumns.map { dbValue(kf[$0], column: $0) }
    }

    // MARK: Row operations

    public func fetch(_ db: Database, key: String) throws -> Fields? {
        guard let row = try FastStatement.fetchFirst(db.cachedStatement(sql: selectSQL), keyValues(key)) else { return nil }
        return fields { row[$0] }
    }

    public func exists(_ db: Database, key: String) throws -> Bool {
        try FastStatement.fetchFirst(db.cachedStatement(sql: existsSQL), keyValues(key))?.first == 1.databaseValue
    }

    /// Inserts or replaces the whole row (a full image: missing columns become NULL or defaults).
    public func upsert(_ db: Database, image: Fields) throws {
        try upsert(db, stored: storedValues(image))
    }

    /// `upsert` of a row's stored values (`storedValues(columnValues:)`).
    public func upsert(_ db: Database, stored: [DatabaseValue]) throws {
        try FastStatement.execute(db.cachedStatement(sql: upsertSQL), stored)
    }

    /// The values `upsert` stores for `image`, in column order. Read by the fields present
    /// (names that are not columns are not stored), not by column: an image rarely fills
    /// every column, and each lookup hashes a name.
    public func storedValues(_ image: Fields) -> [DatabaseValue] {
        storedValues(present: presentColumns(image))
    }

    /// The image's values by column position (nil: not in the image; names that are not
    /// columns are left out): one lookup per field.
    public func presentColumns(_ image: Fields) -> [FieldValue?] {
        var present = [FieldValue?](repeating: nil, count: columns.count)
        for (name, value) in image { if let i = columnIndex[name] { present[i] = value } }
        return present
    }

    /// `storedValues` of an image given by `presentColumns`.
    public func storedValues(present: [FieldValue?]) -> [DatabaseValue] {
        precondition(present.count == columns.count, "\(name) has \(columns.count) columns")
        return present.indices.map { storedValue(present[$0], index: $0) }
    }

    /// The values `upsert` stores for a row given in column order.
    public func storedValues(columnValues: [FieldValue]) -> [DatabaseValue] {
        precondition(columnValues.count == columns.count, "\(name) has \(columns.count) columns")
        return columnValues.indices.map { storedValue(columnValues[$0], index: $0) }
    }

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
                    + "ON CONFLICT(\(keyColumns.joined(separator: ", "))) DO NOTHING"
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

    /// The positions of the key columns in `columns`.
    public let keyIndices: [Int]

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
        return try FastStatement.fetchFirst(statement, keyValues(key)) { s in
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
                default: values[i] = value(FastStatement.column(s, c), type: type)
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
        guard let row = try FastStatement.fetchFirst(db.cachedStatement(sql: selectWithFeedSQL), keyValues(key)) else { return nil }
        return (fields { row[$0] }, Int64.fromDatabaseValue(row[columns.count]))
    }

    /// A row's feed position (hub only): nil when the row does not exist, `.some(nil)` when
    /// it has none.
    public func feedPosition(_ db: Database, key: String) throws -> Int64?? {
        guard let row = try FastStatement.fetchFirst(db.cachedStatement(sql: feedPositionSQL), keyValues(key)) else { return nil }
        return .some(Int64.fromDatabaseValue(row[0]))
    }

    /// Sets a row's feed position and its echo (`feedEchoColumn`, hub only); false when the
    /// row does not exist.
    @discardableResult
    public func setFeedPosition(_ db: Database, key: String, _ gseq: Int64, echoNode: String?) throws -> Bool {
        try FastStatement.execute(db.cachedStatement(sql: setFeedPositionSQL), [gseq.databaseValue, echoNode.databaseValue] + keyValues(key)) > 0
    }

    /// Sets a row's echo alone (`feedEchoColumn`, hub only).
    public func setFeedEcho(_ db: Database, key: String, echoNode: String?) throws {
        try FastStatement.execute(db.cachedStatement(sql: setFeedEchoSQL), [echoNode.databaseValue] + keyValues(key))
    }

    /// The value `upsert` stores for `v` in column number `index`.
    private func storedValue(_ v: FieldValue?, index: Int) -> DatabaseValue {
        if (v == nil || v == .null) && columnTypes[index] == .bool { return 0.databaseValue }
        return dbValue(v, type: columnTypes[index])
    }

    /// Sets some columns of an existing row, and `also` columns outside the replicated ones
    /// (the hub's clocks). Returns false when the row does not exist.
    @discardableResult
    public func update(_ db: Database, key: String, fields: Fields, also extra: [(column: String, value: DatabaseValue)] = []) throws -> Bool {
        let settable = fields.keys.filter { columns.contains($0) && !keyColumns.contains($0) }.sorted()
        guard !settable.isEmpty || !extra.isEmpty else { return try exists(db, key: key) }
        let sets = (settable + extra.map(\.column)).map { "\($0) = ?" }.joined(separator: ", ")
        let values = settable.map { dbValue(fields[$0], column: $0) } + extra.map(\.value) + (try keyValues(key))
        return try FastStatement.execute(db.cachedStatement(sql: "UPDATE \(name) SET \(sets) WHERE \(keyPredicate)"), values) > 0
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
                try b.bind(dbValue(changed.first { $0.column == i }!.value, type: columnTypes[i]))
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

    @discardableResult
    public func delete(_ db: Database, key: String) throws -> Bool {
        try FastStatement.execute(db.cachedStatement(sql: deleteSQL), keyValues(key)) > 0
    }

    /// Applies a row image from the hub feed: `insert` carries the full row, `delete` removes it.
    public func applyImage(_ db: Database, change: Change) throws {
        switch change.op {
        case .insert, .update: try upsert(db, image: change.fields)
        case .delete: try delete(db, key: change.key)
        }
    }
}

extension RecordKinds {
    /// The tables of the stored kinds, in the order the state hash reads them.
    public var tables: [ReplicatedTable] { stored.compactMap(ReplicatedTable.of) }

    /// The table of `entity`'s kind (nil: no such kind, or one not kept in a table).
    public func table(_ entity: Entity) -> ReplicatedTable? {
        kind(entity).flatMap(ReplicatedTable.of)
    }
}

extension Database {
    /// Applies a change to the replicated tables as it is, without merge rules:
    /// the node's own writes, rebasing pending entries, and row images from the hub.
    public func applyPlain(_ change: Change, kinds: RecordKinds) throws {
        guard let table = kinds.table(change.entity) else { return }
        switch change.op {
        case .insert:
            try table.upsert(self, image: change.fields)
        case .update:
            try table.update(self, key: change.key, fields: change.fields)
        case .delete:
            if case .tombstone(let flag) = table.kind.removal {
                try table.update(self, key: change.key, fields: [flag: .bool(true)])
            } else {
                try table.delete(self, key: change.key)
            }
        }
    }
}

/// Statements built on first use, by a 64-bit mask of what they cover (a set of columns).
///
/// A node chooses which columns its edits carry, so the sets are the node's to choose: the
/// first `limit` texts are kept and their statements cached by GRDB; any set beyond them is
/// prepared for the one call and finalized after it, so no sender can grow the hub's memory
/// by sending every combination.
final class StatementTexts: @unchecked Sendable {
    /// Texts kept (each with a cached statement per connection).
    static let limit = 256
    private let lock = NSLock()
    private var texts: [UInt64: String] = [:]

    /// Texts kept so far (tests).
    var count: Int { lock.lock(); defer { lock.unlock() }; return texts.count }

    func statement(_ db: Database, for mask: UInt64, _ build: () -> String) throws -> Statement {
        lock.lock()
        if let text = texts[mask] {
            lock.unlock()
            return try db.cachedStatement(sql: text)
        }
        let text = build()
        let keep = texts.count < Self.limit
        if keep { texts[mask] = text }
        lock.unlock()
        return keep ? try db.cachedStatement(sql: text) : try db.makeStatement(sql: text)
    }
}
