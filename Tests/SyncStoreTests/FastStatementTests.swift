import Crypto
import Foundation
import GRDB
import Testing
import SyncModel
import SyncTesting
@testable import SyncStore

@Suite("Replicated rows through the direct SQLite binding")
struct FastStatementTests {
    @Test("empty text stays empty (not NULL), NULL stays NULL, non-ASCII text and integers round trip")
    func valuesRoundTrip() throws {
        let f = try StoreFixture()
        defer { f.remove() }
        var p = Partner(code: "Ł-7", kind: .consumer, firstName: "Łucja", lastName: "Żółć", country: "PL")
        p.phone = ""
        p.email = nil
        let back = try f.store.pool.write { db -> Fields? in
            try ReplicatedTable.partner.upsert(db, image: p.fields)
            try ReplicatedTable.address.upsert(db, image: Address(partnerCode: "Ł-7", site: "WAW", seq: 2, street: "Świętokrzyska 1").fields)
            #expect(try ReplicatedTable.address.exists(db, key: "Ł-7|WAW|2"))
            #expect(try !ReplicatedTable.address.exists(db, key: "Ł-7|WAW|3"))
            #expect(try String.fetchOne(db, sql: "SELECT typeof(phone) FROM partner WHERE code = 'Ł-7'") == "text")
            #expect(try String.fetchOne(db, sql: "SELECT typeof(email) FROM partner WHERE code = 'Ł-7'") == "null")
            #expect(try Int.fetchOne(db, sql: "SELECT seq FROM address WHERE partner_code = 'Ł-7'") == 2)
            return try ReplicatedTable.partner.fetch(db, key: "Ł-7")
        }
        #expect(back?["first_name"] == .text("Łucja"))
        #expect(back?["last_name"] == .text("Żółć"))
        #expect(back?["phone"] == .text(""))
        #expect(back?["email"] == .null)
        #expect(ReplicatedTable.partner.storedValues(back ?? [:]) == ReplicatedTable.partner.storedValues(p.fields))
    }

    @Test("a NUL character in any field of a local write is refused naming the field, and nothing is written")
    func nulRefused() throws {
        let f = try StoreFixture()
        defer { f.remove() }
        var p = anna("N-1")
        p.phone = "600\u{0}100"
        #expect { try f.store.addPartner(p) } throws: { error in
            let problems = (error as? InvalidFields)?.problems ?? [(error as? FieldError)].compactMap { $0 }
            return problems == [FieldError(field: "phone", reason: "must not contain a NUL character")]
        }
        #expect(try f.store.partner(code: "N-1") == nil)
        #expect(try f.store.pendingCount() == 0)
        try f.store.addPartner(anna("N-2"))
        #expect(throws: FieldError.self) { try f.store.addAddress(Address(partnerCode: "N-2", site: "WAW", seq: 1, street: "Długa\u{0}1")) }
        #expect(try f.store.pendingCount() == 1)
    }

    @Test("a constraint failure is a DatabaseError that names the statement, and the statement stays usable")
    func errorsReported() throws {
        let f = try StoreFixture()
        defer { f.remove() }
        try f.store.pool.write { db in
            var doc = Document(id: "D1", kind: .receipt, partnerCode: "1001", site: "WAW", amountMinor: 100, currency: "PLN",
                               issuedAt: "2026-11-25T10:00:00Z", node: "N1").fields
            doc["kind"] = .null  // NOT NULL column
            do {
                try ReplicatedTable.document.upsert(db, image: doc)
                Issue.record("a NULL kind was stored")
            } catch let e as DatabaseError {
                #expect(e.resultCode == .SQLITE_CONSTRAINT)
                #expect(e.sql?.contains("INSERT INTO document") == true)
            }
            doc["kind"] = .text("receipt")
            try ReplicatedTable.document.upsert(db, image: doc)
            #expect(try ReplicatedTable.document.exists(db, key: "D1"))
        }
    }
}
