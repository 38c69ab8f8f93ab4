import Foundation
import Testing
import SyncModel
import SyncStore
import SyncTesting

@Suite("A till restored from a file backup, with real processes", .serialized)
struct RestoredStoreProcessTests {
    func ok(_ r: CommandResult, _ what: String) {
        #expect(r.succeeded, "\(what): \(r.stdout)\(r.stderr)")
    }

    /// Copies a store's database files (the database, its log, its shared memory, its API token).
    func copyStore(_ from: String, to: String) throws {
        let fm = FileManager.default
        for suffix in ["", "-wal", "-shm", ".api-token"] where fm.fileExists(atPath: from + suffix) {
            if fm.fileExists(atPath: to + suffix) { try fm.removeItem(atPath: to + suffix) }
            try fm.copyItem(atPath: from + suffix, toPath: to + suffix)
        }
        for suffix in ["-wal", "-shm"] where !fm.fileExists(atPath: from + suffix) && fm.fileExists(atPath: to + suffix) {
            try fm.removeItem(atPath: to + suffix)
        }
    }

    @Test("backup, sync more, restore, sell 55.00: posnode sync says restore, every sale is at the hub once, the stores converge")
    func restoredTill() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        try cluster.startHub()
        let a = try cluster.addNode("A", site: "WAW", series: "K1")
        try cluster.addNode("B", site: "KRK", series: "K2")
        ok(try cluster.posnode("A", ["partner", "add", "--code", "1001", "--kind", "consumer", "--first-name", "Anna", "--last-name", "Nowak"]), "partner")
        ok(try cluster.posnode("A", ["receipt", "add", "--partner", "1001", "--amount", "10.00"]), "receipt")
        ok(try cluster.posnode("A", ["sync"]), "sync")
        let backup = cluster.dir.file("A-backup.sqlite")
        try copyStore(a.db, to: backup)

        ok(try cluster.posnode("A", ["partner", "add", "--code", "1002", "--kind", "consumer", "--first-name", "Lost", "--last-name", "Customer"]), "partner 2")
        ok(try cluster.posnode("A", ["receipt", "add", "--partner", "1001", "--amount", "12.00"]), "receipt 2")
        ok(try cluster.posnode("A", ["sync"]), "sync 2")

        try copyStore(backup, to: a.db)
        ok(try cluster.posnode("A", ["partner", "add", "--code", "1003", "--kind", "consumer", "--first-name", "New", "--last-name", "Customer"]), "partner 3")
        ok(try cluster.posnode("A", ["receipt", "add", "--partner", "1001", "--amount", "55.00"]), "receipt 3")
        let rejoin = try cluster.posnode("A", ["sync"])
        #expect(rejoin.succeeded && rejoin.stdout.contains("restore:"), "\(rejoin.stdout)\(rejoin.stderr)")
        for _ in 0..<2 { for id in ["A", "B"] { ok(try cluster.posnode(id, ["sync"]), "sync \(id)") } }

        let docs = try cluster.posnode("B", ["document", "list", "--json"])
        let amounts = (try JSONDecoder().decode([Document].self, from: Data(docs.stdout.utf8))).map(\.amountMinor).sorted()
        #expect(amounts == [1000, 1200, 5500], "\(docs.stdout)")
        #expect(try cluster.posnode("A", ["partner", "show", "--code", "1002"]).stdout.contains("Lost"), "the lost customer came back")
        let audit = try cluster.poshub(["audit"], ["--kind", "restore"])
        #expect(audit.stdout.contains("restore"), "\(audit.stdout)")
        let hubHash = try cluster.hubStateHash()
        for id in ["A", "B"] { #expect(try cluster.nodeStateHash(id) == hubHash, "\(id)") }
    }
}

@Suite("A hub restored from a file backup, with real processes", .serialized)
struct RestoredHubProcessTests {
    func ok(_ r: CommandResult, _ what: String) {
        #expect(r.succeeded, "\(what): \(r.stdout)\(r.stderr)")
    }

    @Test("poshub serve started on an old copy of its store: posnode sync says hub restored, nothing lost or doubled, the stores converge",
          arguments: HubStoreKind.available)
    func restoredHub(store: HubStoreKind) async throws {
        let cluster = try Cluster(store: store)
        defer { cluster.shutdown() }
        try cluster.startHub()
        try cluster.addNode("A", site: "WAW", series: "K1")
        try cluster.addNode("B", site: "KRK", series: "K2")
        ok(try cluster.posnode("A", ["partner", "add", "--code", "1001", "--kind", "consumer", "--first-name", "Anna", "--last-name", "Nowak"]), "partner")
        ok(try cluster.posnode("A", ["receipt", "add", "--partner", "1001", "--amount", "10.00"]), "receipt")
        for id in ["A", "B"] { ok(try cluster.posnode(id, ["sync"]), "sync \(id)") }
        // A backup of the stopped hub's file (a clean stop leaves no log beside it).
        cluster.stopHub()
        // (PostgreSQL: a dump of the database, restored into it again below.)
        let backup = cluster.dir.file("hub-backup.sqlite")
        if let database = cluster.postgresDatabase {
            try TestPostgres.dump(database, to: backup)
        } else {
            try FileManager.default.copyItem(atPath: cluster.hubDB, toPath: backup)
        }
        try cluster.startHub()

        ok(try cluster.posnode("A", ["partner", "add", "--code", "1002", "--kind", "consumer", "--first-name", "Lost", "--last-name", "Customer"]), "partner 2")
        ok(try cluster.posnode("A", ["receipt", "add", "--partner", "1001", "--amount", "12.00"]), "receipt 2")
        ok(try cluster.posnode("B", ["partner", "add", "--code", "2001", "--kind", "consumer", "--first-name", "Jan", "--last-name", "Kowalski"]), "partner B")
        for _ in 0..<2 { for id in ["A", "B"] { ok(try cluster.posnode(id, ["sync"]), "sync \(id)") } }

        // The hub's machine is restored from the backup.
        cluster.stopHub()
        if let database = cluster.postgresDatabase {
            try TestPostgres.restore(database, from: backup)
        } else {
            let fm = FileManager.default
            for suffix in ["", "-wal", "-shm"] where fm.fileExists(atPath: cluster.hubDB + suffix) { try fm.removeItem(atPath: cluster.hubDB + suffix) }
            try fm.copyItem(atPath: backup, toPath: cluster.hubDB)
        }
        try cluster.startHub()
        ok(try cluster.posnode("A", ["receipt", "add", "--partner", "1002", "--amount", "55.00"]), "receipt after the restore")
        let rejoin = try cluster.posnode("A", ["sync"])
        #expect(rejoin.succeeded && rejoin.stdout.contains("hub restored:"), "\(rejoin.stdout)\(rejoin.stderr)")
        for _ in 0..<2 { for id in ["A", "B"] { ok(try cluster.posnode(id, ["sync"]), "sync \(id)") } }

        let docs = try cluster.posnode("B", ["document", "list", "--json"])
        let amounts = (try JSONDecoder().decode([Document].self, from: Data(docs.stdout.utf8))).map(\.amountMinor).sorted()
        #expect(amounts == [1000, 1200, 5500], "\(docs.stdout)")
        #expect(try cluster.posnode("B", ["partner", "show", "--code", "1002"]).stdout.contains("Lost"), "the customer the hub had lost is back")
        #expect(try cluster.posnode("A", ["partner", "show", "--code", "2001"]).stdout.contains("Kowalski"))
        let hubHash = try cluster.hubStateHash()
        for id in ["A", "B"] { #expect(try cluster.nodeStateHash(id) == hubHash, "\(id)") }
    }
}
