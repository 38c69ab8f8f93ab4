import Foundation
import GRDB
import Testing
@testable import SyncHub
import SyncModel
import SyncStore
import SyncTesting

/// A hub restored to an earlier point (an old copy of its database): the stores that hold
/// more than it has send it again and re-baseline; nothing is lost or doubled.
@Suite("A hub restored to an earlier point gets back what it lost")
struct RestoredHubTests {
    func receipts(_ world: World) throws -> [String] {
        try world.hub.pool.read {
            try Row.fetchAll($0, sql: "SELECT node, amount_minor FROM document ORDER BY node, amount_minor").map { "\($0["node"] as String) \($0["amount_minor"] as Int64)" }
        }
    }

    @Test("backup, sync more at every store, restore the hub, sell: every sale and customer once, every store equal to the hub")
    func restoredHub() async throws {
        let world = try World()
        let a = world.store("A"), b = world.store("B"), c = world.store("C")
        _ = try a.addPartner(consumer("P1"))
        _ = try a.addDocument(kind: .receipt, partnerCode: "P1", amountMinor: 1000, currency: "PLN")
        _ = try b.addPartner(consumer("Q1", first: "Jan", last: "Kowalski"))
        try await world.syncAll()
        let backup = try world.backupHub(as: "hub-backup.sqlite")

        // After the backup, every store syncs more: customers, receipts, edits.
        _ = try a.addPartner(consumer("P2", first: "Lost", last: "Timeline"))
        _ = try a.addDocument(kind: .receipt, partnerCode: "P1", amountMinor: 1200, currency: "PLN")
        _ = try b.addPartner(consumer("Q2", first: "Ewa", last: "Wójcik"))
        _ = try b.updatePartner(code: "P1", changes: ["email": .text("p1@example.pl")])
        _ = try c.addDocument(kind: .receipt, partnerCode: "Q1", amountMinor: 3300, currency: "PLN")
        try await world.syncAll()
        let before = try world.hub.stateHash()

        // The hub is restored from the backup; store A sells before it syncs again.
        try world.restartHub(from: backup)
        #expect(try world.hub.stateHash() != before, "the restored hub has lost changes")
        _ = try a.addDocument(kind: .receipt, partnerCode: "P2", amountMinor: 5500, currency: "PLN")
        let first = try await world.sync("A")
        #expect(first.hubRestored != nil, "\(first)")
        #expect(first.rejected.isEmpty, "\(first.rejected)")
        let second = try await world.sync("B")
        #expect(second.hubRestored != nil && second.rejected.isEmpty, "\(second)")
        try await world.syncAll()

        #expect(try receipts(world) == ["A 1000", "A 1200", "A 5500", "C 3300"], "every sale once")
        #expect(try hubPartner(world, "P2")?["last_name"]?.text == "Timeline")
        #expect(try hubPartner(world, "Q2")?["last_name"]?.text == "Wójcik")
        #expect(try hubPartner(world, "P1")?["email"]?.text == "p1@example.pl", "B's edit after the backup is back")
        #expect(try world.hashesAgree())
        for store in [a, b, c] {
            #expect(try store.documents().count == 4)
            #expect(try store.pendingCount() == 0)
        }
        #expect(try a.audit().contains { $0.kind == "restore" && $0.reason.contains("restored to an earlier point") })
    }

    @Test("a hub that restarts without a restore: stores take the new epoch and keep their cursors")
    func plainRestart() async throws {
        let world = try World()
        _ = try world.store("A").addPartner(consumer("P1"))
        try await world.syncAll()
        let cursor = try world.store("B").config().cursor
        try world.restartHub()
        _ = try world.store("A").addPartner(consumer("P2"))
        let a = try await world.sync("A")
        let b = try await world.sync("B")
        #expect(a.hubRestored == nil && b.hubRestored == nil && !b.bootstrapped)
        #expect(try world.store("B").config().cursor > cursor, "pulled on from its cursor")
        #expect(try world.store("B").hubEpoch().epoch == world.hub.currentEpoch())
        try await world.syncAll()
        #expect(try world.hashesAgree())
    }

    @Test("the epoch check: a cursor beyond the head the restored hub had is not valid, one within it is")
    func epochCheck() async throws {
        let world = try World()
        _ = try world.store("A").addPartner(consumer("P1"))
        try await world.syncAll()
        let old = try world.hub.currentEpoch()
        let backup = try world.backupHub(as: "b.sqlite")
        let head = try world.store("A").config().cursor
        _ = try world.store("A").addPartner(consumer("P2"))
        try await world.syncAll()
        try world.restartHub(from: backup)
        let later = try world.store("A").config().cursor
        #expect(later > head)
        #expect(try world.hub.epochCheck(node: "A", epoch: old, cursor: head).cursorValid)
        let beyond = try world.hub.epochCheck(node: "A", epoch: old, cursor: later)
        #expect(!beyond.cursorValid && beyond.lastSeq == 1 && beyond.epoch != old)
        #expect(try !world.hub.epochCheck(node: "A", epoch: "0123456789abcdef", cursor: 1).cursorValid, "an epoch the hub never had")
        #expect(try world.hub.epochCheck(node: "A", epoch: nil, cursor: later).cursorValid, "a store that never met an epoch keeps its cursor")
        #expect(throws: HubError.self) { try world.hub.epochCheck(node: "Z", epoch: nil, cursor: 0) }
    }
}
