import Foundation
import Testing
import SyncHub
import SyncModel
import SyncReconcile
import SyncStore
import SyncTesting
import SyncNode

@Suite("Store-prefix rule")
struct PrefixRuleTests {
    @Test("a free code is kept; a taken one gets series and separator, then -2, -3")
    func resolveChain() {
        var taken: Set<String> = ["1001"]
        let rule = PrefixRule()
        #expect(rule.resolve(code: "2002", series: "K1") { taken.contains($0) } == "2002")
        #expect(rule.resolve(code: "1001", series: "K1") { taken.contains($0) } == "K1-1001")
        taken.insert("K1-1001")
        #expect(rule.resolve(code: "1001", series: "K1") { taken.contains($0) } == "K1-1001-2")
        taken.insert("K1-1001-2")
        #expect(rule.resolve(code: "1001", series: "K1") { taken.contains($0) } == "K1-1001-3")
        #expect(PrefixRule(separator: "").resolve(code: "1001", series: "K1") { taken.contains($0) } == "K11001")
    }

    @Test("two nodes clash offline: the first to reach the hub keeps the code, the other gets its prefix")
    func twoNodesClash() async throws {
        let world = try World()
        try world.store("A").addPartner(consumer("1001", first: "Anna"))
        try world.store("B").addPartner(consumer("1001", first: "Jan"))
        try world.store("B").addDocument(kind: .receipt, partnerCode: "1001", amountMinor: 999, currency: "PLN")
        try await world.sync("A")
        let b = try await world.sync("B")
        #expect(b.renames.map { "\($0.oldCode)->\($0.newCode)" } == ["1001->K2-1001"])
        try await world.syncAll()
        #expect(try world.hashesAgree())
        let a = world.store("A")
        #expect(try a.partner(code: "1001")?.firstName == "Anna")
        #expect(try a.partner(code: "K2-1001")?.firstName == "Jan")
        #expect(try a.documents(partnerCode: "K2-1001").map(\.id) == ["B-R1"])
        #expect(try world.store("B").audit(kind: .rename).map(\.newValue) == ["K2-1001"])
        #expect(try world.hub.audit(kind: .rename).count == 1)
    }

    @Test("three nodes clash offline on one code: one keeps it, the others carry their series")
    func threeNodesClash() async throws {
        let world = try World()
        for id in ["C", "A", "B"] { try world.store(id).addPartner(consumer("1001", first: "From\(id)")) }
        for id in ["C", "A", "B"] { try await world.sync(id) }
        try await world.syncAll()
        #expect(try world.hashesAgree())
        let codes = try world.store("A").partners().map { "\($0.code)=\($0.firstName ?? "")" }
        #expect(codes == ["1001=FromC", "K1-1001=FromA", "K2-1001=FromB"])
    }

    @Test("the chained case: when SERIES-CODE is taken too, -2 is appended")
    func chainedSuffix() async throws {
        let world = try World()
        try world.store("A").addPartner(consumer("1001"))
        try world.store("A").addPartner(consumer("K2-1001", first: "Literal"))
        try world.store("B").addPartner(consumer("1001", first: "Jan"))
        try await world.sync("A")
        let b = try await world.sync("B")
        #expect(b.renames.map(\.newCode) == ["K2-1001-2"])
        try await world.syncAll()
        #expect(try world.hashesAgree())
    }

    @Test("edits and receipts made offline after the creation follow the rename, also across later pushes")
    func offlineEditsFollowRename() async throws {
        let world = try World()
        try world.store("A").addPartner(consumer("1001"))
        try await world.sync("A")
        // B is offline: creates 1001, edits it, sells to it.
        let b = world.store("B")
        try b.addPartner(consumer("1001", first: "Jan"))
        try b.updatePartner(code: "1001", changes: ["phone": .text("+48 500 000 000")])
        try b.addDocument(kind: .receipt, partnerCode: "1001", amountMinor: 1250, currency: "PLN")
        try b.addAddress(Address(partnerCode: "1001", site: "", seq: 0, street: "Długa 1"))
        try await world.sync("B")
        try await world.syncAll()
        #expect(try world.hashesAgree())
        let renamed = try #require(try world.store("C").partner(code: "K2-1001"))
        #expect(renamed.phone == "+48 500 000 000")
        #expect(try world.store("C").partner(code: "1001")?.phone == nil)
        #expect(try world.store("C").documents(partnerCode: "K2-1001").count == 1)
        #expect(try world.store("C").addresses(partnerCode: "K2-1001").map(\.site) == ["KRK"])
    }

