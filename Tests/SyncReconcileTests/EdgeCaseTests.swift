import Foundation
import GRDB
import Testing
import SyncHub
import SyncModel
import SyncReconcile
import SyncStore
import SyncTesting
import SyncNode

@Suite("Moves, replies and renames at the edges")
struct EdgeCaseTests {
    @Test("a receipt written after a move request, in the same batch, follows the move")
    func receiptAfterMoveFollows() async throws {
        let world = try World()
        let a = world.store("A"), b = world.store("B")
        try a.addPartner(consumer("K1"))
        try a.addAddress(Address(partnerCode: "K1", site: "", seq: 0))
        try b.addPartner(consumer("K2", first: "Jan"))
        try b.addAddress(Address(partnerCode: "K2", site: "", seq: 0))
        try await world.syncAll()
        try a.requestMove(MoveRequest(currentCode: "K1", currentSeq: 0, newCode: "K2", newSeq: 0, fromSite: "KRK"))
        let late = try a.addDocument(kind: .invoice, partnerCode: "K1", amountMinor: 700, currency: "PLN")
        try await world.syncAll()
        #expect(try world.hashesAgree())
        let doc = try #require(try world.store("C").documents().first { $0.id == late.id })
        #expect("\(doc.partnerCode):\(doc.addressSeq)" == "K2:0")
    }

    @Test("a move beats a receipt another node at the site pushed earlier with a newer clock")
    func moveBeatsEarlierReceipt() throws {
        let world = try World(nodes: [("A", "WAW", "K1"), ("A2", "WAW", "K9"), ("B", "KRK", "K2")])
        try world.push("B", [change("B", 1, hlc: 10, .partner, "K2", .insert, consumer("K2").fields),
                             change("B", 2, hlc: 11, .address, "K2|KRK|0", .insert, Address(partnerCode: "K2", site: "KRK", seq: 0).fields)])
        try world.push("A", [change("A", 1, hlc: 12, .partner, "K1", .insert, consumer("K1").fields),
                             change("A", 2, hlc: 13, .address, "K1|WAW|0", .insert, Address(partnerCode: "K1", site: "WAW", seq: 0).fields)])
        let receipt = Document(id: "A2-R1", kind: .receipt, partnerCode: "K1", site: "WAW", amountMinor: 100, currency: "PLN",
                               issuedAt: "2026-01-01T00:00:00Z", node: "A2")
        try world.push("A2", [change("A2", 1, hlc: 500, .document, "A2-R1", .insert, receipt.fields)])
        let move = MoveRequest(currentCode: "K1", currentSeq: 0, newCode: "K2", newSeq: 0, fromSite: "KRK")
        let reply = try world.push("A", [change("A", 3, hlc: 14, .move, "A-M1", .insert, move.fields)])
        #expect(reply.results.first?.outcome == .applied)
        let doc = try world.hub.pool.read { try ReplicatedTable.document.fetch($0, key: "A2-R1") }
        #expect(doc?["partner_code"] == .text("K2"))
    }

    @Test("a push reply for other entries or another node acknowledges nothing")
    func mismatchedReplyChangesNothing() throws {
        let world = try World()
        let a = world.store("A")
        try a.addPartner(consumer("1"))
        try a.addPartner(consumer("2"))
        let wrongNode = PushReply(node: "B", results: [EntryResult(seq: 1, outcome: .applied)], nextExpected: 2, hubHLC: 0)
        #expect(throws: StoreError.self) { try a.applyPushReply(wrongNode, sent: [1, 2]) }
        let wrongSeqs = PushReply(node: "A", results: [EntryResult(seq: 5, outcome: .applied)], nextExpected: 6, hubHLC: 0)
        #expect(throws: StoreError.self) { try a.applyPushReply(wrongSeqs, sent: [1, 2]) }
        #expect(try a.pendingCount() == 2)
    }

    @Test("a node cannot insert or change another node's document")
    func foreignDocumentsRefused() throws {
        let world = try World()
        try world.push("A", [change("A", 1, hlc: 10, .partner, "K1", .insert, consumer("K1").fields)])
        let doc = Document(id: "A-R1", kind: .receipt, partnerCode: "K1", site: "WAW", amountMinor: 100, currency: "PLN",
                           issuedAt: "2026-01-01T00:00:00Z", node: "A")
        let forged = try world.push("B", [change("B", 1, hlc: 11, .document, "A-R1", .insert, doc.fields)])
        #expect(forged.results.first?.outcome == .rejected)
        try world.push("A", [change("A", 2, hlc: 12, .document, "A-R1", .insert, doc.fields)])
        let edit = try world.push("B", [change("B", 2, hlc: 13, .document, "A-R1", .update, ["amount_minor": .int(1)])])
        #expect(edit.results.first?.outcome == .rejected)
        #expect(try world.hub.pool.read { try ReplicatedTable.document.fetch($0, key: "A-R1") }?["amount_minor"] == .int(100))
    }

    @Test("renames map a code once: a literal SERIES-CODE created in the same batch is not confused with the renamed one")
    func renameMapsOnce() throws {
        let world = try World()
        try world.push("A", [change("A", 1, hlc: 10, .partner, "1001", .insert, consumer("1001").fields)])
        let reply = try world.push("B", [
            change("B", 1, hlc: 11, .partner, "1001", .insert, consumer("1001", first: "Renamed").fields),
            change("B", 2, hlc: 12, .partner, "K2-1001", .insert, consumer("K2-1001", first: "Literal").fields),
            change("B", 3, hlc: 13, .partner, "1001", .update, ["phone": .text("for the renamed one")]),
        ])
        #expect(reply.results.map { $0.newCode ?? "-" } == ["K2-1001", "K2-K2-1001", "-"])
        #expect(try hubPartner(world, "K2-1001")?["phone"] == .text("for the renamed one"))
        #expect(try hubPartner(world, "K2-K2-1001")?["phone"] == .null)
    }
}
