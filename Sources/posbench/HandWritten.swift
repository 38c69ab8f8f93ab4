import Foundation
import GRDB
import SyncModel
import SyncStore

/// The rows that measure the hand-written parts the project keeps instead of a library:
/// the journal's JSON codec (`FlatJSON`) against Foundation's `JSONSerialization`, and the
/// replicated rows' direct binding (`FastStatement`) against GRDB's `StatementArguments`.
extension Bench {
    /// Journal images of `count` partners (the fields a push encodes and a store decodes).
    static func journalImages(_ count: Int) -> [Fields] {
        (0..<count).map { i in Backlog.partner(i).fields.filter { !$0.value.isNull } }
    }

    static func journalJSON(count: Int) throws -> BenchRow {
        let images = journalImages(count)
        var texts: [String] = []
        texts.reserveCapacity(count)
        var total = 0
        let ours = try seconds {
            texts.removeAll(keepingCapacity: true)
            for f in images { texts.append(f.canonicalJSON()) }
            for t in texts { total &+= try Fields.fromJSON(t).count }
        }
        func plain(_ v: FieldValue) -> Any {
            switch v {
            case .null: return NSNull()
            case .bool(let b): return b
            case .int(let i): return i
            case .text(let s): return s
            }
        }
        let reference = try seconds {
            var datas: [Data] = []
            datas.reserveCapacity(count)
            for f in images {
                datas.append(try JSONSerialization.data(withJSONObject: f.mapValues(plain), options: [.sortedKeys]))
            }
            for d in datas { total &+= (try JSONSerialization.jsonObject(with: d) as? [String: Any])?.count ?? 0 }
        }
        precondition(total > 0)
        let r = Double(count) / ours, ref = Double(count) / reference
        return BenchRow(row: "journal JSON", workload: "\(count) partner images encoded and decoded by FlatJSON", figure: r, unit: "entries/s",
                        reference: ref, referenceWorkload: "the same with Foundation's JSONSerialization (sorted keys)",
                        ratio: r / ref, target: "≥ 2× (else Foundation)", met: r / ref >= 2)
    }

    static func rowBinding(count: Int, dir: String) throws -> BenchRow {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        func store(_ name: String) throws -> DatabasePool { try plainStore(path: "\(dir)/\(name).sqlite") }
        let table = ReplicatedTable.partner
        let rows = journalImages(count).map { table.storedValues($0) }
        let sql = "INSERT INTO partner (\(table.columns.joined(separator: ", "))) VALUES (\(Array(repeating: "?", count: table.columns.count).joined(separator: ", ")))"
            + " ON CONFLICT(code) DO UPDATE SET phone = excluded.phone"
        let oursPool = try store("ours"), plainPool = try store("grdb")
        let ours = try seconds { try oursPool.write { db in for r in rows { try table.upsert(db, stored: r) } } }
        let reference = try seconds {
            try plainPool.write { db in
                let statement = try db.cachedStatement(sql: sql)
                for r in rows { try statement.execute(arguments: StatementArguments(r)) }
            }
        }
        let r = Double(count) / ours, ref = Double(count) / reference
        return BenchRow(row: "row binding", workload: "\(count) partner rows upserted in one transaction through FastStatement", figure: r, unit: "rows/s",
                        reference: ref, referenceWorkload: "the same rows through a cached GRDB statement and StatementArguments",
                        ratio: r / ref, target: "≥ 1.1× (else GRDB's binding)", met: r / ref >= 1.1)
    }
}
