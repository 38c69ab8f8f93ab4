import Foundation
import GRDB
import Testing
@testable import SyncHub
import SyncModel
import SyncReconcile
import SyncStore
import SyncTesting

/// Values a store refuses cannot arrive by a forged push either, and no value traps.
@Suite("Bounded values: types, sizes and amounts at the hub; sums that cannot wrap")
struct BoundedValueTests {
    @Test("a pushed field of the wrong type, too long, or an amount out of range is rejected naming the field; nothing changes")
    func hubRefusesUnboundedValues() throws {
        let world = try World()
        var good = consumer("1001").fields
        good["origin_node"] = .text("A")
        var numberPhone = consumer("1002").fields
        numberPhone["phone"] = .int(48_600_100_200)
        let document = Document(id: "A-R1", kind: .receipt, partnerCode: "1001", site: "WAW", amountMinor: .max,
                                currency: "PLN", issuedAt: "2026-12-03T10:00:00Z", node: "A")
        let reply = try world.push("A", [
            change("A", 1, hlc: 1 << 16, .partner, "1001", .insert, good),
            change("A", 2, hlc: 2 << 16, .partner, "1002", .insert, numberPhone),
            change("A", 3, hlc: 3 << 16, .partner, "1001", .update, ["last_name": .text(String(repeating: "x", count: 10_000))]),
            change("A", 4, hlc: 4 << 16, .partner, "1001", .update, ["email": .int(5)]),
            change("A", 5, hlc: 5 << 16, .document, "A-R1", .insert, document.fields),
            change("A", 6, hlc: 6 << 16, .address, "1001|WAW|0", .insert,
                   Address(partnerCode: "1001", site: "WAW", seq: 0, street: String(repeating: "s", count: 201)).fields),
        ])
        #expect(reply.results.map(\.outcome) == [.applied, .rejected, .rejected, .rejected, .rejected, .rejected])
        let reasons = reply.results.dropFirst().map { $0.reason ?? "" }
        #expect(reasons[0].contains("phone: must be text, got a number"), "\(reasons[0])")
        #expect(reasons[1].contains("(last_name): is 10000 characters (code points) long; at most 100"), "\(reasons[1])")
        #expect(reasons[2].contains("e-mail") || reasons[2].contains("email"), "\(reasons[2])")
        #expect(reasons[3].contains("amount_minor") && reasons[3].contains("out of range"), "\(reasons[3])")
        #expect(reasons[4].contains("street") && reasons[4].contains("at most 200"), "\(reasons[4])")
        let stored = try world.hub.pool.read { try ReplicatedTable.partner.fetch($0, key: "1001") }
        #expect(stored?["last_name"] == .text("Nowak") && stored?["email"] == .null)
        #expect(try !world.hub.partnerExists(code: "1002"))
        #expect(try world.hub.pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM document") } == 0)
    }

    @Test("amounts parse exactly inside the documented range; anything beyond is refused, never a trap")
    func amountRange() throws {
        #expect(try Document.parseAmount("999999999.99") == ColumnRules.maxAmountMinor)
        #expect(try Document.parseAmount("-999999999.99") == -ColumnRules.maxAmountMinor)
        #expect(try Document.parseAmount("12.5") == 1250)
        for text in ["1000000000", "999999999999999999", "92233720368547758.07", "92233720368547758", "9223372036854775807",
                     "-9223372036854775808", "99999999999999999999999999"] {
            #expect(throws: FieldError.self, "\(text)") { try Document.parseAmount(text) }
        }
    }

    @Test("a balance beyond Int64 stops the recalculation naming the customer and stores nothing")
    func balanceOverflow() throws {
        let world = try World()
        let a = world.store("A")
        try a.addPartner(Partner(code: "1001", kind: .business, name: "Firma", country: "PL"))
        try a.addDocument(kind: .invoice, partnerCode: "1001", amountMinor: 100, currency: "PLN")
        #expect(try a.pool.write { try Balances.recalculate($0) }.first?.postedMinor == 100)
        // Documents from before amounts were bounded, written behind the store's back.
        try a.pool.write { db in
            for i in 1...2 {
                try db.execute(sql: """
                    INSERT INTO document (id, kind, partner_code, address_seq, site, amount_minor, currency, status, issued_at, node)
                    VALUES (?, 'invoice', '1001', 0, 'WAW', ?, 'PLN', 'open', '', 'A')
                    """, arguments: ["OLD\(i)", Int64.max - 10])
            }
        }
        #expect(throws: BalanceOverflow.self) { try a.pool.write { try Balances.recalculate($0) } }
        let stored = try a.pool.read { try Balances.stored($0) }
        #expect(stored.map(\.postedMinor) == [100], "the earlier balances stay")
    }
}
