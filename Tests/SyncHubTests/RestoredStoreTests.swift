import Foundation
import GRDB
import Testing
@testable import SyncHub
import SyncModel
import SyncStore
import SyncTesting

/// A till PC restored from a file backup: it rejoins without losing a sale.
@Suite("A store restored from a backup rejoins without losing anything")
struct RestoredStoreTests {
    /// A copy of store `id`'s database as it is now (what a file backup holds).
    static func backup(_ world: World, _ id: String, as name: String) async throws -> String {
        let path = world.dir.file(name)
        try await world.store(id).pool.writeWithoutTransaction { try $0.execute(sql: "VACUUM INTO ?", arguments: [path]) }
        return path
    }

    /// Store `id` replaced by a copy of `backup`, as a restored till PC starts.
    static func restore(_ world: World, _ id: String, from backup: String, as name: String) throws -> NodeStore {
        let path = world.dir.file(name)
        try FileManager.default.copyItem(atPath: backup, toPath: path)
        let store = try NodeStore.open(path: path, kinds: world.kinds)
        world.stores[id] = store
        return store
    }

    func receipts(_ world: World) throws -> [Int64] {
        try world.hub.pool.read { try Int64.fetchAll($0, sql: "SELECT amount_minor FROM document WHERE node = 'A' ORDER BY amount_minor") }
    }

    @Test("backup, sync more, restore, sell: every sale before and after the restore is at the hub once, the lost changes come back, the audit says restore")
    func restoredOnce() async throws {
        let world = try World()
        let a = world.store("A")
        _ = try a.addPartner(consumer("P1"))
        _ = try a.addDocument(kind: .receipt, partnerCode: "P1", amountMinor: 1000, currency: "PLN")
        try await world.syncAll()
        let saved = try await Self.backup(world, "A", as: "A-backup.sqlite")
        // After the backup: a customer, a 12.00 receipt, all synced.
        _ = try a.addPartner(consumer("P2", first: "Lost", last: "Timeline"))
        let lost = try a.addDocument(kind: .receipt, partnerCode: "P1", amountMinor: 1200, currency: "PLN")
        try await world.syncAll()
        _ = try world.store("B").updatePartner(code: "P1", changes: ["phone": .text("+48 500 000 001")])
        try await world.syncAll()

        // The till is restored from the backup and sells again.
        let restored = try Self.restore(world, "A", from: saved, as: "A-restored.sqlite")
        _ = try restored.addPartner(consumer("P3", first: "After", last: "Restore"))
        let sale = try restored.addDocument(kind: .receipt, partnerCode: "P1", amountMinor: 5500, currency: "PLN")
        #expect(sale.id == lost.id, "the restored till numbers from where the backup was")
        _ = try restored.updatePartner(code: "P1", changes: ["email": .text("p1@example.pl")])
        let summary = try await world.sync("A")
        #expect(summary.restored != nil, "\(summary)")
        try await world.syncAll()

        #expect(try receipts(world) == [1000, 1200, 5500], "every sale once")
        #expect(try world.hub.record(.partner, key: "P3") != nil && restored.partner(code: "P2")?.lastName == "Timeline", "the lost customer came back")
        let p1 = try #require(try restored.partner(code: "P1"))
        #expect(p1.email == "p1@example.pl" && p1.phone == "+48 500 000 001")
        #expect(try restored.documents().map(\.amountMinor).sorted() == [1000, 1200, 5500])
        #expect(try world.hub.audit(kind: .restore).count == 1 && restored.audit().contains { $0.kind == "restore" })
        #expect(try world.hashesAgree())
        // Later sales go on as usual.
        let seven = try restored.addDocument(kind: .receipt, partnerCode: "P1", amountMinor: 700, currency: "PLN")
        #expect(seven.id != sale.id && seven.id != lost.id, "numbered after the hub's numbers")
        let later = try await world.sync("A")
        #expect(later.restored == nil && later.rejected.isEmpty)
        try await world.syncAll()
        let hubDocs = try world.hub.pool.read { try Row.fetchAll($0, sql: "SELECT id, amount_minor FROM document") }
        let localDocs = try restored.documents().map { "\($0.id) \($0.amountMinor)" }
        #expect(try receipts(world) == [700, 1000, 1200, 5500], "\(hubDocs)")
        #expect(try world.hashesAgree(), "\(localDocs) hub \(hubDocs)")
    }

    @Test("restored twice, and from a backup taken before the store's first sync: nothing lost")
    func restoredTwiceAndBeforeFirstSync() async throws {
        let world = try World()
        let a = world.store("A")
        let empty = try await Self.backup(world, "A", as: "A-empty.sqlite")
        _ = try a.addPartner(consumer("P1"))
        _ = try a.addDocument(kind: .receipt, partnerCode: "P1", amountMinor: 100, currency: "PLN")
        try await world.syncAll()
        // Restored from before its first sync.
        var store = try Self.restore(world, "A", from: empty, as: "A-r1.sqlite")
        _ = try store.addPartner(consumer("Q1"))
        _ = try store.addDocument(kind: .receipt, partnerCode: "Q1", amountMinor: 200, currency: "PLN")
        try await world.syncAll()
        #expect(try receipts(world) == [100, 200])
        let second = try await Self.backup(world, "A", as: "A-second.sqlite")
        _ = try store.addDocument(kind: .receipt, partnerCode: "Q1", amountMinor: 300, currency: "PLN")
        try await world.syncAll()
        // And again.
        store = try Self.restore(world, "A", from: second, as: "A-r2.sqlite")
        _ = try store.addDocument(kind: .receipt, partnerCode: "P1", amountMinor: 400, currency: "PLN")
        try await world.syncAll()
        #expect(try receipts(world) == [100, 200, 300, 400])
        let local2 = try store.documents().map { "\($0.id) \($0.amountMinor)" }
        let hub2 = try world.hub.pool.read { try Row.fetchAll($0, sql: "SELECT id, amount_minor FROM document") }
        #expect(try store.documents().map(\.amountMinor).sorted() == [100, 200, 300, 400], "\(local2) hub \(hub2)")
        #expect(try world.hashesAgree())
    }
}
