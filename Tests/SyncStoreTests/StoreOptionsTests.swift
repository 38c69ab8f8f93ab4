import Crypto
import Foundation
import GRDB
import Testing
import SyncModel
import SyncTesting
@testable import SyncStore

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
