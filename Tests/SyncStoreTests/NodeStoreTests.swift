import Foundation
import GRDB
import Testing
import SyncModel
import SyncTesting
@testable import SyncStore

/// A node store in its own temporary folder; `remove()` deletes it.
struct StoreFixture {
    let dir: TemporaryDirectory
    let store: NodeStore

    init(node: String = "N1", site: String = "WAW", series: String = "K1", center: CenterParameters = .init()) throws {
        dir = try TemporaryDirectory()
        store = try NodeStore.create(path: dir.file("node.sqlite"), node: node, site: site, series: series, center: center)
    }

    func remove() { dir.remove() }
}

func anna(_ code: String = "1001") -> Partner {
    Partner(code: code, kind: .consumer, firstName: "Anna", lastName: "Nowak", country: "PL", nationalID: "44051401359")
}

@Suite("Node store and journal")
struct NodeStoreTests {
    @Test("a partner and its journal entry are written together")
    func partnerWithJournal() throws {
        let fixture = try StoreFixture()
        defer { fixture.remove() }
        let store = fixture.store
        try store.addPartner(anna())
        let entries = try store.journal(entity: .partner, key: "1001")
        #expect(entries.count == 1)
        #expect(entries.first?.change.op == .insert)
        #expect(entries.first?.change.seq == 1)
        #expect(entries.first?.change.fields["first_name"] == .text("Anna"))
        #expect(try store.partner(code: "1001")?.originNode == "N1")
    }

    @Test("a duplicate code is refused naming code and writes nothing")
    func duplicateCode() throws {
        let fixture = try StoreFixture()
        defer { fixture.remove() }
        let store = fixture.store
        try store.addPartner(anna())
        let error = #expect(throws: FieldError.self) { try store.addPartner(anna()) }
        #expect(error?.field == "code")
        #expect(try store.pendingJournal().count == 1)
    }

    @Test("a missing mandatory field writes neither row nor journal entry")
    func invalidWritesNothing() throws {
        let fixture = try StoreFixture()
        defer { fixture.remove() }
        let store = fixture.store
        var p = anna()
        p.lastName = nil
        p.firstName = " "
        let error = #expect(throws: InvalidFields.self) { try store.addPartner(p) }
        #expect(error?.problems.map(\.field) == ["first_name", "last_name"])
        #expect(try store.partner(code: "1001") == nil)
        #expect(try store.pendingJournal().isEmpty)
    }

    @Test("the duplicate-NIP lookup matches a lower-case pl prefix, ignores deleted partners and the partner itself")
    func duplicateNIPLookup() throws {
        let fixture = try StoreFixture()
        defer { fixture.remove() }
        let store = fixture.store
        try store.addPartner(Partner(code: "B1", kind: .business, name: "Alpha", vatID: "pl5260250274", country: "PL"))
        let dup = Partner(code: "B2", kind: .business, name: "Beta", vatID: "526-025-02-74", country: "PL")
        #expect(throws: FieldError.self) { try store.addPartner(dup) }
        // Editing B1 itself (same NIP) is no duplicate.
        try store.updatePartner(code: "B1", changes: ["vat_id": .text("PL 5260250274")])
        try store.deletePartner(code: "B1")
        try store.addPartner(dup)
        #expect(try store.partner(code: "B2") != nil)
    }

    @Test("a duplicate Polish NIP is a warning the user may override")
    func duplicateNIP() throws {
        let fixture = try StoreFixture()
        defer { fixture.remove() }
        let store = fixture.store
        let b1 = Partner(code: "B1", kind: .business, name: "Alpha", vatID: "5260250274", country: "PL")
        var b2 = b1
        b2.code = "B2"
        b2.vatID = "PL 526-025-02-74"
        try store.addPartner(b1)
        let error = #expect(throws: FieldError.self) { try store.addPartner(b2) }
        #expect(error?.field == "vat_id")
        #expect(error?.overridable == true)
        #expect(try store.partner(code: "B2") == nil)
        try store.addPartner(b2, allowDuplicateVat: true)
        #expect(try store.partner(code: "B2") != nil)
    }

