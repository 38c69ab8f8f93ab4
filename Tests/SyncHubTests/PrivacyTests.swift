import Foundation
import Testing
@testable import SyncHub
import SyncModel
import SyncStore
import SyncTesting

/// The person every test here asks about: values no other record holds.
enum Person {
    static let first = "Zbigniewa", last = "Przybyszewska", email = "zbigniewa.p@example.pl", pesel = "44051401359"
    static func partner(_ code: String) -> Partner {
        Partner(code: code, kind: .consumer, firstName: first, lastName: last, email: email, country: "PL", nationalID: pesel)
    }
}

func refusalField(_ body: () throws -> Void) -> String? {
    do { try body(); return nil } catch let HubError.invalid(e) { return e.field } catch { return "\(error)" }
}

@Suite("Data-subject requests: cases, reports, the stores' extracts, erasure")
struct PrivacyTests {
    @Test("a case is due a month after receipt, extended by two months at most, closed once; unknown and closed cases are refused naming the case")
    func caseLifecycle() throws {
        let clock = SetClock(day: "2026-02-10")
        let world = try World(hubClock: clock.now)
        let hub = world.hub
        _ = try world.store("A").addPartner(Person.partner("P1"))
        #expect(refusalField { _ = try hub.addAccessRequest(.email, values: [Person.email], received: "2026-02-11") } == "received", "not in the future")
        let c = try hub.addAccessRequest(.email, values: [Person.email.uppercased()], received: "2026-01-31")
        #expect(c.id == "AR-0001" && c.due == "2026-02-28" && c.partners.isEmpty, "not synced yet: nobody at the hub")
        #expect(try hub.extendAccessRequest(c.id, months: 1, reason: "records at 40 stores").due == "2026-03-31")
        #expect(refusalField { _ = try hub.extendAccessRequest(c.id, months: 2, reason: "more") } == "months")
        #expect(refusalField { _ = try hub.extendAccessRequest(c.id, months: 1, reason: " ") } == "reason")
        // An extension is decided within the first month after receipt (Art. 12(3)).
        let late = try hub.addAccessRequest(.email, values: ["x@y.pl"], received: "2026-01-05")
        #expect(refusalField { _ = try hub.extendAccessRequest(late.id, months: 1, reason: "records at 40 stores") } == "case", "overdue: too late to extend")
        clock.set(day: "2026-03-01")
        #expect(refusalField { _ = try hub.extendAccessRequest(c.id, months: 1, reason: "more") } == "case", "past the first month")
        #expect(refusalField { _ = try hub.addAccessRequest(.email, values: ["x@y.pl"], received: "2026-02-30") } == "received")
        _ = try hub.closeAccessRequest(c.id, answer: "report sent by post")
        #expect(refusalField { _ = try hub.closeAccessRequest(c.id, answer: "again") } == "case")
        #expect(refusalField { _ = try hub.erase(case: c.id) } == "case", "a closed case is not erased: open a new one")
        #expect(refusalField { _ = try hub.accessRequest("AR-9999") } == "case")
        #expect(try hub.accessRequests().map(\.id) == [late.id] && hub.accessRequests(includeClosed: true).count == 2)
    }

    @Test("an e-mail two customers share is refused with both codes; the operator names the records by code")
    func ambiguousIdentifier() async throws {
        let world = try World()
        _ = try world.store("A").addPartner(Person.partner("P1"))
        _ = try world.store("B").addPartner(Partner(code: "P2", kind: .consumer, firstName: "Jan", lastName: "Kowalski", email: Person.email))
        try await world.syncAll()
        do {
            _ = try world.hub.addAccessRequest(.email, values: [Person.email])
            Issue.record("an ambiguous e-mail opened a case")
        } catch let HubError.invalid(e) {
            #expect(e.field == "email" && e.reason.contains("P1") && e.reason.contains("P2"), "\(e.reason)")
        }
        let c = try world.hub.addAccessRequest(.partner, values: ["p1"])
        #expect(c.partners == ["P1"])
        let nobody = try world.hub.accessReport(try world.hub.addAccessRequest(.nationalID, values: ["00000000000"]).id)
        #expect(!nobody.found && nobody.notes.first?.contains("No record") == true)
    }

