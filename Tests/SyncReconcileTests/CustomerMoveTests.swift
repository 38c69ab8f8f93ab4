import Foundation
import GRDB
import Testing
import SyncHub
import SyncModel
import SyncReconcile
import SyncStore
import SyncTesting

/// Seeds the hub's replicated tables directly for move scenarios: site A = WAW, site B = KRK.
struct MoveScenario {
    let world: World

    init() throws { world = try World() }

    func partner(_ code: String, currency: String = "PLN", corporate: String? = nil) throws {
        var p = consumer(code)
        p.currency = currency
        p.corporateCustomer = corporate
        try world.hub.pool.write { try ReplicatedTable.partner.upsert($0, image: p.fields) }
    }

    func address(_ code: String, _ site: String, _ seq: Int, street: String? = nil) throws {
        let a = Address(partnerCode: code, site: site, seq: seq, street: street ?? "\(code) \(site) \(seq)")
        try world.hub.pool.write { try ReplicatedTable.address.upsert($0, image: a.fields) }
    }

    func document(_ id: String, _ kind: DocumentKind, _ code: String, seq: Int, site: String = "WAW", amount: Int64 = 1000, status: String = "open") throws {
        let d = Document(id: id, kind: kind, partnerCode: code, addressSeq: seq, site: site, amountMinor: amount, currency: "PLN",
                         status: status, issuedAt: "2026-01-01T00:00:00Z", node: "A")
        try world.hub.pool.write { try ReplicatedTable.document.upsert($0, image: d.fields) }
    }

    func request(_ current: String, _ cs: Int, _ new: String, _ ns: Int) -> MoveRequest {
        MoveRequest(currentCode: current, currentSeq: cs, newCode: new, newSeq: ns, fromSite: "KRK", site: "WAW")
    }

    func violations(_ r: MoveRequest) throws -> [MoveCondition] {
        try world.hub.pool.read { try CustomerMove.violations($0, r) }.map(\.condition)
    }

    func addressKeys(_ code: String) throws -> [String] {
        try world.hub.pool.read { try String.fetchAll($0, sql: "SELECT site || '/' || seq FROM address WHERE partner_code = ? ORDER BY site, seq", arguments: [code]) }
    }

    func docRef(_ id: String) throws -> String {
        let f = try world.hub.pool.read { try ReplicatedTable.document.fetch($0, key: id) }
        return "\(f?["partner_code"]?.text ?? "?"):\(f?["address_seq"]?.int ?? -1)"
    }

    /// The basic valid setup: K1 at WAW (seq 0), K2 at KRK (seq 0).
    static func basic() throws -> MoveScenario {
        let s = try MoveScenario()
        try s.partner("K1"); try s.partner("K2")
        try s.address("K1", "WAW", 0); try s.address("K2", "KRK", 0, street: "K2 own bill-to")
        return s
    }
}

@Suite("Multi-site customer move")
struct CustomerMoveTests {
    @Test("a valid request has no violations")
    func valid() throws {
        let s = try MoveScenario.basic()
        #expect(try s.violations(s.request("K1", 0, "K2", 0)).isEmpty)
    }

    @Test("condition 1: the current customer and seq must exist at the current site")
    func condition1() throws {
        let s = try MoveScenario.basic()
        #expect(try s.violations(s.request("K1", 4, "K2", 0)).contains(.currentExistsAtSite))
    }

    @Test("condition 2: the new customer and seq must not exist at the current site yet")
    func condition2() throws {
        let s = try MoveScenario.basic()
        try s.address("K2", "WAW", 0)
        #expect(try s.violations(s.request("K1", 0, "K2", 0)) == [.newAbsentAtSite])
    }

    @Test("condition 3: the new customer and seq must exist at the other site")
    func condition3() throws {
        let s = try MoveScenario.basic()
        try s.partner("K9")
        #expect(try s.violations(s.request("K1", 0, "K9", 0)) == [.newExistsAtFromSite])
    }

    @Test("condition 4: currency codes must be equal")
    func condition4() throws {
        let s = try MoveScenario.basic()
        try s.partner("K2", currency: "EUR")
        #expect(try s.violations(s.request("K1", 0, "K2", 0)) == [.sameCurrency])
    }

    @Test("condition 5: the corporate customer must be equal")
    func condition5() throws {
        let s = try MoveScenario.basic()
        try s.partner("K2", corporate: "GROUP-1")
        #expect(try s.violations(s.request("K1", 0, "K2", 0)) == [.sameCorporateCustomer])
    }

