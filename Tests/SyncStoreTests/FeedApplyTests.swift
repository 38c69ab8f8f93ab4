import Foundation
import GRDB
import Testing
import SyncModel
import SyncTesting
@testable import SyncStore

@Suite("Applying the hub's feed")
struct FeedApplyTests {
    @Test("a snapshot replaces the replicated tables: a row the hub removed before the snapshot does not survive")
    func snapshotReplaces() throws {
        let fixture = try StoreFixture()
        defer { fixture.remove() }
        let store = fixture.store
        try store.addPartner(anna())
        try store.addAddress(Address(partnerCode: "1001", site: "", seq: 0, street: "Old"))
        // Pretend the hub acknowledged both and later removed the address (a customer move).
        try store.applyPushReply(PushReply(node: "N1", results: [EntryResult(seq: 1, outcome: .applied), EntryResult(seq: 2, outcome: .applied)],
                                           nextExpected: 3, hubHLC: 0))
        let image = Change(seq: 1, hlc: HLC(rawValue: 1), node: "hub", entity: .partner, key: "1001", op: .insert, fields: anna().fields)
        try store.applyFeed([image], nextCursor: 10, snapshot: true)
        #expect(try store.addresses().isEmpty)
        #expect(try store.partner(code: "1001") != nil)
        #expect(try store.config().cursor == 10)
    }

    @Test("unacknowledged local edits are re-applied on top of incoming images")
    func pendingEditsSurvivePull() throws {
        let fixture = try StoreFixture()
        defer { fixture.remove() }
        let store = fixture.store
        try store.addPartner(anna())
        try store.applyPushReply(PushReply(node: "N1", results: [EntryResult(seq: 1, outcome: .applied)], nextExpected: 2, hubHLC: 0))
        try store.updatePartner(code: "1001", changes: ["phone": .text("local, not yet pushed")])
        var hubImage = anna().fields
        hubImage["email"] = .text("from@hub.pl")
        try store.applyFeed([Change(seq: 5, hlc: HLC(rawValue: 5), node: "N2", entity: .partner, key: "1001", op: .insert, fields: hubImage)],
                            nextCursor: 5)
        let p = try #require(try store.partner(code: "1001"))
        #expect(p.phone == "local, not yet pushed")
        #expect(p.email == "from@hub.pl")
    }
}
