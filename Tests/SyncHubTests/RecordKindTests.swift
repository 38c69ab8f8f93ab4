import Foundation
import GRDB
import Testing
@testable import SyncHub
import SyncModel
import SyncStore
import SyncTesting
import SyncWire

/// Kinds declared here only: what adding a replicated record kind takes is its declaration.
enum TestKinds {
    /// Central master data: written at the hub, received by every store of every region.
    static let shelfLabel = RecordKind(
        entity: Entity("shelf_label", code: 200), table: "shelf_label",
        columns: [.init("code", .text(max: 20), required: true), .init("text", .text(max: 60), required: true),
                  .init("price_minor", .int(0...1_000_000)), .init("active", .bool)],
        key: ["code"], writers: .hub, scope: .chain,
        validate: { row in
            guard let text = row["text"].text, !text.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw FieldError(field: "text", reason: "is missing")
            }
        })

    /// Written at the stores, offline too: a note on a customer's visit, in the customer's region.
    static let visitNote = RecordKind(
        entity: Entity("visit_note", code: 201), table: "visit_note",
        columns: [.init("partner_code", .text(max: PartnerCode.maxStoredLength), required: true), .init("seq", .int(0...1000), required: true),
                  .init("note", .text(max: 200))],
        key: ["partner_code", "seq"], writers: .stores, removal: .delete, parent: "partner_code", partnerColumns: ["partner_code"])

    static let kinds = try! RecordKinds.standard.adding(shelfLabel).adding(visitNote)
}

@Suite("A record kind declared once syncs through node and hub")
struct RecordKindTests {
    @Test("a hub-written kind reaches every store; a store-written kind goes through the hub to the others, edits and removals too")
    func syncsBothWays() async throws {
        let world = try World(kinds: TestKinds.kinds)
        let a = world.store("A"), b = world.store("B")
        try world.hub.write(TestKinds.shelfLabel.entity, op: .insert, fields: ["code": .text("S1"), "text": .text("Mleko 1 l"), "price_minor": .int(399)])
        _ = try a.addPartner(consumer("1001"))
        try a.write(TestKinds.visitNote.entity, op: .insert, fields: ["partner_code": .text("1001"), "seq": .int(1), "note": .text("asked for oat milk")])
        try await world.syncAll()

        #expect(try b.record(TestKinds.shelfLabel.entity, key: "S1")?["text"] == .text("Mleko 1 l"))
        #expect(try b.record(TestKinds.shelfLabel.entity, key: "S1")?["active"] == .bool(false))
        #expect(try b.record(TestKinds.visitNote.entity, key: "1001|1")?["note"] == .text("asked for oat milk"))
        #expect(try world.hub.record(TestKinds.visitNote.entity, key: "1001|1") != nil)
        #expect(try world.hashesAgree())

        // The hub changes the label; B edits A's note; A removes it afterwards.
        try world.hub.write(TestKinds.shelfLabel.entity, op: .update, key: "S1", fields: ["price_minor": .int(449)])
        try b.write(TestKinds.visitNote.entity, op: .update, key: "1001|1", fields: ["note": .text("oat milk, 2 l")])
        try await world.syncAll()
        #expect(try a.record(TestKinds.shelfLabel.entity, key: "S1")?["price_minor"] == .int(449))
        #expect(try a.record(TestKinds.visitNote.entity, key: "1001|1")?["note"] == .text("oat milk, 2 l"))
        try a.write(TestKinds.visitNote.entity, op: .delete, key: "1001|1", fields: [:])
        try await world.syncAll()
        #expect(try b.record(TestKinds.visitNote.entity, key: "1001|1") == nil)
        #expect(try world.hub.record(TestKinds.visitNote.entity, key: "1001|1") == nil)
        #expect(try world.hashesAgree())
        // A new store bootstraps the declared kinds with the rest.
        try world.addNode("D", site: "POZ", series: "K4")
        try await world.sync("D")
        #expect(try world.store("D").record(TestKinds.shelfLabel.entity, key: "S1")?["price_minor"] == .int(449))
        #expect(try world.store("D").stateHash() == world.hub.stateHash())
    }

