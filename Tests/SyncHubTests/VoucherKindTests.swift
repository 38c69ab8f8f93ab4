import Foundation
import Testing
@testable import SyncHub
import SyncModel
import SyncStore
import SyncTesting

/// A kind declared here only, to show that a declaration is all a new kind of personal data
/// needs: a gift voucher sold to a customer, with the holder's name on it.
enum VoucherKind {
    static let giftVoucher = RecordKind(
        entity: Entity("gift_voucher", code: 202), table: "gift_voucher",
        columns: [.init("code", .text(max: 40), required: true), .init("partner_code", .text(max: PartnerCode.maxStoredLength), required: true),
                  .init("holder_name", .text(max: 100)), .init("amount_minor", .int(0...10_000_000), required: true)],
        key: ["code"], writers: .stores, removal: .delete, parent: "partner_code", partnerColumns: ["partner_code"],
        personal: PersonalData(subject: "partner_code", categories: ["holder_name": "identity"],
                               onErasure: .scrub(["holder_name": .null]), onMove: .follows),
        onClash: .storePrefix)

    static let kinds = try! RecordKinds.standard.adding(giftVoucher)

    static func voucher(_ code: String, _ partner: String, holder: String, amount: Int64 = 5000) -> Fields {
        ["code": .text(code), "partner_code": .text(partner), "holder_name": .text(holder), "amount_minor": .int(amount)]
    }
}

@Suite("A kind that declares whose personal data it holds is covered by its declaration alone")
struct VoucherKindTests {
    @Test("a gift voucher syncs, a clashing code gets the store prefix, it follows a rename and a move, the report lists it and the erasure scrubs its holder")
    func voucherLifecycle() async throws {
        let world = try World(kinds: VoucherKind.kinds)
        let a = world.store("A"), b = world.store("B")
        let v = VoucherKind.giftVoucher.entity
        // Jan 1001 at B; A, offline, registers Anna as 1001 and sells her a voucher; both stores
        // sell a voucher V7 offline.
        _ = try b.addPartner(Partner(code: "1001", kind: .consumer, firstName: "Jan", lastName: "Kowalski", country: "PL"))
        try b.addAddress(Address(partnerCode: "1001", site: "", seq: 0, street: "Floriańska 1", city: "Kraków"))
        try b.write(v, op: .insert, fields: VoucherKind.voucher("V7", "1001", holder: "Jan Kowalski"))
        try await world.sync("B")
        _ = try a.addPartner(Partner(code: "1001", kind: .consumer, firstName: "Anna", lastName: "Wiśniewska-Holder", country: "PL"))
        try a.addAddress(Address(partnerCode: "1001", site: "", seq: 0, street: "Ulica Zgody 9", city: "Warszawa"))
        try a.write(v, op: .insert, fields: VoucherKind.voucher("V7", "1001", holder: "Anna Wiśniewska-Holder"))
        try await world.syncAll()

        for store in world.stores.values {
            #expect(try store.record(v, key: "V7")?["partner_code"] == .text("1001"), "B's voucher reached the hub first and keeps V7")
            let renamed = try store.record(v, key: "K1-V7")
            #expect(renamed?["partner_code"] == .text("K1-1001"), "A's voucher got A's prefix and follows Anna's rename")
            #expect(renamed?["holder_name"] == .text("Anna Wiśniewska-Holder"))
        }
        #expect(try world.hashesAgree())

        // The report lists the voucher under its category; the erasure scrubs the holder and keeps the voucher.
        let ar = try world.hub.addAccessRequest(.partner, values: ["K1-1001"])
        let report = try world.hub.accessReport(ar.id)
        let group = try #require(report.subjects.first?.records.first { $0.kind == "gift_voucher" })
        #expect(group.categories == ["identity"] && group.rows.first?["code"] == .text("K1-V7"))
        #expect(AccessReportHTML.render(report).contains("Anna Wiśniewska-Holder"))
        _ = try world.hub.erase(case: ar.id)
        try await world.syncAll()
        for store in world.stores.values {
            let voucher = try #require(try store.record(v, key: "K1-V7"))
            #expect(voucher["holder_name"] == .null && voucher["amount_minor"] == .int(5000))
            #expect(try store.record(v, key: "V7")?["holder_name"] == .text("Jan Kowalski"), "Jan's voucher untouched")
        }
        // A store that knows of the erasure refuses to write the holder again.
        #expect(throws: FieldError.self) { try a.write(v, op: .update, key: "K1-V7", fields: ["holder_name": .text("Anna W.")]) }
        #expect(try world.hashesAgree())

        // A move: Jan's KRK record moves onto his WAW record; his voucher follows.
        _ = try a.addPartner(Partner(code: "W2", kind: .consumer, firstName: "Jan", lastName: "Kowalski", country: "PL"))
        try a.addAddress(Address(partnerCode: "W2", site: "", seq: 0, street: "Nowy Świat 5", city: "Warszawa"))
        try await world.syncAll()
        try world.hub.move(MoveRequest(currentCode: "1001", currentSeq: 0, newCode: "W2", newSeq: 0, fromSite: "WAW", site: "KRK"))
        try await world.syncAll()
        for store in world.stores.values { #expect(try store.record(v, key: "V7")?["partner_code"] == .text("W2")) }
        #expect(try world.hashesAgree())
    }
}
