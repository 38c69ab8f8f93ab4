import Foundation
import GRDB
import Testing
import SyncHub
import SyncModel
import SyncStore
import SyncTesting

@Suite("Journal acknowledgements")
struct JournalAckTests {
    @Test("a push reply acknowledges its range without rewriting the entries; they read as applied, a rejected one with its verdict, a new one as pending")
    func ackByRange() async throws {
        let world = try World()
        let a = world.store("A")
        _ = try a.addPartner(consumer("1001"))
        _ = try a.updatePartner(code: "1001", changes: ["phone": .text("+48 600 000 001")])
        // The hub has seq 1 already (a reply that was lost): the store's own entry.
        _ = try world.push("A", [try #require(try a.journal(entity: .partner, key: "1001").first?.change)])
        try await world.sync("A")

        let entries = try a.journal(entity: .partner, key: "1001")
        #expect(entries.map(\.acked) == [true, true])
        #expect(entries.map(\.outcome) == ["duplicate", "applied"])
        let stored = try await a.pool.read { try Row.fetchAll($0, sql: "SELECT acked, outcome FROM journal ORDER BY seq").map { "\($0[0] as Int)/\($0[1] as String? ?? "-")" } }
        #expect(stored == ["1/duplicate", "0/-"], "the applied entry's row is not rewritten")
        #expect(try a.status().acknowledged == 2)

        _ = try a.updatePartner(code: "1001", changes: ["phone": .text("+48 600 000 002")])
        let pending = try a.journal(entity: .partner, key: "1001").last
        #expect(pending?.acked == false && pending?.outcome == nil)
        #expect(try a.pendingCount() == 1)
    }
}
