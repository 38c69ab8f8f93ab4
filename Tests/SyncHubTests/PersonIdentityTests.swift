import Foundation
import GRDB
import Testing
@testable import SyncHub
import SyncModel
import SyncReconcile
import SyncStore
import SyncTesting

/// Jan holds code 1001 at KRK (store B); Anna registered 1001 at WAW (store A) while A had not
/// heard of Jan, and the store-prefix rule made her K1-1001.
struct JanAndAnna {
    let world: World
    static let anna = Partner(code: "1001", kind: .consumer, firstName: "Annabella", lastName: "Wierzbicka-Zgoda", phone: "+48 611 222 333",
                              email: "annabella.wz@example.pl", country: "PL", nationalID: "02070201235")

    init(_ world: World? = nil) async throws {
        self.world = try world ?? World()
        let a = self.world.store("A"), b = self.world.store("B")
        _ = try b.addPartner(Partner(code: "1001", kind: .consumer, firstName: "Jan", lastName: "Kowalski", phone: "+48 500 100 200", country: "PL"))
        try b.addAddress(Address(partnerCode: "1001", site: "", seq: 0, street: "Floriańska 1", city: "Kraków"))
        _ = try b.addDocument(kind: .receipt, partnerCode: "1001", amountMinor: 990, currency: "PLN")
        try await self.world.sync("B")
        // A has not heard of Jan: Anna gets 1001 there, offline.
        _ = try a.addPartner(Self.anna)
        try a.addAddress(Address(partnerCode: "1001", site: "", seq: 0, street: "Ulica Zgody 9", city: "Warszawa"))
        _ = try a.addDocument(kind: .receipt, partnerCode: "1001", amountMinor: 5500, currency: "PLN")
        _ = try a.updatePartner(code: "1001", changes: ["phone": .text("+48 611 999 000")])
        try await self.world.syncAll()
    }

    /// Jan's record, addresses and documents as a store or the hub holds them.
    func jan(_ store: NodeStore) throws -> String {
        let p = try #require(try store.partner(code: "1001"))
        return "\(p) \(try store.addresses(partnerCode: "1001")) \(try store.documents(partnerCode: "1001").map { "\($0.id) \($0.amountMinor)" })"
    }
}

