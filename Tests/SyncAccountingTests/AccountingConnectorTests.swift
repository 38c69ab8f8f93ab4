import Foundation
import SyncAccounting
import SyncHub
import SyncModel
import SyncStore
import SyncTesting
import Testing

/// The accounting connector against the test ERP (docs/accounting.md), stores and hub in-process.
@Suite("Accounting connector: documents become ERP invoices, the ERP's status comes back to every store")
struct AccountingConnectorTests {
    static func connector(_ world: World, _ erp: RunningERP, maxThrottled: Int = 20) -> AccountingConnector {
        let config = AccountingConfig(baseURL: erp.baseURL, company: "CRONUS", user: "erp", smtp: "127.0.0.1:25",
                                      mailFrom: "hub@chain.example", mailTo: ["accounting@chain.example"])
        let adapter = BusinessCentralAdapter(baseURL: erp.baseURL, company: "CRONUS", user: "erp", password: "secret",
                                             backoff: [0.05, 0.1, 0.2], maxThrottled: maxThrottled)
        return AccountingConnector(hub: world.hub, config: config, erp: adapter, mailer: nil)
    }

    static func chain() throws -> World {
        let world = try World()
        try publishCatalog(world.hub)
        let a = world.store("A")
        _ = try a.addPartner(Partner(code: "1001", kind: .business, name: "Firma Nowak", vatID: "5260250995", country: "PL"))
        _ = try a.addAddress(Address(partnerCode: "1001", site: "WAW", seq: 0, street: "Długa 1", city: "Warszawa", postalCode: "00-238"))
        _ = try a.addAddress(Address(partnerCode: "1001", site: "WAW", seq: 2, street: "Księgowa 2", city: "Warszawa", postalCode: "00-950"))
        _ = try a.addPartner(Partner(code: "2002", kind: .business, name: "Hotel Kraków", country: "PL"))
        _ = try a.addAddress(Address(partnerCode: "2002", site: "WAW", seq: 0, street: "Rynek 5", city: "Kraków", postalCode: "31-042"))
        return world
    }

    static let ready: Fields = ["invoice_status": .text("open"), "payment_method": .text("BANK"), "payment_terms": .text("14D")]

