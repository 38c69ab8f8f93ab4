import Crypto
import Foundation
import GRDB
import Testing
import SyncModel
import SyncTesting
@testable import SyncStore

@Suite("State hash")
struct StateHashTests {
    /// The digest as first specified: every value hashed on its own, columns looked up by name.
    func referenceHash(_ db: Database) throws -> String {
        var hasher = SHA256()
        for table in RecordKinds.standard.tables {
            hasher.update("table:\(table.name)\n")
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM \(table.name) ORDER BY \(table.keyColumns.joined(separator: ", "))")
            for row in rows {
                for c in table.columns {
                    switch table.fieldValue(row[c] as DatabaseValue, column: c) {
                    case .null: hasher.update([0])
                    case .bool(let b): hasher.update([1, b ? 1 : 0])
                    case .int(let i): hasher.update("i\(i);")
                    case .text(let s):
                        let bytes = Array(s.utf8)
                        hasher.update("s\(bytes.count):")
                        hasher.update(bytes)
                    }
                }
                hasher.update([0x0a])
            }
        }
        return hasher.finalize().hex
    }

    @Test("the row-buffered digest equals the value-by-value one (NULLs, booleans, integers, non-ASCII text)")
    func sameDigest() throws {
        let f = try StoreFixture()
        defer { f.remove() }
        try f.store.addPartner(anna())
        var b = Partner(code: "B-Ż", kind: .business, name: "Hurtownia Łódź", vatID: "5260250274", country: "PL")
        b.reverseCharge = true
        try f.store.addPartner(b)
        try f.store.addAddress(Address(partnerCode: "B-Ż", site: "WAW", seq: 3, street: "Piotrkowska 1"))
        try f.store.addDocument(kind: .invoice, partnerCode: "B-Ż", amountMinor: -1250, currency: "PLN")
        let (ours, reference) = try f.store.pool.read { db in (try db.stateHash(kinds: .standard), try referenceHash(db)) }
        #expect(ours == reference)
    }
}
