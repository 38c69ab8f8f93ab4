import Crypto
import Foundation
import GRDB
import SyncModel

extension Database {
    /// A digest of the replicated tables of `kinds` (partners, addresses, documents and any
    /// declared kind): equal on two stores with the same content, whatever order it arrived
    /// in. Rows are read in primary-key order, columns in a fixed order, each value tagged with
    /// its type and length.
    public func stateHash(kinds: RecordKinds) throws -> String {
        try stateHashes(groups: [""], kinds: kinds) { _ in "''" }[""]!
    }

    /// The group of rows that belong to every group (`stateHashes`): records of a kind that
    /// replicates to the whole chain, in the hub's feed region of that name.
    public static let everyGroup = "*"

    /// Digests of parts of the replicated tables in one pass: `group` gives an SQL expression
    /// for a row's group in each table, and each of `groups` gets the digest `stateHash()` would
    /// give for a store holding exactly that group's rows. Rows of other groups are left out;
    /// rows of `everyGroup` are in each.
    public func stateHashes(groups: Set<String>, kinds: RecordKinds, group: (ReplicatedTable) -> String) throws -> [String: String] {
        var hashers = Dictionary(uniqueKeysWithValues: groups.map { ($0, SHA256()) })
        // One buffer per row, columns by position: the same bytes as value-by-value updates.
        var buffer: [UInt8] = []
        buffer.reserveCapacity(512)
        for table in kinds.tables {
            for g in groups { hashers[g]!.update("table:\(table.name)\n") }
            let order = table.keyColumns.joined(separator: ", ")
            let sql = "SELECT \(table.columns.joined(separator: ", ")), \(group(table)) FROM \(table.name) ORDER BY \(order)"
            let cursor = try Row.fetchCursor(self, sql: sql)
            let groupColumn = table.columns.count
            while let row = try cursor.next() {
                guard let g = String.fromDatabaseValue(row[groupColumn]) else { continue }
                let inEveryGroup = hashers[g] == nil  // a row of `everyGroup`, or of a group not asked for
                if inEveryGroup && g != Self.everyGroup { continue }
                buffer.removeAll(keepingCapacity: true)
                for i in table.columns.indices {
                    switch table.value(row[i] as DatabaseValue, type: table.columnTypes[i]) {
                    case .null: buffer.append(0)
                    case .bool(let b): buffer.append(1); buffer.append(b ? 1 : 0)
                    case .int(let n):
                        buffer.append(UInt8(ascii: "i"))
                        buffer.append(contentsOf: String(n).utf8)
                        buffer.append(UInt8(ascii: ";"))
                    case .text(let s):
                        buffer.append(UInt8(ascii: "s"))
                        buffer.append(contentsOf: String(s.utf8.count).utf8)
                        buffer.append(UInt8(ascii: ":"))
                        buffer.append(contentsOf: s.utf8)
                    }
                }
                buffer.append(0x0a)
                if inEveryGroup {
                    for h in groups { hashers[h]!.update(buffer) }
                } else {
                    hashers[g]!.update(buffer)
                }
            }
        }
        return hashers.mapValues { $0.finalize().hex }
    }

    /// Row counts of the replicated tables.
    public func replicatedCounts(kinds: RecordKinds) throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for t in kinds.tables {
            counts[t.name] = try Int.fetchOne(self, sql: "SELECT COUNT(*) FROM \(t.name)") ?? 0
        }
        return counts
    }
}