    @Test("the report lists every datum with the store that wrote it, addresses, documents, older values, recipients; stores answer at their next sync")
    func reportAndExtracts() async throws {
        let world = try World()
        let a = world.store("A"), b = world.store("B")
        _ = try a.addPartner(Person.partner("P1"))
        try a.addAddress(Address(partnerCode: "P1", site: "", seq: 0, street: "Ulica Zbigniewa 7", city: "Wrocław", postalCode: "50-001"))
        _ = try a.addDocument(kind: .receipt, partnerCode: "P1", amountMinor: 1234, currency: "PLN")
        try await world.syncAll()
        _ = try b.updatePartner(code: "P1", changes: ["phone": .text("+48 600 700 800")])
        try await world.syncAll()

        let c = try world.hub.addAccessRequest(.nationalID, values: [Person.pesel])
        var report = try world.hub.accessReport(c.id)
        #expect(report.found && report.subjects.map(\.code) == ["P1"])
        let s = report.subjects[0]
        #expect(s.source.node == "A" && s.source.site == "WAW")
        #expect(s.data.first { $0.field == "phone" }?.node == "B", "the phone was written at B")
        #expect(s.data.first { $0.field == "last_name" }?.node == "A")
        #expect(s.addresses.first?.street == "Ulica Zbigniewa 7" && s.documents.map(\.amountMinor) == [1234])
        #expect(Set(report.categories).isSuperset(of: ["identity", "identifiers", "contact", "addresses", "documents"]))
        #expect(report.policy.contains { $0.category == "identifiers" && $0.legalBasis.contains("Art. 6(1)(c)") })
        #expect(Set(report.recipients.map(\.node)) == ["A", "B", "C"])
        #expect(report.stores.allSatisfy { $0.answeredAt == nil })

        let summary = try await world.sync("A")
        #expect(summary.accessExtracts == 1)
        #expect(try await world.sync("A").accessExtracts == 0, "answered once")
        report = try world.hub.accessReport(c.id)
        let answer = report.stores.first { $0.node == "A" }
        #expect(answer?.answeredAt != nil && answer?.extract?.contains(Person.last) == true)
        #expect(report.stores.filter { $0.answeredAt == nil }.map(\.node) == ["B", "C"])
        let html = AccessReportHTML.render(report)
        #expect(html.contains("Purposes, legal basis and storage period") && html.contains(Person.last) && html.contains("pending"))
    }

    @Test("an erasure replaces the person's data at the hub and every store, keeps the receipt, refuses an offline edit that would bring it back, and leaves no older copy")
    func erasure() async throws {
        let world = try World()
        let a = world.store("A"), c = world.store("C")
        _ = try a.addPartner(Person.partner("P1"))
        try a.addAddress(Address(partnerCode: "P1", site: "", seq: 0, street: "Ulica Zbigniewa 7", city: "Wrocław"))
        let receipt = try a.addDocument(kind: .receipt, partnerCode: "P1", amountMinor: 1234, currency: "PLN")
        try await world.syncAll()
        // C is offline from here on and changes the customer's e-mail.
        _ = try c.updatePartner(code: "P1", changes: ["email": .text("zbigniewa.new@example.pl")])

        let ar = try world.hub.addAccessRequest(.partner, values: ["P1"])
        let result = try world.hub.erase(case: ar.id, reason: "request by letter")
        #expect(result.partners == ["P1"] && result.addresses == 1)
        let atHub = try #require(try world.hub.record(.partner, key: "P1"))
        #expect(atHub["first_name"] == .text(Erasure.placeholder) && atHub["email"] == .null && atHub["national_id"] == .null)
        #expect(try world.hub.audit(kind: .erasure).count == 1)
        #expect(refusalField { _ = try world.hub.erase(case: ar.id) } == "case", "erased once")

        for id in ["A", "B"] { try await world.sync(id) }
        let summary = try await world.sync("C")
        #expect(summary.rejected.first?.reason?.contains("erased under case \(ar.id)") == true, "\(summary.rejected)")
        #expect(summary.rejected.first?.code == "erased")
        try await world.syncAll()
        for store in [a, world.store("B"), c] {
            let p = try #require(try store.partner(code: "P1"))
            #expect(p.firstName == Erasure.placeholder && p.email == nil && p.nationalID == nil)
            #expect(try store.documents(partnerCode: "P1").map(\.id) == [receipt.id], "the receipt is kept")
            #expect(try store.addresses(partnerCode: "P1").allSatisfy { $0.street == nil && $0.city == nil })
            let journal = try store.journal(entity: .partner, key: "P1").map { $0.change.fields.canonicalJSON() }.joined()
            #expect(!journal.contains(Person.last) && !journal.contains("zbigniewa"), "\(journal)")
            #expect(try store.audit().allSatisfy { !"\($0)".contains(Person.last) && !"\($0)".contains("zbigniewa") })
        }
        func pending(_ store: NodeStore) async throws -> Bool? {
            try await store.pool.read { try Bool.fetchOne($0, sql: "SELECT compaction_pending FROM node_config") }
        }
        for store in [a, world.store("B"), c] { #expect(try await pending(store) == false, "rebuilt") }
        // A rebuild left pending (a reader kept old pages) is done by the next round.
        try await c.pool.write { try $0.execute(sql: "UPDATE node_config SET compaction_pending = 1") }
        #expect(try await pending(c) == true)
        try await world.sync("C")
        #expect(try await pending(c) == false)
        // Once a store knows, it refuses to take the data again.
        #expect(throws: FieldError.self) { try c.updatePartner(code: "P1", changes: ["email": .text("again@example.pl")]) }
        #expect(try world.hashesAgree())
    }
}
