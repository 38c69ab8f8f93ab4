import Foundation
import GRDB
import Testing
@testable import SyncHub
import SyncModel
import SyncStore
import SyncTesting

/// The invoicing fields of invoices, receivables and orders (docs/rules.md, "Invoicing").
@Suite("Documents carry invoicing fields, journaled and replicated like any field")
struct DocumentInvoicingTests {
    static func store(_ world: World) throws -> NodeStore {
        let a = world.store("A")
        _ = try a.addPartner(Partner(code: "1001", kind: .business, name: "Firma", country: "PL"))
        _ = try a.addAddress(Address(partnerCode: "1001", site: "WAW", seq: 0, street: "Długa 1", city: "Warszawa"))
        _ = try a.addAddress(Address(partnerCode: "1001", site: "WAW", seq: 2, street: "Księgowa 2", city: "Warszawa"))
        return a
    }

    @Test("an invoice with its fields reaches every store; an edit of them at its store follows; the hashes agree")
    func replicated() async throws {
        let world = try World()
        let a = try Self.store(world)
        let invoice = try a.addDocument(kind: .invoice, partnerCode: "1001", amountMinor: 12_000, currency: "PLN", invoicing: [
            "invoice_status": .text("open"), "payment_method": .text("BANK"), "payment_terms": .text("14D"),
            "installments": .int(3), "salesperson": .text("AH"), "bill_to_seq": .int(2),
        ])
        #expect(invoice.invoiceStatus == .open && invoice.installments == 3 && invoice.billToSeq == 2)
        try await world.syncAll()
        let atB = try #require(try world.store("B").document(id: invoice.id))
        #expect(atB.invoiceStatus == .open && atB.paymentTerms == "14D" && atB.salesperson == "AH")
        _ = try a.updateDocumentInvoicing(id: invoice.id, changes: ["invoice_status": .text("dunning-2"), "salesperson": .null])
        try await world.syncAll()
        let later = try #require(try world.store("C").document(id: invoice.id))
        #expect(later.invoiceStatus == .dunning2 && later.salesperson == nil && later.paymentMethod == "BANK")
        #expect(try world.hashesAgree())
        // The JSON names are the columns'.
        let json = String(decoding: try JSONEncoder().encode(later), as: UTF8.self)
        #expect(json.contains("\"invoice_status\":\"dunning-2\"") && json.contains("\"bill_to_seq\":2"), "\(json)")
    }

    @Test("refused at the store: a receipt with an invoice status, an unknown status, 0 installments, a bill-to address that is not another of the customer's, a field outside invoicing, another store's document")
    func refusedAtTheStore() async throws {
        let world = try World()
        let a = try Self.store(world)
        func field(_ body: () throws -> Any) -> String? {
            do { _ = try body(); return nil } catch let e as FieldError { return e.field } catch { return "\(error)" }
        }
        #expect(field { try a.addDocument(kind: .receipt, partnerCode: "1001", amountMinor: 100, invoicing: ["invoice_status": .text("open")]) } == "invoice_status")
        #expect(field { try a.addDocument(kind: .invoice, partnerCode: "1001", amountMinor: 100, invoicing: ["invoice_status": .text("later")]) } == "invoice_status")
        #expect(field { try a.addDocument(kind: .invoice, partnerCode: "1001", amountMinor: 100, invoicing: ["installments": .int(0)]) } == "installments")
        #expect(field { try a.addDocument(kind: .invoice, partnerCode: "1001", amountMinor: 100, invoicing: ["bill_to_seq": .int(0)]) } == "bill_to_seq")
        #expect(field { try a.addDocument(kind: .invoice, partnerCode: "1001", amountMinor: 100, invoicing: ["bill_to_seq": .int(7)]) } == "bill_to_seq")
        #expect(field { try a.addDocument(kind: .invoice, partnerCode: "1001", amountMinor: 100, invoicing: ["payment_status": .text("maybe")]) } == "payment_status")
        let invoice = try a.addDocument(kind: .invoice, partnerCode: "1001", amountMinor: 100, invoicing: ["invoice_status": .text("open")])
        #expect(field { try a.updateDocumentInvoicing(id: invoice.id, changes: ["amount_minor": .int(1)]) } == "amount_minor")
        try await world.syncAll()
        #expect(field { try world.store("B").updateDocumentInvoicing(id: invoice.id, changes: ["invoice_status": .text("cancelled")]) } == "id")
        #expect(try world.store("B").pendingCount() == 0, "nothing journaled for the refused edit")
    }