    @Test("the lowest-price flag comes from the center parameters, not from the input")
    func lowestPriceFromCenter() throws {
        let fixture = try StoreFixture(center: CenterParameters(lowestPriceForNewBusiness: true, lowestPriceForNewConsumer: false))
        defer { fixture.remove() }
        let store = fixture.store
        var consumer = anna()
        consumer.lowestPrice = true
        #expect(try store.addPartner(consumer).lowestPrice == false)
        #expect(try store.addPartner(Partner(code: "B1", kind: .business, name: "Alpha")).lowestPrice == true)
        let error = #expect(throws: FieldError.self) {
            try store.updatePartner(code: "1001", changes: ["lowest_price": .bool(true)])
        }
        #expect(error?.field == "lowest_price")
    }

    @Test("journal sequences are gapless and clocks increase")
    func gaplessJournal() throws {
        let fixture = try StoreFixture()
        defer { fixture.remove() }
        let store = fixture.store
        for i in 1...20 { try store.addPartner(anna("P\(i)")) }
        try store.updatePartner(code: "P1", changes: ["phone": .text("+48 600 100 200")])
        try store.addDocument(kind: .receipt, partnerCode: "P1", amountMinor: 1250, currency: "PLN")
        let entries = try store.pendingJournal()
        #expect(entries.map(\.change.seq) == Array(1...22))
        #expect(zip(entries, entries.dropFirst()).allSatisfy { $0.change.hlc < $1.change.hlc })
    }

    @Test("an update journals only the fields that changed")
    func updateJournalsChangedFields() throws {
        let fixture = try StoreFixture()
        defer { fixture.remove() }
        let store = fixture.store
        try store.addPartner(anna())
        try store.updatePartner(code: "1001", changes: ["phone": .text("123"), "first_name": .text("Anna")])
        let last = try #require(try store.pendingJournal().last)
        #expect(last.change.op == .update)
        #expect(last.change.fields == ["phone": .text("123")])
    }

    @Test("a deleted partner stays as a tombstone and its documents are kept")
    func deleteKeepsDocuments() throws {
        let fixture = try StoreFixture()
        defer { fixture.remove() }
        let store = fixture.store
        try store.addPartner(anna())
        try store.addDocument(kind: .invoice, partnerCode: "1001", amountMinor: 500, currency: "PLN")
        try store.deletePartner(code: "1001")
        #expect(try store.partner(code: "1001")?.deleted == true)
        #expect(try store.documents(partnerCode: "1001").count == 1)
        #expect(throws: FieldError.self) {
            try store.addDocument(kind: .receipt, partnerCode: "1001", amountMinor: 1, currency: "PLN")
        }
    }

    @Test("a receipt for an unknown partner or ship-to address is refused")
    func receiptNeedsPartnerAndAddress() throws {
        let fixture = try StoreFixture()
        defer { fixture.remove() }
        let store = fixture.store
        let e1 = #expect(throws: FieldError.self) { try store.addDocument(kind: .receipt, partnerCode: "X", amountMinor: 1, currency: "PLN") }
        #expect(e1?.field == "partner")
        try store.addPartner(anna())
        let e2 = #expect(throws: FieldError.self) {
            try store.addDocument(kind: .receipt, partnerCode: "1001", addressSeq: 2, amountMinor: 1, currency: "PLN")
        }
        #expect(e2?.field == "seq")
    }

    @Test("the state hash is equal for the same content arriving in different orders")
    func stateHashOrderIndependent() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let a = try NodeStore.create(path: dir.file("a.sqlite"), node: "A", site: "S", series: "A")
        let b = try NodeStore.create(path: dir.file("b.sqlite"), node: "B", site: "S", series: "B")
        let images: [Change] = (1...30).map { i in
            Change(seq: Int64(i), hlc: HLC(rawValue: UInt64(i)), node: "X", entity: .partner, key: "P\(i)", op: .insert,
                   fields: anna("P\(i)").fields)
        }
        try a.applyFeed(images, nextCursor: 30)
        try b.applyFeed(images.reversed(), nextCursor: 30)
        #expect(try a.stateHash() == b.stateHash())
        try b.applyFeed([Change(seq: 31, hlc: HLC(rawValue: 31), node: "X", entity: .partner, key: "P1", op: .update,
                                fields: anna("P1").fields.merging(["phone": .text("1")]) { $1 })], nextCursor: 31)
        #expect(try a.stateHash() != b.stateHash())
    }

    @Test("the standard kinds' declarations describe their tables: columns in order, required ones, key")
    func columnOrder() throws {
        let fixture = try StoreFixture()
        defer { fixture.remove() }
        for table in RecordKinds.standard.tables {
            let info = try fixture.store.pool.read { try Row.fetchAll($0, sql: "SELECT name, \"notnull\", pk FROM pragma_table_info('\(table.name)') ORDER BY cid") }
            #expect(info.map { $0["name"] as String } == table.columns, "\(table.name)")
            let required = table.kind.columns.filter { $0.required }.map(\.name)
            #expect(info.filter { ($0["notnull"] as Int) == 1 }.map { $0["name"] as String } == required, "\(table.name) NOT NULL")
            #expect(info.filter { ($0["pk"] as Int) > 0 }.sorted { ($0["pk"] as Int) < ($1["pk"] as Int) }.map { $0["name"] as String } == table.keyColumns,
                    "\(table.name) key")
        }
    }

    @Test("the store has readable partner, address, document and journal tables")
    func tablesExist() throws {
        let fixture = try StoreFixture()
        defer { fixture.remove() }
        let store = fixture.store
        let names = try store.pool.read { try String.fetchAll($0, sql: "SELECT name FROM sqlite_master WHERE type = 'table'") }
        for t in ["partner", "address", "document", "journal", "audit", "node_config"] { #expect(names.contains(t)) }
    }
}