    @Test("the source's status table: open with method and terms is created (one invoice per installment, parts adding up), missing information and an inexact salesperson are actionable, cancelled and paid are ignored; the numbers reach every store")
    func statusTable() async throws {
        let erp = try await RunningERP()
        defer { erp.stop() }
        try await erp.seedStandard()
        let world = try Self.chain()
        let a = world.store("A")
        try await world.syncAll()
        let single = try a.addDocument(kind: .invoice, partnerCode: "1001", addressSeq: 0, lines: [("ADULT", 3)], invoicing: Self.ready.merging(["salesperson": .text("AH")]) { $1 })
        var threeParts = Self.ready; threeParts["installments"] = .int(3); threeParts["bill_to_seq"] = .int(2)
        let parts = try a.addDocument(kind: .receivable, partnerCode: "1001", amountMinor: 10_000, currency: "PLN", invoicing: threeParts)
        let noTerms = try a.addDocument(kind: .invoice, partnerCode: "1001", amountMinor: 500, currency: "PLN",
                                        invoicing: ["invoice_status": .text("open"), "payment_method": .text("BANK")])
        let phone = try a.addDocument(kind: .order, partnerCode: "1001", amountMinor: 700, currency: "PLN",
                                      invoicing: Self.ready.merging(["salesperson": .text("AH 0171 2345678")]) { $1 })
        let cancelled = try a.addDocument(kind: .invoice, partnerCode: "1001", amountMinor: 900, currency: "PLN", invoicing: ["invoice_status": .text("cancelled"), "payment_method": .text("BANK"), "payment_terms": .text("14D")])
        let paid = try a.addDocument(kind: .invoice, partnerCode: "1001", amountMinor: 900, currency: "PLN",
                                     invoicing: Self.ready.merging(["payment_status": .text("paid")]) { $1 })
        let none = try a.addDocument(kind: .invoice, partnerCode: "1001", amountMinor: 900, currency: "PLN", invoicing: ["payment_method": .text("BANK")])
        try await world.syncAll()

        let connector = Self.connector(world, erp)
        let first = try await connector.run(.invoices)
        #expect(first.outcome == "actionable" && first.exitCode == 3)
        #expect(first.created == 2 && first.ignored == 2, "\(first)")
        #expect(Set(first.actionableErrors.map { "\($0.document) \($0.kind)" }) == ["\(noTerms.id) missing-information", "\(phone.id) unknown-salesperson"])
        #expect(first.actionableErrors.first { $0.document == noTerms.id }?.message.contains("payment terms") == true)
        #expect(first.actionableErrors.first { $0.document == phone.id }?.message.contains("phone number") == true)

        let invoices = try await erp.invoices()
        #expect(invoices.count == 4, "one for the single document, three installments")
        let installmentTotals = invoices.filter { ($0["externalDocumentNumber"] as? String)?.hasPrefix(parts.id + "/") == true }
            .map { Int64((($0["totalAmountIncludingTax"] as? Double) ?? 0) * 100 + 0.5) }
        #expect(installmentTotals.sorted() == [3333, 3333, 3334] && installmentTotals.reduce(0, +) == 10_000)
        let singleInvoice = try #require(invoices.first { $0["externalDocumentNumber"] as? String == "\(single.id)/1" })
        let lines = try #require(singleInvoice["salesInvoiceLines"] as? [[String: Any]])
        #expect(lines.first?["lineObjectNumber"] as? String == "4711" && (lines.first?["quantity"] as? Int) == 3, "the offer's article code")
        #expect(singleInvoice["salesperson"] as? String == "AH")
        let debtors = try #require(try await erp.state()["customers"] as? [[String: Any]])
        #expect(debtors.map { $0["number"] as? String } == ["1001"], "the debtor created once, under the customer's number")

        try await world.syncAll()
        for store in ["A", "B", "C"] {
            let s = world.store(store)
            #expect(try s.document(id: single.id)?.invoiceStatus == .provisional)
            #expect(try s.document(id: parts.id)?.referenceNumbers?.split(separator: ";").count == 3)
            #expect(try s.document(id: noTerms.id)?.invoiceStatus == .open)
            #expect(try s.document(id: cancelled.id)?.referenceNumbers == nil)
            #expect(try s.document(id: paid.id)?.invoiceStatus == .open, "paid: ignored whatever the status")
            #expect(try s.document(id: none.id)?.invoiceStatus == nil)
        }
        #expect(try world.hashesAgree())

        // Posted and dunned in the ERP: the posted number replaces the provisional one.
        let provisional = try #require(try world.hub.invoiceParts(document: single.id).first?.number)
        try await erp.control("post", ["number": provisional])
        let posted = try #require(try await erp.invoices().first { $0["externalDocumentNumber"] as? String == "\(single.id)/1" }?["number"] as? String)
        try await erp.control("remind", ["number": posted, "level": 3])
        let second = try await connector.run(.invoices)
        #expect(second.updated == 1 && second.created == 0)
        #expect(second.actionableErrors.allSatisfy { $0.times == 2 }, "actionable errors are repeated until fixed")
        try await world.syncAll()
        let dunned = try #require(try world.store("C").document(id: single.id))
        #expect(dunned.invoiceStatus == .dunning2 && dunned.referenceNumbers == posted && dunned.booking?.contains("posted") == true)

        // Fixed at the store: the next run creates it and the error is closed.
        _ = try a.updateDocumentInvoicing(id: noTerms.id, changes: ["payment_terms": .text("30D")])
        try await world.syncAll()
        let third = try await connector.run(.invoices)
        #expect(third.created == 1 && !third.actionableErrors.contains { $0.document == noTerms.id })
        #expect(try world.hub.openAccountingIssues().map(\.document) == [phone.id])
        // Paid in the ERP: the document says so and is left alone afterwards.
        try await erp.control("pay", ["number": posted])
        _ = try await connector.run(.invoices)
        #expect(try world.hub.invoicedDocuments().first { $0.id == single.id }?.paymentStatus == .paid)
        let requestsBefore = try await erp.state()["requests"] as? Int ?? 0
        _ = try await connector.run(.invoices)
        let perRun = (try await erp.state()["requests"] as? Int ?? 0) - requestsBefore
        #expect(perRun < 12, "a paid document costs no request: \(perRun)")
    }

