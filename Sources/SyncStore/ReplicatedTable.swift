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
    package let columnTypes: [ColumnType]
    /// Each column's position in `columns`.
    public let columnIndex: [String: Int]
    // SQL built once per table.
    private let selectSQL: String
    private let existsSQL: String
    private let upsertSQL: String
    private let deleteSQL: String
    package let keyPredicate: String

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
        // A table of key columns only (a membership) has nothing to update.
        upsertSQL = "INSERT INTO \(name) (\(list)) VALUES (\(marks)) ON CONFLICT(\(keyColumns.joined(separator: ", "))) "
            + (updates.isEmpty ? "DO NOTHING" : "DO UPDATE SET \(updates)")
        deleteSQL = "DELETE FROM \(name) WHERE \(keyPredicate)"
    }


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
    /// by `|`. Throws a `FieldError` naming the first key column without a value.
    public func key(of values: [FieldValue]) throws -> String {
        try key { values[$0] }
    }

    /// The replication key of a row image (the key columns looked up by name).
    public func key(ofImage image: Fields) throws -> String {
        try key { image[columns[$0]] ?? .null }
    }

    private func key(_ value: (Int) -> FieldValue) throws -> String {
        var parts: [String] = []
        for i in keyIndices {
            switch value(i) {
            case .text(let s): parts.append(s)
            case .int(let n): parts.append(String(n))
            case .bool(let b): parts.append(b ? "1" : "0")
            case .null: throw FieldError(field: columns[i], reason: "is missing")
            }
        }
        return parts.joined(separator: "|")
    }

    /// The key columns' values parsed from a replication key.
    public func keyFields(_ key: String) throws -> Fields {
        if keyColumns.count == 1 && type(of: keyColumns[0]) == .text { return [keyColumns[0]: .text(key)] }
        return Dictionary(uniqueKeysWithValues: zip(keyColumns, try keyParts(key)))
    }

    /// A replication key's parts, one per key column in `keyColumns` order (split at `|`):
    /// numbers for integer columns, text for the others.
    private func keyParts(_ key: String) throws -> [FieldValue] {
        let parts = key.utf8.split(separator: UInt8(ascii: "|"), omittingEmptySubsequences: false)
        guard parts.count == keyColumns.count else { throw StoreError.badKey(entity: entity, key: key) }
        return try zip(keyIndices, parts).map { i, part in
            let text = Substring(part)
            guard columnTypes[i] == .int else { return .text(String(text)) }
            guard let number = Int64(text) else { throw StoreError.badKey(entity: entity, key: key) }
            return .int(number)
        }
    }

    /// The SQLite value of a field in `column`.
    public func databaseValue(_ v: FieldValue?, column: String) -> DatabaseValue { dbValue(v, column: column) }

    func dbValue(_ v: FieldValue?, column: String) -> DatabaseValue { dbValue(v, type: type(of: column)) }

    package func dbValue(_ v: FieldValue?, type: ColumnType) -> DatabaseValue {
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
    package func fields(_ column: (Int) -> DatabaseValue) -> Fields {
        var f: Fields = Dictionary(minimumCapacity: columns.count)
        for (i, c) in columns.enumerated() { f[c] = value(column(i), type: columnTypes[i]) }
        return f
    }

    package func value(_ dbv: DatabaseValue, type: ColumnType) -> FieldValue {
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

    package func keyValues(_ key: String) throws -> [DatabaseValue] {
        if keyColumns.count == 1 && columnTypes[0] == .text && columns[0] == keyColumns[0] { return [key.databaseValue] }
        // Parsed straight into values, no dictionary (a composite key is read for every feed
        // row of its kind).
        return try zip(keyIndices, keyParts(key)).map { dbValue($1, type: columnTypes[$0]) }
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

    /// A new row's journal image: its fields (given in column order) that are not null.
    public func newRowImage(_ values: [FieldValue]) -> Fields {
        var image = Fields(minimumCapacity: values.count)
        for (column, value) in zip(columns, values) where !value.isNull { image[column] = value }
        return image
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


    /// The positions of the key columns in `columns`.
    public let keyIndices: [Int]

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
package final class StatementTexts: @unchecked Sendable {
    /// Texts kept (each with a cached statement per connection).
    package static let limit = 256
    private let lock = NSLock()
    private var texts: [UInt64: String] = [:]

    /// Texts kept so far (tests).
    package var count: Int { lock.lock(); defer { lock.unlock() }; return texts.count }

    package init() {}

    package func statement(_ db: Database, for mask: UInt64, _ build: () -> String) throws -> Statement {
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