@Suite("Data-subject requests find the whole person and never another")
struct PersonIdentityTests {
    @Test("erasing a renamed customer erases her alone: the customer who holds her former code keeps every field, at the hub and every store")
    func erasureSparesTheHolderOfAFormerCode() async throws {
        let s = try await JanAndAnna()
        let world = s.world
        #expect(try world.store("A").partner(code: "K1-1001")?.lastName == JanAndAnna.anna.lastName, "the prefix rule renamed Anna")
        let janBefore = try world.stores.mapValues { try s.jan($0) }
        let janAtHub = try world.hub.record(.partner, key: "1001")

        let c = try world.hub.addAccessRequest(.partner, values: ["K1-1001"])
        #expect(c.partners == ["K1-1001"])
        let report = try world.hub.accessReport(c.id)
        #expect(report.subjects.map(\.code) == ["K1-1001"], "the record holding 1001 now is Jan's, not hers")
        #expect(report.subjects[0].formerCodes == ["1001"])
        #expect(!"\(report.subjects[0].history)".contains("Kowalski"))
        let result = try world.hub.erase(case: c.id)
        #expect(result.partners == ["K1-1001"])
        try await world.syncAll()

        #expect(try world.hub.record(.partner, key: "1001") == janAtHub)
        for (id, store) in world.stores {
            #expect(try s.jan(store) == janBefore[id], "store \(id): Jan unchanged")
            #expect(try store.partner(code: "K1-1001")?.firstName == Erasure.placeholder)
        }
        // Jan's store can still edit him.
        _ = try world.store("B").updatePartner(code: "1001", changes: ["email": .text("jan.k@example.pl")])
        try await world.syncAll()
        #expect(try world.store("A").partner(code: "1001")?.email == "jan.k@example.pl")
        // A's journal kept Anna's first entries under 1001: they hold none of her data now.
        let journal = try world.store("A").journal(entity: .partner, key: "1001").map { $0.change.fields.canonicalJSON() }.joined()
        #expect(!journal.contains("Annabella") && !journal.contains("611"), "\(journal)")
        #expect(try world.hashesAgree())
        // No file of the hub or a store holds her name, phone or national ID.
        for file in try FileManager.default.contentsOfDirectory(atPath: world.dir.path) {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: world.dir.file(file)))
            for value in ["Annabella", "Wierzbicka", "611 222 333", "02070201235", "Ulica Zgody"] {
                #expect(bytes.range(of: Data(value.utf8)) == nil, "\(file) still holds \(value)")
            }
        }
    }

    @Test("a code that was two customers' is refused with both as candidates, at the hub and at the store; --record names the holder")
    func ambiguousCodeIsRefused() async throws {
        let s = try await JanAndAnna()
        do {
            _ = try s.world.hub.addAccessRequest(.partner, values: ["1001"])
            Issue.record("an ambiguous code opened a case")
        } catch let HubError.invalid(e) {
            #expect(e.field == "partner" && e.reason.contains("1001 (Jan Kowalski") && e.reason.contains("K1-1001 (Annabella"), "\(e.reason)")
            #expect(e.reason.contains("--record"))
        }
        #expect(try s.world.hub.addAccessRequest(.record, values: ["1001"]).partners == ["1001"])
        // At Anna's store, 1001 was hers before the rename and is Jan's now.
        #expect { try s.world.store("A").accessExtract(codes: ["1001"], exact: false) } throws: { "\($0)".contains("K1-1001") }
        let jan = try s.world.store("A").accessExtract(codes: ["1001"], exact: true)
        #expect(!"\(jan)".contains("Annabella") && jan.partners.count == 1, "Jan's extract holds none of Anna's history")
        let anna = try s.world.store("A").accessExtract(codes: ["K1-1001"], exact: false)
        #expect(anna.formerCodes == ["1001"] && !"\(anna)".contains("Kowalski"))
    }

    @Test("identifiers are compared as the checks compare them: spaces, dashes and the PL prefix do not hide a person")
    func identifiersAreNormalised() async throws {
        let world = try World()
        _ = try world.store("A").addPartner(Partner(code: "P1", kind: .consumer, firstName: "Ewa", lastName: "Lis", country: "PL", nationalID: "020702 01235"))
        _ = try world.store("A").addPartner(Partner(code: "P2", kind: .business, name: "Lis Sp. z o.o.", vatID: "PL 526-025-02-74", email: "Biuro@Lis.PL", country: "PL"))
        _ = try world.store("A").addPartner(Partner(code: "P3", kind: .consumer, firstName: "Olga", lastName: "Nowak", country: "PL", nationalID: "44051401359"))
        try await world.sync("A")
        #expect(try world.hub.addAccessRequest(.nationalID, values: ["02070201235"]).partners == ["P1"])
        #expect(try world.hub.addAccessRequest(.nationalID, values: ["4405 1401 359"]).partners == ["P3"])
        for vat in ["5260250274", "526-025-02-74", "PL5260250274", "pl 526 025 02 74"] {
            #expect(try world.hub.addAccessRequest(.vatID, values: [vat]).partners == ["P2"], "\(vat)")
        }
        #expect(try world.hub.addAccessRequest(.email, values: [" biuro@lis.pl "]).partners == ["P2"])
    }

    @Test("a case follows its record through a customer move, and the report and the erasure cover the record moved onto")
    func caseFollowsAMove() async throws {
        let world = try World()
        let a = world.store("A"), b = world.store("B")
        _ = try a.addPartner(Partner(code: "W1", kind: .consumer, firstName: "Witold", lastName: "Gombrowski", phone: "+48 700 000 001", country: "PL"))
        try a.addAddress(Address(partnerCode: "W1", site: "", seq: 0, street: "Nowy Świat 5", city: "Warszawa"))
        let receipt = try a.addDocument(kind: .receipt, partnerCode: "W1", amountMinor: 1200, currency: "PLN")
        _ = try b.addPartner(Partner(code: "G9", kind: .consumer, firstName: "Witold", lastName: "Gombrowski", phone: "+48 700 000 002", country: "PL"))
        try b.addAddress(Address(partnerCode: "G9", site: "", seq: 0, street: "Rynek 1", city: "Kraków"))
        try await world.syncAll()
        let c = try world.hub.addAccessRequest(.partner, values: ["W1"])
        try world.hub.move(MoveRequest(currentCode: "W1", currentSeq: 0, newCode: "G9", newSeq: 0, fromSite: "KRK", site: "WAW"))
        try await world.syncAll()

        let report = try world.hub.accessReport(c.id)
        #expect(report.subjects.map(\.code) == ["G9", "W1"])
        let g9 = try #require(report.subjects.first { $0.code == "G9" })
        #expect(g9.documents.map(\.id) == [receipt.id] && g9.addresses.count == 2 && g9.formerCodes == ["W1"])
        #expect(g9.data.contains { $0.value == "+48 700 000 002" } && report.subjects[1].data.contains { $0.value == "+48 700 000 001" },
                "the record moved onto holds another phone number: both are in the report")
        // The stores answer about both records.
        try await world.sync("A")
        let extract = try #require(try world.hub.accessReport(c.id).stores.first { $0.node == "A" }?.extract)
        #expect(extract.contains("G9") && extract.contains("W1"))

        let result = try world.hub.erase(case: c.id)
        #expect(result.partners == ["G9", "W1"])
        try await world.syncAll()
        for store in world.stores.values {
            #expect(try store.partner(code: "G9")?.phone == nil && store.partner(code: "W1")?.phone == nil)
        }
    }

    @Test("an offline membership of an erased customer is refused and leaves no trace; a move onto or from an erased customer is refused naming the case")
    func erasedCustomerTakesNoNewData() async throws {
        let world = try World()
        let a = world.store("A"), c = world.store("C")
        try a.write(.institution, op: .insert, fields: ["code": .text("SZK1"), "name": .text("Szkoła 1"), "kind": .text("organisation"), "active": .bool(true)])
        _ = try a.addPartner(Person.partner("P1"))
        try a.addAddress(Address(partnerCode: "P1", site: "", seq: 0, street: "Ulica Zbigniewa 7", city: "Wrocław"))
        _ = try world.store("B").addPartner(consumer("P2"))
        try world.store("B").addAddress(Address(partnerCode: "P2", site: "", seq: 0, street: "Rynek 2", city: "Kraków"))
        try await world.syncAll()
        // C is offline during the erasure and adds a membership afterwards.
        let ar = try world.hub.addAccessRequest(.partner, values: ["P1"])
        _ = try world.hub.erase(case: ar.id)
        try c.write(.membership, op: .insert, fields: ["partner_code": .text("P1"), "institution_code": .text("SZK1")])
        let summary = try await world.sync("C")
        #expect(summary.rejected.first?.reason?.contains("erased under case \(ar.id)") == true, "\(summary.rejected)")
        try await world.syncAll()
        for store in world.stores.values {
            let count = try await store.pool.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM membership WHERE partner_code = 'P1'") }
            #expect(count == 0)
        }
        let atHub = try await world.hub.pool.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM membership") }
        #expect(atHub == 0)
        #expect(try world.hashesAgree())
        // Known at the store now: refused at the till.
        #expect(throws: FieldError.self) { try c.write(.membership, op: .insert, fields: ["partner_code": .text("P1"), "institution_code": .text("SZK1")]) }

        for request in [MoveRequest(currentCode: "P1", currentSeq: 0, newCode: "P2", newSeq: 0, fromSite: "KRK", site: "WAW"),
                        MoveRequest(currentCode: "P2", currentSeq: 0, newCode: "P1", newSeq: 0, fromSite: "WAW", site: "KRK")] {
            do {
                try world.hub.move(request)
                Issue.record("a move with an erased customer went through")
            } catch let e as MoveRefused {
                #expect(e.violations.contains { $0.condition == .neitherErased && $0.detail.contains(ar.id) }, "\(e)")
            }
        }
    }

    @Test("the stores learn only of cases about records of their region, and only they may answer")
    func casesAreScopedByRegion() async throws {
        let world = try World(regions: ["A": "north", "B": "north", "C": "south"])
        _ = try world.store("A").addPartner(Person.partner("P1"))
        try await world.syncAll()
        let ar = try world.hub.addAccessRequest(.partner, values: ["P1"])
        #expect(try world.hub.openAccessRequests(node: "B").map(\.id) == [ar.id])
        #expect(try world.hub.openAccessRequests(node: "C").isEmpty)
        #expect(refusalField { try world.hub.recordAccessExtract(case: ar.id, node: "C", extract: "{}") } == "case")
        try await world.sync("C")
        #expect(try world.hub.accessReport(ar.id).stores.map(\.node) == ["A", "B"])
    }

    @Test("an erasure whose rebuild could not end is finished by erasing the case again, and at the hub's next start")
    func pendingRebuildIsFinished() async throws {
        let world = try World()
        _ = try world.store("A").addPartner(Person.partner("P1"))
        try await world.syncAll()
        let ar = try world.hub.addAccessRequest(.partner, values: ["P1"])
        _ = try world.hub.erase(case: ar.id)
        #expect(try world.hub.compactionPending() == false)
        // As if a reader had held old pages: the mark stays.
        try await world.hub.pool.write { try $0.execute(sql: "INSERT INTO hub_meta (key, value) VALUES ('compaction_pending', '1')") }
        #expect(try world.hub.compactionPending())
        let again = try world.hub.erase(case: ar.id)
        #expect(again.compacted && again.partners.isEmpty)
        #expect(try world.hub.compactionPending() == false)
        #expect(refusalField { _ = try world.hub.erase(case: ar.id) } == "case", "nothing left to do: refused as before")
        try await world.hub.pool.write { try $0.execute(sql: "INSERT INTO hub_meta (key, value) VALUES ('compaction_pending', '1')") }
        let reopened = try HubStore(path: world.dir.file("hub.sqlite"))
        #expect(try reopened.compactionPending() == false)
    }

    @Test("a transferred customer's report names the system and its ids; the erasure removes them everywhere and a later transfer of the address is recognised as the same address")
    func externalReferences() async throws {
        let world = try World()
        _ = try world.hub.addSystem(name: "booking")
        func transfer() throws -> TransferResult {
            let json = """
                {"external_customer_id": "C-77123", "external_address_id": "ADDR-99881", "trigger": "invoice", "first_name": "Halina",
                 "last_name": "Przestrzelska", "debtor_number": "D-4455667", "city": "Poznań",
                 "invoice": {"external_number": "R-1", "currency": "PLN", "amount": "24.70"}}
                """
            return try world.hub.transferCustomers(system: "booking", items: [LenientItem(try JSONDecoder().decode(TransferItem.self, from: Data(json.utf8)))])[0]
        }
        let first = try transfer()
        let code = try #require(first.code)
        try await world.syncAll()
        #expect(try world.store("A").record(.externalRef, key: code)?["debtor_number"] == .text("D-4455667"))

        let ar = try world.hub.addAccessRequest(.partner, values: [code])
        let report = try world.hub.accessReport(ar.id)
        let subject = try #require(report.subjects.first)
        #expect(subject.source.system == "booking" && subject.source.node != "hub" || subject.source.system == "booking")
        #expect(subject.externalReferences.map(\.externalCustomerID) == ["C-77123"] && subject.externalReferences.first?.debtorNumber == "D-4455667")
        #expect(report.externalSystems == ["booking"] && report.categories.contains("identifiers"))
        #expect(AccessReportHTML.render(report).contains("D-4455667"))

        _ = try world.hub.erase(case: ar.id)
        try await world.syncAll()
        #expect(try world.hub.externalMapping(system: "booking", externalAddressID: "ADDR-99881") == nil)
        for store in world.stores.values { #expect(try store.record(.externalRef, key: code) == nil) }
        #expect(try world.hub.record(.externalRef, key: code) == nil)
        for file in try FileManager.default.contentsOfDirectory(atPath: world.dir.path) {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: world.dir.file(file)))
            for value in ["Przestrzelska", "D-4455667", "C-77123", "ADDR-99881"] {
                #expect(bytes.range(of: Data(value.utf8)) == nil, "\(file) still holds \(value)")
            }
        }
        let again = try transfer()
        #expect(again.action == "recreated" && again.code != code, "\(again)")
    }
}