    @Test("never twice: a creation whose reply was lost is found by its external document number, not created again")
    func lostReply() async throws {
        let erp = try await RunningERP()
        defer { erp.stop() }
        try await erp.seedStandard()
        let world = try Self.chain()
        let a = world.store("A")
        var twoParts = Self.ready; twoParts["installments"] = .int(2)
        let doc = try a.addDocument(kind: .invoice, partnerCode: "1001", amountMinor: 5_000, currency: "PLN", invoicing: twoParts)
        try await world.syncAll()
        try await erp.control("faults", ["dropInvoiceReplies": 2])
        let report = try await Self.connector(world, erp).run(.invoices)
        #expect(report.created == 1 && report.systemErrors.isEmpty, "\(report.systemErrors)")
        #expect(report.createdInvoices.filter(\.foundAgain).count == 2)
        let invoices = try await erp.invoices()
        #expect(invoices.count == 2, "two installments, each created once: \(invoices.map { $0["externalDocumentNumber"] ?? "" })")
        #expect(Set(invoices.compactMap { $0["externalDocumentNumber"] as? String }) == ["\(doc.id)/1", "\(doc.id)/2"])
        #expect(try world.hub.invoicedDocuments().first?.invoiceStatus == .provisional)
    }

    @Test("a creation asked for in a run that ended before its reply is looked up at the next run before anything is created")
    func interruptedRun() async throws {
        let erp = try await RunningERP()
        defer { erp.stop() }
        try await erp.seedStandard()
        let world = try Self.chain()
        let doc = try world.store("A").addDocument(kind: .invoice, partnerCode: "1001", amountMinor: 5_000, currency: "PLN", invoicing: Self.ready)
        try await world.syncAll()
        // The ERP created it, the connector noted the attempt, then the hub stopped (no reply seen).
        try world.hub.noteInvoiceAttempt(InvoicePart(document: doc.id, installment: 1, externalNumber: "\(doc.id)/1"), run: 0)
        try await erp.control("seed", ["customers": [["number": "1001", "displayName": "Firma Nowak"]]])
        let adapter = BusinessCentralAdapter(baseURL: erp.baseURL, company: "CRONUS", user: "erp", password: "secret")
        let made = try await adapter.createInvoice(ERPInvoiceDraft(customerNumber: "1001", externalNumber: "\(doc.id)/1", invoiceDate: "2026-12-07",
                                                                   currency: "PLN", lines: []))
        let report = try await Self.connector(world, erp).run(.invoices)
        #expect(report.createdInvoices.map(\.number) == [made.number] && report.createdInvoices.first?.foundAgain == true)
        #expect(try await erp.invoices().count == 1)
    }

    @Test("duplicate check: a debtor with the same name and postal code under another number is an actionable error, not a guess; so is an unknown article")
    func duplicateDebtor() async throws {
        let erp = try await RunningERP()
        defer { erp.stop() }
        try await erp.seedStandard(customers: [["number": "D-77", "displayName": "Hotel Kraków", "postalCode": "31-042"]])
        let world = try Self.chain()
        let a = world.store("A")
        try world.hub.addOffer(code: "CHILD", name: "Child ticket", offerCategory: "TIX", priceMinor: 1000, currency: "PLN", articleCode: "9999")
        try await world.syncAll()
        let hotel = try a.addDocument(kind: .invoice, partnerCode: "2002", amountMinor: 1_000, currency: "PLN", invoicing: Self.ready)
        let child = try a.addDocument(kind: .invoice, partnerCode: "1001", addressSeq: 0, lines: [("CHILD", 1)], invoicing: Self.ready)
        try await world.syncAll()
        let report = try await Self.connector(world, erp).run(.invoices)
        let dup = try #require(report.actionableErrors.first { $0.document == hotel.id })
        #expect(dup.kind == "duplicate-debtor" && dup.message.contains("D-77") && dup.message.contains("name and postal code"))
        let article = try #require(report.actionableErrors.first { $0.document == child.id })
        #expect(article.kind == "unknown-article" && article.message.contains("9999"))
        #expect(try await erp.invoices().isEmpty)
        #expect(try await erp.state()["customers"] as? [[String: Any]] != nil)
        let mails = try Self.connector(world, erp).mails(for: report)
        let action = try #require(mails.first { $0.kind == "action" && $0.body.contains(hotel.id) })
        #expect(action.body.contains("Customer:  2002") && action.body.contains("To fix it:"))
    }