    @Test("each side writes only what its declaration allows; bad rows are refused naming the field, and nothing changes")
    func refusals() async throws {
        let world = try World(kinds: TestKinds.kinds)
        let a = world.store("A")
        // A store cannot write central master data, locally or by a push.
        #expect {
            try a.write(TestKinds.shelfLabel.entity, op: .insert, fields: ["code": .text("S9"), "text": .text("x")])
        } throws: { "\($0)".contains("central master data") }
        let pushed = try world.push("A", [change("A", 1, hlc: 1 << 16, TestKinds.shelfLabel.entity, "S9", .insert,
                                                ["code": .text("S9"), "text": .text("x")])])
        #expect(pushed.results.first?.outcome == .rejected)
        #expect(pushed.results.first?.reason?.contains("central master data") == true)
        // The hub does not write the stores' kind.
        #expect(throws: HubError.self) {
            try world.hub.write(TestKinds.visitNote.entity, op: .insert, fields: ["partner_code": .text("1001"), "seq": .int(1)])
        }
        // The declaration's checks: validation, column bounds, the parent partner.
        #expect { try world.hub.write(TestKinds.shelfLabel.entity, op: .insert, fields: ["code": .text("S2"), "text": .text("  ")]) }
            throws: { "\($0)".contains("text: is missing") }
        #expect { try world.hub.write(TestKinds.shelfLabel.entity, op: .insert, fields: ["code": .text("S2"), "text": .text("ok"), "price_minor": .int(-1)]) }
            throws: { "\($0)".contains("price_minor") }
        _ = try a.addPartner(consumer("1001"))
        #expect { try a.write(TestKinds.visitNote.entity, op: .insert, fields: ["partner_code": .text("1001"), "seq": .int(1), "note": .text(String(repeating: "n", count: 201))]) }
            throws: { "\($0)".contains("note") && "\($0)".contains("at most 200") }
        #expect(try a.record(TestKinds.visitNote.entity, key: "1001|1") == nil)
        let orphan = try world.push("A", [change("A", 2, hlc: 2 << 16, TestKinds.visitNote.entity, "9999|1", .insert,
                                                ["partner_code": .text("9999"), "seq": .int(1)])])
        #expect(orphan.results.first?.reason?.contains("partner 9999 does not exist at the hub") == true)
        // An update may not change a key column.
        try world.hub.write(TestKinds.shelfLabel.entity, op: .insert, fields: ["code": .text("S3"), "text": .text("Chleb")])
        #expect { try world.hub.write(TestKinds.shelfLabel.entity, op: .update, key: "S3", fields: ["code": .text("S4")]) }
            throws: { "\($0)".contains("code cannot be changed") }
        #expect(try world.hub.record(TestKinds.shelfLabel.entity, key: "S2") == nil)
        #expect(try world.hub.record(TestKinds.shelfLabel.entity, key: "S3")?["text"] == .text("Chleb"))
        // A receiver that does not know a kind refuses a batch naming it; one that does reads it.
        let label = change("hub", 1, hlc: 1 << 16, TestKinds.shelfLabel.entity, "S1", .insert, ["code": .text("S1"), "text": .text("x")])
        let bytes = try BatchCodec.encode(node: "hub", changes: [label])
        #expect(throws: BatchError.self) { try BatchCodec.decode(bytes) }
        #expect(try BatchCodec.decode(bytes, limits: BatchLimits(kinds: TestKinds.kinds)).changes == [label])
    }

    @Test("records every store receives reach every region, and each region's hashes still agree")
    func chainScopeAcrossRegions() async throws {
        let world = try World(regions: ["A": "NORTH", "B": "SOUTH", "C": "NORTH"], kinds: TestKinds.kinds)
        try world.hub.write(TestKinds.shelfLabel.entity, op: .insert, fields: ["code": .text("S1"), "text": .text("Kawa")])
        _ = try world.store("A").addPartner(consumer("1001"))
        try world.store("A").write(TestKinds.visitNote.entity, op: .insert, fields: ["partner_code": .text("1001"), "seq": .int(0)])
        try await world.syncAll()
        for id in ["A", "B", "C"] {
            #expect(try world.store(id).record(TestKinds.shelfLabel.entity, key: "S1")?["text"] == .text("Kawa"), "\(id)")
        }
        // The note follows its customer's region.
        #expect(try world.store("C").record(TestKinds.visitNote.entity, key: "1001|0") != nil)
        #expect(try world.store("B").record(TestKinds.visitNote.entity, key: "1001|0") == nil)
        let hashes = try world.hub.regionStateHashes()
        #expect(Set(hashes.keys) == ["NORTH", "SOUTH"])
        #expect(try world.store("A").stateHash() == hashes["NORTH"])
        #expect(try world.store("B").stateHash() == hashes["SOUTH"])
    }

    @Test("a prefix rename of a clashing customer carries into the declared kind's partner column and key")
    func renameCarries() async throws {
        let world = try World(kinds: TestKinds.kinds)
        let a = world.store("A"), b = world.store("B")
        _ = try a.addPartner(consumer("1001"))
        _ = try b.addPartner(consumer("1001", first: "Ewa"))
        try b.write(TestKinds.visitNote.entity, op: .insert, fields: ["partner_code": .text("1001"), "seq": .int(1), "note": .text("Ewa's note")])
        try await world.sync("A")
        try await world.sync("B")
        try await world.syncAll()
        #expect(try b.record(TestKinds.visitNote.entity, key: "K2-1001|1")?["note"] == .text("Ewa's note"))
        #expect(try world.hub.record(TestKinds.visitNote.entity, key: "K2-1001|1")?["partner_code"] == .text("K2-1001"))
        #expect(try world.hub.record(TestKinds.visitNote.entity, key: "1001|1") == nil)
        #expect(try world.hashesAgree())
    }

    @Test("a store made before a kind was declared gets its table when it opens with it; the hub gets its columns too")
    func laterDeclaration() throws {
        let dir = try TemporaryDirectory(prefix: "kinds")
        defer { dir.remove() }
        _ = try NodeStore.create(path: dir.file("n.sqlite"), node: "A", site: "WAW", series: "K1")
        let reopened = try NodeStore.open(path: dir.file("n.sqlite"), kinds: TestKinds.kinds)
        #expect { try reopened.write(TestKinds.visitNote.entity, op: .insert, fields: ["partner_code": .text("1001"), "seq": .int(1)]) }
            throws: { "\($0)".contains("partner 1001 does not exist") }
        _ = try reopened.addPartner(consumer("1001"))
        try reopened.write(TestKinds.visitNote.entity, op: .insert, fields: ["partner_code": .text("1001"), "seq": .int(1)])
        #expect(try reopened.record(TestKinds.visitNote.entity, key: "1001|1") != nil)
        _ = try HubStore(path: dir.file("hub.sqlite"))
        let hub = try HubStore(path: dir.file("hub.sqlite"), kinds: TestKinds.kinds)
        let columns = try hub.pool.read { try String.fetchAll($0, sql: "SELECT name FROM pragma_table_info('shelf_label') ORDER BY cid") }
        #expect(columns == ["code", "text", "price_minor", "active", "clock_hlc", "clock_node", "clock_fields", "feed_gseq", "feed_echo"])
        // Declarations that cannot work are refused when the set is made.
        #expect(throws: RecordKinds.DeclarationError.self) {
            try RecordKinds.standard.adding(RecordKind(entity: Entity("twice", code: 0), table: "twice", columns: [.init("id", .text(max: 9))],
                                                       key: ["id"], writers: .stores))
        }
        #expect(throws: RecordKinds.DeclarationError.self) {
            try RecordKinds.standard.adding(RecordKind(entity: Entity("nokey", code: 199), table: "nokey", columns: [.init("id", .text(max: 9))],
                                                       key: ["name"], writers: .stores))
        }
    }
}
