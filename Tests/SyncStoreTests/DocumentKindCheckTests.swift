import Foundation
import GRDB
import Testing
import SyncModel
import SyncTesting
@testable import SyncStore

/// The document table's CHECK on `kind` is written as comparisons (SQLite built a temporary
/// index for the `IN` list on every insert); `v3-document-kind-check` rewrites it in stores
/// made before.
@Suite("The document kind check")
struct DocumentKindCheckTests {
    func insert(_ db: Database, _ id: String, kind: String) throws {
        try db.execute(sql: """
            INSERT INTO document (id, kind, partner_code, address_seq, site, amount_minor, currency, status, issued_at, node)
            VALUES (?, ?, 'C1', 0, 'WAW', 100, 'PLN', 'open', '2026-11-29T10:00:00Z', 'K1')
            """, arguments: [id, kind])
    }

    func checkHolds(_ pool: DatabasePool) throws {
        let table = try pool.read { try String.fetchOne($0, sql: "SELECT sql FROM sqlite_master WHERE name = 'document'") } ?? ""
        #expect(table.contains("CHECK (kind = 'receipt' OR kind = 'invoice' OR kind = 'order' OR kind = 'receivable' OR kind = 'delivery-note')"), "\(table)")
        #expect(!table.contains("kind IN"))
        try pool.write { db in
            for kind in DocumentKind.allCases { try insert(db, "D-\(kind.rawValue)", kind: kind.rawValue) }
            #expect(throws: DatabaseError.self) { try insert(db, "D-bad", kind: "coupon") }
        }
        #expect(try pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM document WHERE id LIKE 'D-%'") } == DocumentKind.allCases.count)
    }

    @Test("a new store has the comparisons and still refuses an unknown kind")
    func newStore() throws {
        let dir = try TemporaryDirectory(prefix: "kindcheck")
        defer { dir.remove() }
        _ = try NodeStore.create(path: dir.file("node.sqlite"), node: "K1", site: "WAW", series: "K1")
        let pool = try DatabasePool(path: dir.file("node.sqlite"))
        try checkHolds(pool)
    }

    @Test("a store made before gets the comparisons, keeps its documents, and still refuses an unknown kind")
    func upgradedStore() throws {
        let dir = try TemporaryDirectory(prefix: "kindcheck")
        defer { dir.remove() }
        let path = dir.file("old.sqlite")
        let old = try DatabasePool(path: path)
        try NodeStore.migrator(kinds: .standard).migrate(old, upTo: "v2-node-nip-index")
        let before = try old.read { try String.fetchOne($0, sql: "SELECT sql FROM sqlite_master WHERE name = 'document'") } ?? ""
        #expect(before.contains("kind IN ('receipt', 'invoice', 'order', 'receivable')"))
        try old.write { try insert($0, "OLD-1", kind: "order") }
        try old.close()

        let pool = try DatabasePool(path: path)
        try NodeStore.migrator(kinds: .standard).migrate(pool)
        #expect(try pool.read { try String.fetchOne($0, sql: "SELECT kind FROM document WHERE id = 'OLD-1'") } == "order")
        try checkHolds(pool)
        #expect(try pool.read { try String.fetchOne($0, sql: "PRAGMA integrity_check") } == "ok")
    }
}
