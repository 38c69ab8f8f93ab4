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
        #expect(throws: FieldError(field: "phone", reason: "must not contain a NUL character")) { try f.store.addPartner(p) }
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

@Suite("Store options")
struct StoreOptionsTests {
    @Test("the writer's page cache is set on the writing connection only; an out-of-range size is refused naming the option")
    func writerCache() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let plain = try StoreOptions().openPool(path: dir.file("b.sqlite"))
        let sqliteDefault = try plain.write { try Int.fetchOne($0, sql: "PRAGMA cache_size") }
        #expect(sqliteDefault != -48 * 1024)
        let pool = try StoreOptions(writerCacheMiB: 48).openPool(path: dir.file("a.sqlite"))
        #expect(try pool.write { try Int.fetchOne($0, sql: "PRAGMA cache_size") } == -48 * 1024)
        #expect(try pool.read { try Int.fetchOne($0, sql: "PRAGMA cache_size") } == sqliteDefault, "readers keep SQLite's default")
        for bad in [0, -1, 5000] {
            #expect {
                _ = try StoreOptions(writerCacheMiB: bad).openPool(path: dir.file("c.sqlite"))
            } throws: { error in
                String(describing: error).contains("cache-mib") && String(describing: error).contains("\(bad)")
            }
        }
    }

    @Test("the hub's write-ahead log checkpoint threshold is set on its writing connection; out of range is refused by name")
    func walCheckpoint() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let plain = try StoreOptions().openPool(path: dir.file("b.sqlite"))
        let sqliteDefault = try plain.write { try Int.fetchOne($0, sql: "PRAGMA wal_autocheckpoint") }
        #expect(sqliteDefault != StoreOptions.hubWALCheckpointPages)
        let hub = try StoreOptions.hub.openPool(path: dir.file("a.sqlite"))
        #expect(try hub.write { try Int.fetchOne($0, sql: "PRAGMA wal_autocheckpoint") } == StoreOptions.hubWALCheckpointPages)
        for bad in [0, -5] {
            #expect {
                _ = try StoreOptions(walCheckpointPages: bad).openPool(path: dir.file("c.sqlite"))
            } throws: { error in
                String(describing: error).contains("wal-checkpoint-pages") && String(describing: error).contains("\(bad)")
            }
        }
    }

    @Test("several rows, no row, and the statement reused after a failed step")
    func rowsCachedReads() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let pool = try StoreOptions().openPool(path: dir.file("r.sqlite"))
        try pool.write { db in
            try db.execute(sql: "CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER)")
            for (k, n) in [("a", 1), ("b", 2), ("c", 3)] { try db.runCached("INSERT INTO t (k, n) VALUES (?, ?)", [k.databaseValue, n.databaseValue]) }
            let sql = "SELECT k, n FROM t WHERE n >= ? ORDER BY k"
            #expect(try db.rowsCached(sql, [2.databaseValue]) == [["b".databaseValue, 2.databaseValue], ["c".databaseValue, 3.databaseValue]])
            #expect(try db.rowsCached(sql, [9.databaseValue]).isEmpty)
            #expect(throws: DatabaseError.self) { try db.runCached("INSERT INTO t (k, n) VALUES (?, ?)", ["a".databaseValue, 9.databaseValue]) }
            try db.runCached("INSERT INTO t (k, n) VALUES (?, ?)", ["d".databaseValue, 4.databaseValue])
            #expect(try db.rowsCached(sql, [3.databaseValue]).map { $0[0] } == ["c".databaseValue, "d".databaseValue])
        }
    }

    @Test("statements by column set: the first 256 texts are kept, any set beyond them still runs, prepared for the one call")
    func statementTextsAreBounded() throws {
        let queue = try DatabaseQueue()
        let texts = StatementTexts()
        try queue.read { db in
            for mask in UInt64(0)..<300 {
                let statement = try texts.statement(db, for: mask) { "SELECT \(mask)" }
                #expect(try Int.fetchOne(statement) == Int(mask))
            }
            // A kept text is found again; one beyond the limit is built again each time.
            #expect(try Int.fetchOne(texts.statement(db, for: 3) { "SELECT -1" }) == 3)
            #expect(try Int.fetchOne(texts.statement(db, for: 299) { "SELECT -299" }) == -299)
        }
        #expect(texts.count == StatementTexts.limit)
    }
}