    @Test("429s and 500s for a while: reads are retried after Retry-After and the run completes; the ERP down is system error 101")
    func faults() async throws {
        let erp = try await RunningERP()
        defer { erp.stop() }
        try await erp.seedStandard()
        let world = try Self.chain()
        _ = try world.store("A").addDocument(kind: .invoice, partnerCode: "1001", amountMinor: 1_000, currency: "PLN", invoicing: Self.ready)
        try await world.syncAll()
        try await erp.control("faults", ["status429": 3, "status500": 2, "retryAfter": 1])
        let report = try await Self.connector(world, erp).run(.invoices)
        #expect(report.outcome == "completed" && report.created == 1, "\(report.systemErrors)")
        #expect(report.throttled == 3)
        #expect(try await erp.invoices().count == 1)

        let down = AccountingConnector(hub: world.hub, config: Self.connector(world, erp).config,
                                       erp: BusinessCentralAdapter(baseURL: "http://127.0.0.1:1/api/v2.0", company: "CRONUS", user: "erp",
                                                                   password: "secret", backoff: [0.01]), mailer: nil)
        let failed = try await down.run(.invoices)
        #expect(failed.outcome == "system-error" && failed.exitCode == 1 && failed.systemErrors.first?.code == 101)
        let mail = try #require(try down.mails(for: failed).first { $0.kind == "system" })
        #expect(mail.subject.contains("System error 101") && mail.body.contains("Error code: 101"))
    }

    @Test("runs never overlap: a second run while one holds the lease is refused; a served moment is not run again")
    func lease() async throws {
        let world = try World()
        let slot = Date(timeIntervalSince1970: 1_800_000_000)
        let id = try world.hub.beginAccountingRun(job: .invoices, slot: slot, trigger: "schedule", holder: "one")
        #expect(throws: HubStore.RunRefusal.self) { try world.hub.beginAccountingRun(job: .invoices, slot: nil, trigger: "manual", holder: "two") }
        _ = try world.hub.beginAccountingRun(job: .articles, slot: nil, trigger: "manual", holder: "two")
        try world.hub.finishAccountingRun(id: id, job: .invoices, outcome: "completed", summary: "{}")
        #expect(throws: HubStore.RunRefusal.self) { try world.hub.beginAccountingRun(job: .invoices, slot: slot, trigger: "schedule", holder: "two") }
        _ = try world.hub.beginAccountingRun(job: .invoices, slot: nil, trigger: "manual", holder: "two")
    }

    @Test("the ERP's lists are read page by page (@odata.nextLink); the article run replaces the codes the hub knows")
    func paging() async throws {
        let erp = try await RunningERP(pageSize: 2)
        defer { erp.stop() }
        try await erp.control("seed", ["items": (1...5).map { ["number": "A\($0)", "displayName": "Item \($0)"] }])
        let world = try World()
        let report = try await Self.connector(world, erp).run(.articles)
        #expect(report.articles == 5 && report.requests == 3, "\(report)")
        #expect(try world.hub.articleCodes().codes == ["A1", "A2", "A3", "A4", "A5"])
    }

    @Test("a customer the ERP refuses to invoice is that document's actionable error; the run goes on with the others")
    func refusedDocument() async throws {
        let erp = try await RunningERP()
        defer { erp.stop() }
        try await erp.seedStandard()
        try await erp.control("faults", ["blockedCustomers": ["2002"]])
        let world = try Self.chain()
        let blocked = try world.store("A").addDocument(kind: .invoice, partnerCode: "2002", amountMinor: 1_000, currency: "PLN", invoicing: Self.ready)
        let fine = try world.store("A").addDocument(kind: .invoice, partnerCode: "1001", amountMinor: 2_000, currency: "PLN", invoicing: Self.ready)
        try await world.syncAll()
        let report = try await Self.connector(world, erp).run(.invoices)
        #expect(report.outcome == "actionable" && report.systemErrors.isEmpty)
        #expect(report.actionableErrors.map(\.kind) == ["erp-refused"] && report.actionableErrors.first?.document == blocked.id)
        #expect(report.actionableErrors.first?.message.contains("blocked") == true)
        #expect(try world.hub.invoicedDocuments().first { $0.id == fine.id }?.invoiceStatus == .provisional)
    }

    @Test("an answer is not written over a document silenced while the run went on")
    func silencedDuringRun() async throws {
        let world = try Self.chain()
        let doc = try world.store("A").addDocument(kind: .invoice, partnerCode: "1001", amountMinor: 1_000, currency: "PLN", invoicing: Self.ready)
        try await world.syncAll()
        try world.hub.updateDocumentInvoicing(ids: [doc.id], changes: ["invoice_status": .null])
        try world.hub.applyERPAnswers([ERPAnswer(document: doc.id, fields: ["invoice_status": .text("provisional")], readInvoiceStatus: "open", readPaymentStatus: nil)])
        #expect(try world.hub.invoicedDocuments().allSatisfy { $0.id != doc.id }, "still silenced")
    }
}
