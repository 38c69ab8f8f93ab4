import Foundation
import GRDB
import Testing
import SyncModel
import SyncTesting

@Suite("posnode process crashes", .serialized)
struct CrashTests {
    @Test("SIGKILL in the middle of a burst of partner writes loses no acknowledged write and leaves no orphan journal entry")
    func killMidBurst() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let posnode = BuiltProducts.path("posnode")
        let db = dir.file("node.sqlite")
        try #require(runCommand(posnode, ["init", "--db", db, "--node", "N1", "--site", "WAW", "--series", "K1"]).succeeded)

        // A shell loop: each write is its own posnode process; "ok CODE" is printed only after exit 0.
        let script = """
            i=0
            while [ $i -lt 100000 ]; do
              i=$((i+1))
              "\(posnode)" partner add --db "\(db)" --code "C$i" --kind consumer --first-name Anna --last-name "Nowak$i" --offline >/dev/null && echo "ok C$i"
            done
            """
        let loop = try ChildProcess("/bin/bash", ["-c", script])
        Thread.sleep(forTimeInterval: 3.0)
        // Kill the running posnode child first (mid-write), then the loop.
        let children = (try? String(contentsOfFile: "/proc/\(loop.pid)/task/\(loop.pid)/children", encoding: .utf8)) ?? ""
        for pid in children.split(separator: " ").compactMap({ Int32($0) }) { kill(pid, SIGKILL) }
        loop.kill()
        loop.waitForOutput()
        let printed = loop.stdoutText
        let acknowledged = printed.split(separator: "\n").compactMap { $0.hasPrefix("ok ") ? String($0.dropFirst(3)) : nil }
        #expect(acknowledged.count > 5, "the burst should have written some partners before the kill")

        // Restart: the store opens and accepts writes again.
        let again = try runCommand(posnode, ["partner", "add", "--db", db, "--code", "AFTER", "--kind", "business", "--name", "After", "--offline"])
        #expect(again.succeeded, "\(again.stderr)")

        let queue = try DatabaseQueue(path: db)
        try queue.read { db in
            for code in acknowledged {
                #expect(try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM partner WHERE code = ?)", arguments: [code]) == true, "\(code) lost")
                #expect(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM journal WHERE entity = 'partner' AND key = ?", arguments: [code]) == 1)
            }
            let orphans = try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM journal j WHERE j.entity = 'partner' AND NOT EXISTS (SELECT 1 FROM partner p WHERE p.code = j.key)
                """)
            #expect(orphans == 0)
            let rowsWithoutJournal = try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM partner p WHERE NOT EXISTS (SELECT 1 FROM journal j WHERE j.entity = 'partner' AND j.key = p.code)
                """)
            #expect(rowsWithoutJournal == 0)
            let seqs = try Int64.fetchAll(db, sql: "SELECT seq FROM journal ORDER BY seq")
            #expect(seqs == Array(1...Int64(seqs.count)), "journal sequence has a gap")
        }
    }
}