    @Test("with one entry per batch, entries encoded while the renaming batch was at the hub still follow the rename")
    func pipelinedPushFollowsRename() async throws {
        let world = try World()
        try world.store("A").addPartner(consumer("1001"))
        try await world.sync("A")
        let b = world.store("B")
        try b.addPartner(consumer("1001", first: "Jan"))
        try b.addDocument(kind: .receipt, partnerCode: "1001", amountMinor: 700, currency: "PLN")
        try b.updatePartner(code: "1001", changes: ["phone": .text("+48 501 000 000")])
        try b.addDocument(kind: .invoice, partnerCode: "1001", amountMinor: 900, currency: "PLN")
        // The next batch is read and encoded while the hub applies the current one.
        let round = SyncRound(store: b, transport: InProcessHubTransport(hub: world.hub, node: try world.hub.node("B")), pushBatchEntries: 1)
        let summary = try await round.run()
        #expect(summary.pushedBatches == 4)
        #expect(summary.renames.map(\.newCode) == ["K2-1001"])
        let atHub = try await world.hub.pool.read { db in
            try String.fetchAll(db, sql: "SELECT partner_code FROM document ORDER BY kind")
        }
        #expect(atHub == ["K2-1001", "K2-1001"])
        let phones = try await world.hub.pool.read { db in
            (try ReplicatedTable.partner.fetch(db, key: "1001")?["phone"], try ReplicatedTable.partner.fetch(db, key: "K2-1001")?["phone"])
        }
        #expect(phones.0 == .null)
        #expect(phones.1 == .text("+48 501 000 000"))
        try await world.syncAll()
        #expect(try world.hashesAgree())
    }

    @Test("entries pushed in a later batch before the node applied the rename are mapped; after it applied, they are not")
    func renameWatermark() throws {
        let world = try World()
        try world.push("A", [change("A", 1, hlc: 10, .partner, "1001", .insert, consumer("1001").fields)])
        let r1 = try world.push("B", [change("B", 1, hlc: 11, .partner, "1001", .insert, consumer("1001", first: "Jan").fields)])
        #expect(r1.results.first?.outcome == .renamed)
        let renameID = try #require(r1.results.first?.renameID)
        // Reply lost: B still says 1001 in its next batch, with watermark 0.
        try world.push("B", [change("B", 2, hlc: 12, .partner, "1001", .update, ["phone": .text("B-phone")])])
        // B applied the rename; a later edit of 1001 means A's partner.
        try world.push("B", [change("B", 3, hlc: 13, .partner, "1001", .update, ["email": .text("a@x.pl")])], renamesApplied: renameID)
        let hub = world.hub
        let k2 = try #require(try hub.pool.read { try ReplicatedTable.partner.fetch($0, key: "K2-1001") })
        let a = try #require(try hub.pool.read { try ReplicatedTable.partner.fetch($0, key: "1001") })
        #expect(k2["phone"] == .text("B-phone"))
        #expect(k2["email"] == .null)
        #expect(a["email"] == .text("a@x.pl"))
        #expect(a["phone"] == .null)
    }

    @Test("a resent batch whose reply was lost is a duplicate that repeats the rename")
    func duplicateRepeatsRename() throws {
        let world = try World()
        try world.push("A", [change("A", 1, hlc: 10, .partner, "1001", .insert, consumer("1001").fields)])
        let batch = [change("B", 1, hlc: 11, .partner, "1001", .insert, consumer("1001", first: "Jan").fields)]
        let first = try world.push("B", batch)
        let again = try world.push("B", batch)
        #expect(again.results.first?.outcome == .duplicate)
        #expect(again.results.first?.newCode == first.results.first?.newCode)
        #expect(again.results.first?.renameID == first.results.first?.renameID)
        #expect(try world.hub.pool.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM partner") } == 2)
    }
}
