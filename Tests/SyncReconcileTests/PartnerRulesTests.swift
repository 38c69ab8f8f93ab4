import Foundation
import GRDB
import Testing
import SyncTesting
@testable import SyncHub
import SyncModel
import SyncNode
import SyncReconcile
@testable import SyncStore

/// The partner rules as a cashier meets them across stores and the hub (docs/rules.md).
@Suite("Partner rules across stores and the hub")
struct PartnerRulesTests {
    static let nip = "5260250274"

    func business(_ code: String, vat: String = nip, country: String? = "PL") -> Partner {
        Partner(code: code, kind: .business, name: "Alfa \(code)", vatID: vat, country: country)
    }

    @Test("a Polish VAT ID registered at another store is known to the hub's partner check")
    func hubCheckCoversNIP() async throws {
        let world = try World()
        try world.store("A").addPartner(business("B1"))
        try await world.sync("A")
        let check = try world.hub.partnerCheck(code: "b2", vatID: "PL 526-025-02-74", country: "PL")
        #expect(check.code == "B2" && !check.codeTaken && check.vatIDUsedBy == "B1")
        #expect(try world.hub.partnerCheck(code: "b1", vatID: nil, country: nil).codeTaken)
        // Another country's VAT ID is not a NIP: no warning.
        #expect(try world.hub.partnerCheck(code: "B3", vatID: Self.nip, country: "DE").vatIDUsedBy == nil)
    }

    @Test("a duplicate Polish VAT ID registered offline is saved and reported: hub audit, sync summary, store audit and status")
    func offlineDuplicateNIPReported() async throws {
        let world = try World()
        try world.store("A").addPartner(business("B1"))
        try await world.sync("A")
        // Store B is offline: it does not have B1 and nobody can warn the cashier.
        try world.store("B").addPartner(business("B2"))
        let summary = try await world.sync("B")
        #expect(summary.rejected.isEmpty)
        #expect(summary.warnings.count == 1)
        #expect(summary.warnings.first?.warning?.contains("already used by partner B1") == true)
        #expect(try world.hub.audit(kind: .duplicateVat).map(\.key) == ["B2"])
        #expect(try world.store("B").audit(kind: .duplicateVat).count == 1)
        #expect(try world.store("B").status().warnings == 1)
        try await world.syncAll()
        let groups = try await world.store("B").pool.read { try DuplicateFinder.candidates($0, site: "KRK") }
        #expect(groups.map(\.codes) == [["B1", "B2"]])
    }

    @Test("when the prefixed code is taken as well the rule adds -2, and the audit line says why")
    func secondSuffixExplained() async throws {
        let world = try World()
        try world.store("A").addPartner(consumer("1001"))
        try world.store("A").addPartner(consumer("K2-1001"))
        try await world.sync("A")
        try world.store("B").addPartner(consumer("1001"))
        let summary = try await world.sync("B")
        #expect(summary.renames.map(\.newCode) == ["K2-1001-2"])
        let line = try world.hub.audit(kind: .rename).last?.reason ?? ""
        #expect(line.contains("stored as K2-1001-2") && line.contains("K2-1001 was taken as well"), "\(line)")
    }

    @Test("a 40-character code that clashes becomes longer, and every command still takes it")
    func longPrefixedCodeStaysUsable() async throws {
        let world = try World()
        let long = String(repeating: "7", count: 40)
        try world.store("A").addPartner(consumer(long))
        try await world.sync("A")
        try world.store("B").addPartner(consumer(long))
        try await world.sync("B")
        let renamed = "K2-" + long
        let b = world.store("B")
        #expect(try b.partner(code: renamed) != nil)
        try b.updatePartner(code: renamed, changes: ["phone": .text("+48 600 000 000")])
        try b.addAddress(Address(partnerCode: renamed, site: "", seq: 0, street: "Długa 1"))
        try b.addDocument(kind: .receipt, partnerCode: renamed, amountMinor: 100, currency: "PLN")
        let summary = try await world.sync("B")
        #expect(summary.rejected.isEmpty, "\(summary.rejected)")
        try await world.syncAll()
        #expect(try world.hashesAgree())
    }

    @Test("NFC and NFD spellings and lower case are one code across stores: the second store's customer gets the prefix once")
    func normalFormAcrossStores() async throws {
        let world = try World()
        try world.store("A").addPartner(consumer("\u{17B}\u{D3}\u{141}W"))     // ŻÓŁW precomposed
        try await world.sync("A")
        try world.store("B").addPartner(consumer("z\u{307}o\u{301}\u{142}w"))  // żółw decomposed, lower case
        let summary = try await world.sync("B")
        #expect(summary.renames.count == 1)
        #expect(summary.renames.first.map { $0.newCode.utf8.elementsEqual("K2-\u{17B}\u{D3}\u{141}W".utf8) } == true)
        try await world.syncAll()
        #expect(try world.hashesAgree())
        #expect(try await world.hub.pool.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM partner") } == 2)
        // A pushed code not in normal form is refused at the hub, naming the field.
        let reply = try world.push("C", [change("C", 1, hlc: 1 << 20, .partner, "x1", .insert, consumer("x1").fields)])
        #expect(reply.results.first?.outcome == .rejected)
        #expect(reply.results.first?.reason?.contains("code: 'x1' is not in normal form") == true, "\(reply.results)")
    }

