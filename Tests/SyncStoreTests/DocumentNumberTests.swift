import Foundation
import GRDB
import Testing
import SyncModel
import SyncTesting
@testable import SyncStore

/// A document's number is one more than the newest numbered journal entry's
/// (`NodeTransaction.nextDocumentNumber`): gapless, never repeated, and no page of
/// `node_config` written per sale.
@Suite("Document numbers")
struct DocumentNumberTests {
    struct Failure: Error {}

    func mark(_ store: NodeStore) throws -> (next: Int64, through: Int64) {
        try store.pool.read { db in
            let row = try Row.fetchOne(db, sql: "SELECT next_document, numbered_through FROM node_config")!
            return (row["next_document"], row["numbered_through"])
        }
    }

    @Test("numbers run on across kinds and move requests, and a rolled-back sale gives its number back")
    func gaplessAcrossKindsAndRollback() throws {
        let fixture = try StoreFixture()
        defer { fixture.remove() }
        let store = fixture.store
        try store.addPartner(anna())
        #expect(try store.addDocument(kind: .receipt, partnerCode: "1001", amountMinor: 100, currency: "PLN").id == "N1-R1")
        #expect(try store.addDocument(kind: .invoice, partnerCode: "1001", amountMinor: 100, currency: "PLN").id == "N1-F2")
        #expect(try store.requestMove(MoveRequest(currentCode: "1001", currentSeq: 0, newCode: "1001", newSeq: 0, fromSite: "KRK")).key == "N1-M3")
        #expect(throws: Failure.self) {
            try store.transaction { t in
                #expect(try t.addDocument(kind: .receipt, partnerCode: "1001", amountMinor: 1, currency: "PLN").id == "N1-R4")
                throw Failure()
            }
        }
        // Two in one transaction (an import): the second reads the first's entry.
        let ids = try store.transaction { t in
            try [t.addDocument(kind: .receipt, partnerCode: "1001", amountMinor: 1, currency: "PLN").id,
                 t.addDocument(kind: .order, partnerCode: "1001", amountMinor: 1, currency: "PLN").id]
        }
        #expect(ids == ["N1-R4", "N1-O5"])
        #expect(try store.addDocument(kind: .receipt, partnerCode: "1001", amountMinor: 1, currency: "PLN").id == "N1-R6")
        // Sales write no page of node_config: its mark stays where the store began.
        #expect(try mark(store).next == 1)
    }

    @Test("a number is found past many other entries, and the mark then moves so the next reading is short")
    func markMovesPastLongStretches() throws {
        let fixture = try StoreFixture()
        defer { fixture.remove() }
        let store = fixture.store
        try store.addPartner(anna())
        for _ in 1...3 { try store.addDocument(kind: .receipt, partnerCode: "1001", amountMinor: 100, currency: "PLN") }
        let stretch = Int(NodeTransaction.numberMarkDistance) + 50
        try store.transaction { t in
            for i in 0..<stretch { try t.addPartner(anna(String(5000 + i))) }
        }
        let before = try store.pool.read { try Int64.fetchOne($0, sql: "SELECT MAX(seq) FROM journal")! }
        #expect(try store.addDocument(kind: .receipt, partnerCode: "1001", amountMinor: 100, currency: "PLN").id == "N1-R4")
        #expect(try mark(store) == (next: 5, through: before))
        #expect(try store.addDocument(kind: .receipt, partnerCode: "1001", amountMinor: 100, currency: "PLN").id == "N1-R5")
        #expect(try mark(store) == (next: 5, through: before))
    }

    @Test("a store's counter ahead of its journal is kept (a store that counted in node_config)")
    func counterAheadOfJournal() throws {
        let fixture = try StoreFixture()
        defer { fixture.remove() }
        let store = fixture.store
        try store.addPartner(anna())
        try store.addDocument(kind: .receipt, partnerCode: "1001", amountMinor: 100, currency: "PLN")
        try store.pool.write { db in
            try db.execute(sql: "UPDATE node_config SET next_document = 40, numbered_through = (SELECT MAX(seq) FROM journal)")
        }
        #expect(try store.addDocument(kind: .receipt, partnerCode: "1001", amountMinor: 100, currency: "PLN").id == "N1-R40")
        #expect(try store.addDocument(kind: .receipt, partnerCode: "1001", amountMinor: 100, currency: "PLN").id == "N1-R41")
    }

    @Test("a store that counted in node_config carries on from its counter after the upgrade")
    func upgradeKeepsCounter() throws {
        let fixture = try StoreFixture()
        defer { fixture.remove() }
        let path = fixture.dir.file("node.sqlite")
        try fixture.store.addPartner(anna())
        for _ in 1...2 { try fixture.store.addDocument(kind: .receipt, partnerCode: "1001", amountMinor: 100, currency: "PLN") }
        // The store as it was before the mark: its counter at 3 (two sales), no mark column.
        try fixture.store.pool.write { db in
            try db.execute(sql: """
                ALTER TABLE node_config DROP COLUMN numbered_through;
                UPDATE node_config SET next_document = 3;
                DELETE FROM grdb_migrations WHERE identifier = 'v8-node-document-number-mark';
                """)
        }
        try fixture.store.pool.close()
        let upgraded = try NodeStore.open(path: path)
        let head = try upgraded.pool.read { try Int64.fetchOne($0, sql: "SELECT MAX(seq) FROM journal")! }
        #expect(try mark(upgraded) == (next: 3, through: head))
        #expect(try upgraded.addDocument(kind: .receipt, partnerCode: "1001", amountMinor: 100, currency: "PLN").id == "N1-R3")
        try upgraded.pool.close()
    }

    @Test("only this node's keys count", arguments: [("N1-R12", 12), ("N1-M7", 7), ("N12-R3", nil), ("N1", nil), ("N1-R", nil), ("X-R1", nil)] as [(String, Int64?)])
    func keysOfThisNode(key: String, number: Int64?) {
        #expect(NodeTransaction.documentNumber(key: key, node: "N1") == number)
    }
}
