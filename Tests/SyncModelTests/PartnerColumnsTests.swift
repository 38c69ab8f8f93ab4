import Foundation
import Testing
@testable import SyncModel

@Suite("Partner column mapping")
struct PartnerColumnsTests {
    let full = Partner(code: "1001", kind: .business, salutation: "Pan", firstName: "Jan", lastName: "Kowalski", name: "Hurtownia Sp. z o.o.",
                       birthDate: "1980-02-03", vatID: "PL5260250274", issuedBy: "Urząd", phone: "+48 22 100", email: "biuro@h.pl",
                       attributes: ["tier": "gold"], consents: ["marketing": "2026-11-01T00:00:00Z"], reverseCharge: true,
                       country: "PL", nationalID: "44051401359", tradeRegister: "KRS 1", idDocument: "ABC123", currency: "EUR",
                       corporateCustomer: "900", lowestPrice: true, deleted: true, originNode: "A")

    @Test("every property goes to its own column and comes back, by position and by name")
    func roundTrip() throws {
        #expect(full.columnValues.count == Partner.columns.count)
        #expect(try Partner(columnValues: full.columnValues) == full)
        #expect(try Partner(fields: full.fields) == full)
        #expect(full.fields["national_id"] == .text("44051401359") && full.fields["currency"] == .text("EUR"))
        #expect(full.fields["attributes"] == .text(#"{"tier":"gold"}"#))
    }

    @Test("missing values take their defaults; a missing code or kind names the field")
    func defaults() throws {
        let p = try Partner(fields: ["code": .text("7"), "kind": .text("consumer")])
        #expect(p.currency == "PLN" && !p.reverseCharge && !p.lowestPrice && !p.deleted && p.attributes.isEmpty)
        #expect(throws: FieldError.self) { try Partner(fields: ["kind": .text("consumer")]) }
        do { _ = try Partner(fields: ["code": .text("7"), "kind": .text("shop")]) } catch let e as FieldError { #expect(e.field == "kind") }
    }

    @Test("fields that are not columns are not taken; a document's values in column order are its fields by name")
    func unknownFieldsAndDocumentColumns() throws {
        var f = full.fields
        f["loyalty_level"] = .text("3")
        #expect(try Partner(fields: f) == full)
        let doc = Document(id: "A-R1", kind: .receipt, partnerCode: "1001", addressSeq: 2, site: "WAW", amountMinor: 1250,
                           currency: "PLN", status: "open", issuedAt: "2026-11-29T08:00:00Z", node: "A")
        #expect(doc.columnValues == Document.columns.map { doc.fields[$0]! })
    }
}