    @Test("the hub silences documents by their status, for their stores: every store sees the status cleared; other fields and unknown documents are refused")
    func silencedAtTheHub() async throws {
        let world = try World()
        let a = try Self.store(world)
        let first = try a.addDocument(kind: .invoice, partnerCode: "1001", amountMinor: 100, invoicing: ["invoice_status": .text("provisional")])
        let second = try a.addDocument(kind: .order, partnerCode: "1001", amountMinor: 200, invoicing: ["invoice_status": .text("provisional")])
        let kept = try a.addDocument(kind: .invoice, partnerCode: "1001", amountMinor: 300, invoicing: ["invoice_status": .text("open")])
        try await world.syncAll()
        let ids = try world.hub.documentIDs(invoiceStatus: .provisional)
        #expect(ids == [first.id, second.id].sorted())
        #expect(try world.hub.invoicedDocuments().map(\.id) == [kept.id] + ids, "open first, then provisional")
        #expect(try world.hub.invoicedDocuments(status: .open).map(\.invoiceStatus) == [.open])
        #expect(throws: HubError.self) { try world.hub.updateDocumentInvoicing(ids: ids, changes: ["amount_minor": .int(1)]) }
        #expect(throws: HubError.self) { try world.hub.updateDocumentInvoicing(ids: ids + ["NOPE-F1"], changes: ["invoice_status": .null]) }
        try world.hub.updateDocumentInvoicing(ids: ids, changes: ["invoice_status": .null])
        try await world.syncAll()
        for store in ["A", "B", "C"] {
            #expect(try world.store(store).document(id: first.id)?.invoiceStatus == nil)
            #expect(try world.store(store).document(id: second.id)?.invoiceStatus == nil)
            #expect(try world.store(store).document(id: kept.id)?.invoiceStatus == .open)
        }
        #expect(try world.hub.documentIDs(invoiceStatus: .provisional).isEmpty)
        #expect(try world.hashesAgree())
        // The store that wrote them still changes them afterwards.
        _ = try a.updateDocumentInvoicing(id: first.id, changes: ["invoice_status": .text("cancelled")])
        try await world.syncAll()
        #expect(try world.store("B").document(id: first.id)?.invoiceStatus == .cancelled)
    }

    @Test("refused at the hub: another node's edit, an edit of the amount, an unknown status; nothing changes")
    func refusedAtTheHub() async throws {
        let world = try World()
        let a = try Self.store(world)
        let invoice = try a.addDocument(kind: .invoice, partnerCode: "1001", amountMinor: 100, invoicing: ["invoice_status": .text("open")])
        try await world.syncAll()
        let before = try world.hub.stateHash()
        let hlc = HLC.nowMillis << 16
        let other = try world.push("B", [change("B", 1, hlc: hlc, .document, invoice.id, .update, ["invoice_status": .text("cancelled")])])
        #expect(other.results.first?.code == "not-owner", "\(other.results)")
        let next = try world.hub.node("A").lastSeq + 1
        let amount = try world.push("A", [change("A", next, hlc: hlc + 1, .document, invoice.id, .update, ["amount_minor": .int(1)])])
        #expect(amount.results.first?.outcome == .rejected && amount.results.first?.code == "invalid-field", "\(amount.results)")
        let status = try world.push("A", [change("A", next + 1, hlc: hlc + 2, .document, invoice.id, .update, ["invoice_status": .text("later")])])
        #expect(status.results.first?.code == "invalid-field", "\(status.results)")
        #expect(try world.hub.stateHash() == before)
    }
}