    @Test("condition 6: a bill-to (seq 0) can only become a bill-to")
    func condition6() throws {
        let s = try MoveScenario.basic()
        try s.address("K2", "KRK", 5)
        try s.address("K2", "WAW", 0)
        #expect(try s.violations(s.request("K1", 0, "K2", 5)) == [.billToOnlyToBillTo])
    }

    @Test("a refused move changes nothing and names the condition")
    func refusedChangesNothing() throws {
        let s = try MoveScenario.basic()
        try s.partner("K2", currency: "EUR")
        try s.document("F1", .invoice, "K1", seq: 0)
        let before = try s.world.hub.stateHash()
        let error = #expect(throws: MoveRefused.self) { try s.world.hub.move(s.request("K1", 0, "K2", 0)) }
        #expect(error?.description.contains("condition 4 (currency codes are equal)") == true)
        #expect(try s.world.hub.stateHash() == before)
    }

    @Test("example 1: current with only a bill-to is replaced by the new customer; documents follow")
    func example1() throws {
        let s = try MoveScenario.basic()
        for (id, kind) in [("O1", DocumentKind.order), ("F1", .invoice), ("D1", .receivable), ("R1", .receipt)] {
            try s.document(id, kind, "K1", seq: 0)
        }
        try s.world.hub.move(s.request("K1", 0, "K2", 0))
        #expect(try s.addressKeys("K1").isEmpty)
        #expect(try s.addressKeys("K2") == ["KRK/0", "WAW/0"])
        for id in ["O1", "F1", "D1", "R1"] { #expect(try s.docRef(id) == "K2:0") }
        let k2WAW = try s.world.hub.pool.read { try ReplicatedTable.address.fetch($0, key: "K2|WAW|0") }
        #expect(k2WAW?["street"] == .text("K2 own bill-to"), "the new customer's bill-to is never overwritten by the current one's")
        #expect(try hubPartner(s.world, "K1")?["deleted"] == .bool(true))
    }

    @Test("example 2: current with ship-to addresses is kept; the new customer is added")
    func example2() throws {
        let s = try MoveScenario.basic()
        try s.address("K1", "WAW", 1)
        try s.address("K1", "WAW", 2)
        try s.document("O1", .order, "K1", seq: 0)
        try s.document("O2", .order, "K1", seq: 1)
        try s.world.hub.move(s.request("K1", 0, "K2", 0))
        #expect(try s.addressKeys("K1") == ["WAW/0", "WAW/1", "WAW/2"])
        #expect(try s.addressKeys("K2") == ["KRK/0", "WAW/0"])
        #expect(try s.docRef("O1") == "K2:0")
        #expect(try s.docRef("O2") == "K1:1")
        #expect(try hubPartner(s.world, "K1")?["deleted"] == .bool(false))
    }

    @Test("example 3: ship-to 3 becomes the new customer's ship-to 5; the new bill-to at the site is unchanged")
    func example3() throws {
        let s = try MoveScenario.basic()
        try s.address("K1", "WAW", 3)
        try s.address("K2", "KRK", 5, street: "K2 ship-to 5 from KRK")
        try s.address("K2", "WAW", 0, street: "K2 bill-to at WAW")
        try s.document("F3", .invoice, "K1", seq: 3)
        try s.document("F0", .invoice, "K1", seq: 0)
        // Without new seq 0 at the current site, the move is refused.
        let missing = try MoveScenario.basic()
        try missing.address("K1", "WAW", 3)
        try missing.address("K2", "KRK", 5)
        #expect(try missing.violations(missing.request("K1", 3, "K2", 5)) == [.newBillToAtSite])

        try s.world.hub.move(s.request("K1", 3, "K2", 5))
        #expect(try s.addressKeys("K1") == ["WAW/0"])
        #expect(try s.addressKeys("K2") == ["KRK/0", "KRK/5", "WAW/0", "WAW/5"])
        let copied = try s.world.hub.pool.read { try ReplicatedTable.address.fetch($0, key: "K2|WAW|5") }
        #expect(copied?["street"] == .text("K2 ship-to 5 from KRK"))
        let bill = try s.world.hub.pool.read { try ReplicatedTable.address.fetch($0, key: "K2|WAW|0") }
        #expect(bill?["street"] == .text("K2 bill-to at WAW"))
        #expect(try s.docRef("F3") == "K2:5")
        #expect(try s.docRef("F0") == "K1:0")
    }

    @Test("balances are untouched by the move and recomputed by the separate recalculation")
    func balances() throws {
        let s = try MoveScenario.basic()
        try s.document("F1", .invoice, "K1", seq: 0, amount: 10_000)
        try s.document("D1", .receivable, "K1", seq: 0, amount: 2_500)
        try s.document("O1", .order, "K1", seq: 0, amount: 700)
        try s.document("O2", .order, "K2", seq: 0, site: "KRK", amount: 300, status: "settled")
        try s.document("R1", .receipt, "K1", seq: 0, amount: 999)
        var balances = try s.world.hub.recalculateBalances()
        #expect(balances.first { $0.partnerCode == "K1" } == CustomerBalance(partnerCode: "K1", currency: "PLN", postedMinor: 12_500, orderMinor: 700))
        try s.world.hub.move(s.request("K1", 0, "K2", 0))
        let stored = try s.world.hub.pool.read { try Int64.fetchOne($0, sql: "SELECT posted_minor FROM customer_balance WHERE partner_code = 'K1'") }
        #expect(stored == 12_500, "the move itself does not touch balances")
        balances = try s.world.hub.recalculateBalances()
        #expect(balances.first { $0.partnerCode == "K1" }?.postedMinor == 0)
        #expect(balances.first { $0.partnerCode == "K2" } == CustomerBalance(partnerCode: "K2", currency: "PLN", postedMinor: 12_500, orderMinor: 700))
    }

    @Test("a move requested offline on a node is carried out by the hub on reconnect and reaches every node")
    func moveThroughSync() async throws {
        let world = try World()
        let a = world.store("A"), b = world.store("B")
        try a.addPartner(consumer("K1"))
        try a.addAddress(Address(partnerCode: "K1", site: "", seq: 0))
        try a.addDocument(kind: .order, partnerCode: "K1", amountMinor: 5000, currency: "PLN")
        try b.addPartner(consumer("K2", first: "Jan"))
        try b.addAddress(Address(partnerCode: "K2", site: "", seq: 0, street: "Krakowska 2"))
        try await world.syncAll()
        try a.requestMove(MoveRequest(currentCode: "K1", currentSeq: 0, newCode: "K2", newSeq: 0, fromSite: "KRK"))
        let refused = try a.requestMove(MoveRequest(currentCode: "K1", currentSeq: 0, newCode: "K2", newSeq: 0, fromSite: "GDA"))
        let summary = try await world.sync("A")
        #expect(summary.rejected.map(\.seq) == [refused.seq])
        #expect(summary.rejected.first?.reason?.contains("condition") == true)
        try await world.syncAll()
        #expect(try world.hashesAgree())
        #expect(try world.store("C").documents().map { "\($0.partnerCode):\($0.addressSeq)" } == ["K2:0"])
        #expect(try world.store("C").addresses(partnerCode: "K2").map(\.site) == ["KRK", "WAW"])
    }

    @Test("duplicates lists partners sharing a NIP, a PESEL, or e-mail and name")
    func duplicateCandidates() throws {
        let s = try MoveScenario()
        let rows = [
            Partner(code: "B1", kind: .business, name: "Alfa", vatID: "5260250274", country: "PL"),
            Partner(code: "B2", kind: .business, name: "Alfa SA", vatID: "PL 526-025-02-74", country: "PL"),
            Partner(code: "C1", kind: .consumer, firstName: "Anna", lastName: "Nowak", email: "Anna@X.pl ", nationalID: "44051401359"),
            Partner(code: "C2", kind: .consumer, firstName: "anna", lastName: "nowak", email: "anna@x.pl"),
            Partner(code: "C3", kind: .consumer, firstName: "Ewa", lastName: "Nowak", nationalID: "44051401359"),
        ]
        try s.world.hub.pool.write { db in for p in rows { try ReplicatedTable.partner.upsert(db, image: p.fields) } }
        let groups = try s.world.hub.pool.read { try DuplicateFinder.candidates($0) }
        #expect(groups.map(\.reason) == ["email+name", "national_id", "vat_id"])
        #expect(groups.map(\.codes) == [["C1", "C2"], ["C1", "C3"], ["B1", "B2"]])
    }
}