    @Test("the store audits moves the hub carried out and refused; a receipt for a moved-away customer says where it went")
    func movesVisibleAtStore() async throws {
        let world = try World()
        let a = world.store("A"), b = world.store("B")
        try a.addPartner(consumer("E1CUR"))
        try a.addAddress(Address(partnerCode: "E1CUR", site: "", seq: 0, street: "Warszawska 1"))
        try b.addPartner(consumer("E1NEW", first: "Jan"))
        try b.addAddress(Address(partnerCode: "E1NEW", site: "", seq: 0, street: "Krakowska 2"))
        try await world.syncAll()
        try a.requestMove(MoveRequest(currentCode: "E1CUR", currentSeq: 0, newCode: "E1NEW", newSeq: 0, fromSite: "KRK"))
        let refused = try a.requestMove(MoveRequest(currentCode: "E1CUR", currentSeq: 0, newCode: "E1NEW", newSeq: 0, fromSite: "GDA"))
        let summary = try await world.sync("A")
        #expect(summary.moves == ["E1CUR:0 -> E1NEW:0"])
        #expect(summary.rejected.map(\.seq) == [refused.seq])
        #expect(try a.audit(kind: .move).map(\.newValue) == ["E1NEW:0@WAW"])
        #expect(try a.audit(kind: .moveRefused).first?.reason.contains("condition") == true)
        #expect(try a.status().refused == 1)
        try await world.sync("A")
        let error = #expect(throws: FieldError.self) { try a.addDocument(kind: .receipt, partnerCode: "E1CUR", amountMinor: 100, currency: "PLN") }
        #expect(error?.reason.contains("moved to E1NEW") == true, "\(String(describing: error))")
    }

    @Test("after a rename the old code tells the cashier where their customer went")
    func oldCodeAfterRename() async throws {
        let world = try World()
        try world.store("A").addPartner(consumer("1001"))
        try await world.sync("A")
        let b = world.store("B")
        try b.addPartner(consumer("1001", first: "Jan"))
        try await world.sync("B")
        #expect(try b.renamed(from: "1001") == "K2-1001")
        #expect(try b.renamed(from: "K2-1001") == nil)
        // 1001 is now store A's customer at B, which `partner show 1001` says (process test).
        #expect(try b.partner(code: "1001")?.originNode == "A")
        // A store whose renamed code is held by nobody gets a refusal naming the new code.
        let c = world.store("C")
        try c.addPartner(consumer("2002"))
        try await world.sync("C")
        try await c.pool.write { db in
            try db.appendAudit(AuditRecord(node: "C", kind: .rename, entity: "partner", key: "K3-2002", field: "code",
                                           oldValue: "2001", newValue: "K3-2001", reason: "store-prefix rule"))
        }
        let error = #expect(throws: FieldError.self) { try c.addDocument(kind: .receipt, partnerCode: "2001", amountMinor: 1, currency: "PLN") }
        #expect(error?.reason.contains("is now K3-2001") == true, "\(String(describing: error))")
    }

    @Test("duplicates proposes the move that merges a group, with each condition's state, and keeps national IDs apart by country")
    func duplicateProposals() async throws {
        let world = try World()
        let a = world.store("A"), b = world.store("B")
        var anna = consumer("C1"); anna.nationalID = "44051401359"
        try a.addPartner(anna)
        try a.addAddress(Address(partnerCode: "C1", site: "", seq: 0, street: "Warszawska 1"))
        var anna2 = consumer("C2"); anna2.nationalID = "44051401359"
        try b.addPartner(anna2)
        try b.addAddress(Address(partnerCode: "C2", site: "", seq: 0, street: "Krakowska 2"))
        var german = consumer("C3"); german.country = "DE"; german.nationalID = "44051401359"
        try b.addPartner(german)
        try await world.syncAll()
        let groups = try await a.pool.read { try DuplicateFinder.candidates($0, site: "WAW") }
        let ids = groups.filter { $0.reason == "national_id" }
        #expect(ids.map(\.codes) == [["C1", "C2"]])
        let move = try #require(ids.first?.moves.first)
        #expect(move.command == "posnode customer move --current C1:0 --new C2:0 --from-site KRK")
        #expect(move.possible)
        #expect(move.conditions.allSatisfy(\.holds) && move.conditions.count == 8, "every condition but the region one, which the hub decides")
        // With a different currency condition 4 fails, and the proposal says so.
        try b.updatePartner(code: "C2", changes: ["currency": .text("EUR")])
        try await world.syncAll()
        let after = try await a.pool.read { try DuplicateFinder.candidates($0, site: "WAW") }.first { $0.reason == "national_id" }
        let failing = after?.moves.first?.conditions.filter { !$0.holds }.map(\.condition)
        #expect(failing == [4])
    }
}
