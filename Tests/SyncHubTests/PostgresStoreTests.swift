import Foundation
import Testing
@testable import SyncHub
import SyncStore
import SyncTesting

@Suite("The hub's store location (--db): a SQLite path or a PostgreSQL URL")
struct HubLocationTests {
    @Test("a path is SQLite; a postgres URL names host, port, user and database; a password in the URL and a URL without user or database are refused, naming the URL without its password")
    func parsing() throws {
        #expect(try HubLocation.parse("/var/lib/poshub/hub.sqlite") == .sqlite(path: "/var/lib/poshub/hub.sqlite"))
        #expect(try HubLocation.parse("postgres://poshub@db.chain.internal:6543/chain")
            == .postgres(PostgresLocation(host: "db.chain.internal", port: 6543, user: "poshub", database: "chain")))
        #expect(try HubLocation.parse("postgresql://hub@127.0.0.1/hub") == .postgres(PostgresLocation(host: "127.0.0.1", port: 5432, user: "hub", database: "hub")))
        let v6 = try HubLocation.parse("postgres://hub@[::1]:5433/hub")
        #expect(v6 == .postgres(PostgresLocation(host: "::1", port: 5433, user: "hub", database: "hub")))
        #expect(v6.description == "postgres://hub@[::1]:5433/hub")
        for (url, says) in [("postgres://hub:s3cret@127.0.0.1/hub", "carries a password"), ("postgres://127.0.0.1/hub", "names no user"),
                            ("postgres://hub@127.0.0.1/", "names no database"), ("postgres://hub@127.0.0.1/hub?sslmode=require", "not taken")] {
            #expect {
                try HubLocation.parse(url)
            } throws: { error in
                let text = String(describing: error)
                return text.contains(says) && !text.contains("s3cret")
            }
        }
    }
}

/// Two hub processes' stores on one PostgreSQL database, in one test process: each
/// `HubStore` has its own replica (skipped without the test server).
@Suite("Two hub stores on one PostgreSQL database", .serialized,
       .enabled(if: TestPostgres.serverURL != nil, "needs the test PostgreSQL server (POS_TEST_POSTGRES, Scripts/test.sh)"))
struct PostgresStoreTests {
    @Test("what one hub process writes the other reads at once; a token revoked through one is refused by the other")
    func twoProcesses() throws {
        let database = try TestPostgres.createDatabase()
        defer { try? TestPostgres.drop(database) }
        let a = try HubStore(path: database.url)
        let b = try HubStore(path: database.url, create: false)
        defer { try? a.close(); try? b.close() }
        let token = try a.addNode(node: "S1", site: "WAW", series: "K1")
        #expect(try b.nodes().map(\.node) == ["S1"])
        #expect(try b.authenticate(token: token)?.node == "S1")
        try b.revokeToken(node: "S1")
        #expect(try a.authenticate(token: token) == nil)
        _ = try b.addNode(node: "S2", site: "KRK", series: "K2")
        #expect(try a.nodes().map(\.node) == ["S1", "S2"])
        // The same rows, so the same state hash.
        #expect(try a.stateHash() == b.stateHash())
    }

    @Test("two hub processes starting together on a new database: it is migrated once, and both work on it")
    func migratedOnce() async throws {
        let database = try TestPostgres.createDatabase()
        defer { try? TestPostgres.drop(database) }
        let stores = try await withThrowingTaskGroup(of: HubStore.self) { group in
            for _ in 0..<2 { group.addTask { try await offload { try HubStore(path: database.url) } } }
            return try await group.reduce(into: [HubStore]()) { $0.append($1) }
        }
        defer { stores.forEach { try? $0.close() } }
        // One version wrote the new store whole; the other process copied it.
        #expect(try TestPostgres.psql("SELECT count(*) FROM pgmirror_log WHERE tables = '*'", database: database.name) == "1")
        #expect(try TestPostgres.psql("SELECT count(*) FROM grdb_migrations", database: database.name)
            == String(HubSchema.migrator(kinds: .standard).migrations.count))
        _ = try stores[0].addNode(node: "S1", site: "WAW", series: "K1")
        #expect(try stores[1].nodes().map(\.node) == ["S1"])
    }

    @Test("the database restored to an earlier point under a running hub: at its next read its replica is copied again, what the restore lost is gone, and a new epoch begins")
    func restoredUnderRunningHub() throws {
        let database = try TestPostgres.createDatabase()
        defer { try? TestPostgres.drop(database) }
        let hub = try HubStore(path: database.url)
        defer { try? hub.close() }
        _ = try hub.addNode(node: "S1", site: "WAW", series: "K1")
        let epoch = try hub.beginEpoch()
        let dir = try TemporaryDirectory(prefix: "pg-restore")
        defer { dir.remove() }
        try TestPostgres.dump(database, to: dir.file("dump"))
        _ = try hub.addNode(node: "S2", site: "KRK", series: "K2")
        #expect(try hub.nodes().map(\.node) == ["S1", "S2"])
        try TestPostgres.restore(database, from: dir.file("dump"))
        // The hub's connections were ended by the restore; it connects again and finds the
        // database's history is not the one its replica holds.
        #expect(try hub.nodes().map(\.node) == ["S1"])
        let after = try hub.currentEpoch()
        #expect(after != epoch, "the restore found is a new epoch")
        _ = try hub.addNode(node: "S3", site: "GDA", series: "K3")
        #expect(try hub.currentEpoch() == after)
        #expect(try hub.nodes().map(\.node) == ["S1", "S3"])
    }
}
