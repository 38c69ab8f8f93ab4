import Foundation
import GRDB
import GRDBSQLite

/// Runs GRDB's cached statements with positional values bound through the SQLite C API.
///
/// The replicated-table hot paths (every pushed entry on the hub, every pulled row on a node)
/// bind a dozen values per row. GRDB's `StatementArguments(_:)` converts them through an
/// unspecialised generic initialiser, and `Row.fetchOne` builds a row object per read; perf
/// put the two at about a sixth of a catch-up's CPU time. These helpers bind and read the
/// values directly: posbench's `row binding` row (release build, 100,000 partner rows upserted
/// in one transaction, 2026-12-04) gives 297,363 rows/s against 115,324 through a cached GRDB
/// statement with `StatementArguments`, 2.6×. Only statements prepared for this purpose go through them (cached by their
/// SQL text, which no other caller uses with GRDB's own `execute(arguments:)`), and each call
/// resets the statement before binding and after stepping, so no read stays open.
///
/// Differences from GRDB's own execution, deliberate: text is bound and read with its byte
/// length (GRDB stops at a NUL character; local writes refuse NUL, so only a hand-made batch
/// could carry one, and it then reads the same on every store); GRDB's checks for a
/// transaction SQLite has rolled back, for cancellation and for observation are skipped (no
/// caller continues after a database error, and nothing observes these tables).
package enum FastStatement {
    /// SQLite copies bound text before `sqlite3_bind_text` returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    private static func bind(_ statement: Statement, _ values: [DatabaseValue]) throws {
        var binder = Binder(statement)
        try binder.bind(values)
        try binder.finish()
    }

    /// Binds a statement's parameters in order, from several places, without first gathering
    /// them into one array (`run`).
    package struct Binder: ~Copyable {
        let statement: Statement
        private let s: OpaquePointer
        private var index: Int32 = 0

        init(_ statement: Statement) {
            self.statement = statement
            s = statement.sqliteStatement
            sqlite3_reset(s)
        }

        package mutating func bind(_ values: [DatabaseValue]) throws {
            for v in values { try bind(v) }
        }

        package mutating func bind(_ v: DatabaseValue) throws {
            index += 1
            let code: Int32
            switch v.storage {
            case .null: code = sqlite3_bind_null(s, index)
            case .int64(let n): code = sqlite3_bind_int64(s, index, n)
            case .double(let d): code = sqlite3_bind_double(s, index, d)
            case .string(let text): code = Self.bindText(s, index, text)
            case .blob(let data):
                code = data.withUnsafeBytes { sqlite3_bind_blob(s, index, $0.baseAddress, Int32($0.count), transient) }
            }
            guard code == SQLITE_OK else { throw error(statement, code) }
        }

        package mutating func bind(_ n: Int64?) throws {
            index += 1
            let code = n.map { sqlite3_bind_int64(s, index, $0) } ?? sqlite3_bind_null(s, index)
            guard code == SQLITE_OK else { throw error(statement, code) }
        }

        package mutating func bind(_ text: String?) throws {
            index += 1
            let code = text.map { Self.bindText(s, index, $0) } ?? sqlite3_bind_null(s, index)
            guard code == SQLITE_OK else { throw error(statement, code) }
        }

        private static func bindText(_ s: OpaquePointer, _ index: Int32, _ text: String) -> Int32 {
            var text = text
            return text.withUTF8 { buf in
                // An empty string still needs a non-null pointer, or SQLite binds NULL.
                guard let base = buf.baseAddress else { return sqlite3_bind_text(s, index, "", 0, transient) }
                return sqlite3_bind_text(s, index, UnsafeRawPointer(base).assumingMemoryBound(to: CChar.self), Int32(buf.count), transient)
            }
        }

        /// Checks that every parameter was bound.
        func finish() throws {
            guard sqlite3_bind_parameter_count(s) == index else {
                throw DatabaseError(resultCode: .SQLITE_MISUSE, message: "wrong number of statement arguments: \(index)", sql: statement.sql)
            }
        }
    }

    /// Runs an INSERT / UPDATE / DELETE whose parameters `bind` binds; returns the rows it changed.
    @discardableResult
    package static func run(_ statement: Statement, _ bind: (inout Binder) throws -> Void) throws -> Int {
        var binder = Binder(statement)
        try bind(&binder)
        try binder.finish()
        return try step(statement)
    }

    private static func step(_ statement: Statement) throws -> Int {
        let s = statement.sqliteStatement
        defer { sqlite3_reset(s) }
        var code = sqlite3_step(s)
        while code == SQLITE_ROW { code = sqlite3_step(s) }
        guard code == SQLITE_DONE else { throw error(statement, code) }
        return Int(sqlite3_changes(sqlite3_db_handle(s)))
    }

    private static func error(_ statement: Statement, _ code: Int32) -> DatabaseError {
        let db = sqlite3_db_handle(statement.sqliteStatement)
        return DatabaseError(resultCode: ResultCode(rawValue: code), message: db.map { String(cString: sqlite3_errmsg($0)) }, sql: statement.sql)
    }

    /// Runs an INSERT / UPDATE / DELETE with `values`; returns the rows it changed
    /// (`sqlite3_changes`, without GRDB's check of the calling queue on every read).
    @discardableResult
    package static func execute(_ statement: Statement, _ values: [DatabaseValue]) throws -> Int {
        try bind(statement, values)
        return try step(statement)
    }

    /// Runs a query with `values` and returns the first row's columns, or nil without a row.
    package static func fetchFirst(_ statement: Statement, _ values: [DatabaseValue]) throws -> [DatabaseValue]? {
        try fetchFirst(statement, values) { currentRow($0) }
    }

    /// Runs a query with `values` and reads its first row with `read` (nil without a row).
    package static func fetchFirst<T>(_ statement: Statement, _ values: [DatabaseValue], _ read: (OpaquePointer) throws -> T) throws -> T? {
        try bind(statement, values)
        let s = statement.sqliteStatement
        defer { sqlite3_reset(s) }
        let code = sqlite3_step(s)
        if code == SQLITE_DONE { return nil }
        guard code == SQLITE_ROW else { throw error(statement, code) }
        return try read(s)
    }

    /// Runs a query with `values` and returns every row's columns.
    package static func fetchAll(_ statement: Statement, _ values: [DatabaseValue]) throws -> [[DatabaseValue]] {
        try bind(statement, values)
        let s = statement.sqliteStatement
        defer { sqlite3_reset(s) }
        var rows: [[DatabaseValue]] = []
        while true {
            let code = sqlite3_step(s)
            if code == SQLITE_DONE { return rows }
            guard code == SQLITE_ROW else { throw error(statement, code) }
            rows.append(currentRow(s))
        }
    }

    /// Runs a query with `values` and hands each row (the statement on it) to `body` until it
    /// returns false. What `body` reads of a row is valid only until it returns.
    package static func forEachRow(_ statement: Statement, _ values: [DatabaseValue], _ body: (OpaquePointer) throws -> Bool) throws {
        try bind(statement, values)
        let s = statement.sqliteStatement
        defer { sqlite3_reset(s) }
        while true {
            let code = sqlite3_step(s)
            if code == SQLITE_DONE { return }
            guard code == SQLITE_ROW else { throw error(statement, code) }
            guard try body(s) else { return }
        }
    }

    /// The text of column `i` of the row `s` is on, in place (empty for NULL).
    package static func textBytes(_ s: OpaquePointer, _ i: Int32) -> UnsafeBufferPointer<UInt8> {
        guard let p = sqlite3_column_text(s, i) else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: p, count: Int(sqlite3_column_bytes(s, i)))
    }

    /// The columns of the row the statement is on.
    private static func currentRow(_ s: OpaquePointer) -> [DatabaseValue] {
        let n = Int32(sqlite3_column_count(s))
        var row: [DatabaseValue] = []
        row.reserveCapacity(Int(n))
        for i in 0..<n { row.append(column(s, i)) }
        return row
    }

    package static func column(_ s: OpaquePointer, _ i: Int32) -> DatabaseValue {
        switch sqlite3_column_type(s, i) {
        case SQLITE_NULL: return .null
        case SQLITE_INTEGER: return sqlite3_column_int64(s, i).databaseValue
        case SQLITE_FLOAT: return sqlite3_column_double(s, i).databaseValue
        case SQLITE_TEXT:
            guard let p = sqlite3_column_text(s, i) else { return .null }
            let count = Int(sqlite3_column_bytes(s, i))
            return String(decoding: UnsafeBufferPointer(start: p, count: count), as: UTF8.self).databaseValue
        default:
            let count = Int(sqlite3_column_bytes(s, i))
            guard let p = sqlite3_column_blob(s, i) else { return Data().databaseValue }
            return Data(bytes: p, count: count).databaseValue
        }
    }
}

extension Database {
    /// Runs the cached INSERT / UPDATE / DELETE `sql` with positional `values`, bound directly
    /// (see `FastStatement`). Use only for SQL texts no caller runs through GRDB's arguments.
    package func runCached(_ sql: String, _ values: [DatabaseValue]) throws {
        try FastStatement.execute(cachedStatement(sql: sql), values)
    }

    /// The first row of the cached query `sql` with positional `values`, or nil.
    package func firstRowCached(_ sql: String, _ values: [DatabaseValue] = []) throws -> [DatabaseValue]? {
        try FastStatement.fetchFirst(cachedStatement(sql: sql), values)
    }

    /// Every row of the cached query `sql` with positional `values`.
    package func rowsCached(_ sql: String, _ values: [DatabaseValue] = []) throws -> [[DatabaseValue]] {
        try FastStatement.fetchAll(cachedStatement(sql: sql), values)
    }
}
