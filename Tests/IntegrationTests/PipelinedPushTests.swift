import Foundation
import GRDB
import Testing
import SyncModel
import SyncStore
import SyncTesting

@Suite("pushes sent before the previous reply, between real processes", .serialized)
struct PipelinedPushTests {
    /// A store back online with 2,000 offline changes, pushed in batches of 500: from the second
    /// batch on the next one goes out before the previous reply. Partner 1001, created offline
    /// in the third batch, clashes with another store's 1001 and is renamed; its edit and receipt
    /// are in the fourth batch, which was encoded and sent with the old code while the third was
    /// still at the hub. The hub maps them; nothing is lost, rejected or applied twice.
    @Test("a backlog pushed two batches at a time, with a rename in the batch before the one sent ahead")
    func renameWhileAhead() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        try cluster.startHub()
        let a = try cluster.addNode("A", site: "WAW", series: "K1")
        try cluster.addNode("B", site: "KRK", series: "K2")
        try #require(cluster.posnode("A", ["sync"]).succeeded)  // A was online once (bootstrapped), then went offline
        try #require(cluster.posnode("B", ["partner", "add", "--code", "1001", "--kind", "consumer", "--first-name", "Ewa",
                                           "--last-name", "Nowak", "--country", "PL", "--offline"]).succeeded)
        try #require(cluster.posnode("B", ["sync"]).succeeded)

        // Offline on A: 1,000 partners, 1001 (sequence 1001), 499 more, 1001 edited and sold to (1501, 1502), 498 more.
        let store = try NodeStore.open(path: a.db)
        try store.transaction { tx in
            func filler(_ i: Int) throws {
                _ = try tx.addPartner(Partner(code: "F\(i)", kind: .consumer, firstName: "Jan", lastName: "Kowalski\(i)", country: "PL"))
            }
            for i in 1...1000 { try filler(i) }
            _ = try tx.addPartner(Partner(code: "1001", kind: .consumer, firstName: "Anna", lastName: "Wiśniewska", country: "PL"))
            for i in 1001...1499 { try filler(i) }
            _ = try tx.updatePartner(code: "1001", changes: ["phone": .text("+48 600 100 200")])
            _ = try tx.addDocument(kind: .receipt, partnerCode: "1001", amountMinor: 4_550, currency: "PLN")
            for i in 1500...1997 { try filler(i) }
        }
        #expect(try store.pendingCount() == 2000)

        let sync = try cluster.posnode("A", ["sync", "--json", "--batch-entries", "500"])
        try #require(sync.succeeded, "\(sync.stderr)")
        let summary = try JSONDecoder().decode(SyncSummaryView.self, from: Data(sync.stdout.utf8))
        #expect(summary.pushedEntries == 2000 && summary.pushedBatches == 4)
        #expect(summary.rejected.isEmpty, "\(summary.rejected)")
        #expect(summary.renames.map(\.newCode) == ["K1-1001"])
        #expect(try store.pendingCount() == 0)

        // At the hub: B's 1001 untouched; A's partner, its edit and its receipt under K1-1001.
        let hub = try DatabaseQueue(path: cluster.hubDB)
        let (renamedPhone, bLastName, bPhone, receipts, fromA) = try await hub.read { db in
            (try String.fetchOne(db, sql: "SELECT phone FROM partner WHERE code = 'K1-1001'"),
             try String.fetchOne(db, sql: "SELECT last_name FROM partner WHERE code = '1001'"),
             try String.fetchOne(db, sql: "SELECT phone FROM partner WHERE code = '1001'"),
             try String.fetchAll(db, sql: "SELECT partner_code FROM document WHERE node = 'A'"),
             try Int.fetchOne(db, sql: "SELECT count(*) FROM partner WHERE origin_node = 'A'"))
        }
        #expect(renamedPhone == "+48 600 100 200")
        #expect(bLastName == "Nowak" && bPhone == nil)
        #expect(receipts == ["K1-1001"])
        #expect(fromA == 1998)
        #expect(try store.partner(code: "K1-1001")?.phone == "+48 600 100 200")
        #expect(try cluster.nodeStateHash("A") == cluster.hubStateHash())
    }
}
