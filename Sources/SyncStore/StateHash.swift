import Foundation
import GRDB
import SyncModel

extension Database {
    /// A digest of the replicated tables (partners, addresses, documents): equal on two stores
    /// with the same content, whatever order it arrived in. Rows are read in primary-key order,
    /// columns in a fixed order, each value tagged with its type and length.
    public func stateHash() throws -> String {
        var hasher = SHA256()
        for table in ReplicatedTable.all {
            hasher.update("table:\(table.name)\n")
            let order = table.keyColumns.joined(separator: ", ")
            let cursor = try Row.fetchCursor(self, sql: "SELECT \(table.columns.joined(separator: ", ")) FROM \(table.name) ORDER BY \(order)")
            while let row = try cursor.next() {
                for c in table.columns {
                    switch table.fieldValue(row[c] as DatabaseValue, column: c) {
                    case .null: hasher.update([0])
                    case .bool(let b): hasher.update([1, b ? 1 : 0])
                    case .int(let i): hasher.update("i\(i);")
                    case .text(let s):
                        let bytes = Array(s.utf8)
                        hasher.update("s\(bytes.count):")
                        hasher.update(bytes)
                    }
                }
                hasher.update([0x0a])
            }
        }
        return SHA256.hex(hasher.finalize())
    }

    /// Row counts of the replicated tables.
    public func replicatedCounts() throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for t in ReplicatedTable.all {
            counts[t.name] = try Int.fetchOne(self, sql: "SELECT COUNT(*) FROM \(t.name)") ?? 0
        }
        return counts
    }
}
