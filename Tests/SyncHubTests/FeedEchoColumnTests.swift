import Foundation
import GRDB
import Testing
@testable import SyncHub
import SyncModel
import SyncStore
import SyncTesting

/// Rows whose `feed_echo` disagrees with their feed row (the feed row's node when its
/// `echo_seq` is set, NULL otherwise), as "table key: column / feed".
func feedEchoMismatches(_ hub: HubStore) throws -> [String] {
    try hub.pool.read { db in
        try RecordKinds.standard.tables.flatMap { table in
            try Row.fetchAll(db, sql: """
                SELECT \(table.keySQL) AS k, t.feed_echo AS col,
                       (SELECT f.node FROM hub_feed f WHERE f.gseq = t.feed_gseq AND f.echo_seq IS NOT NULL) AS feed
                FROM \(table.name) t
                WHERE t.feed_gseq IS NOT NULL AND t.feed_echo IS NOT (SELECT f.node FROM hub_feed f WHERE f.gseq = t.feed_gseq AND f.echo_seq IS NOT NULL)
                """.replacingOccurrences(of: "\(table.name).", with: "t."))
                .map { "\(table.name) \($0["k"] as String? ?? "?"): \($0["col"] as String? ?? "NULL") / \($0["feed"] as String? ?? "NULL")" }
        }
    }
}

@Suite("Whether a row is a node's echo, kept in the row")
struct FeedEchoColumnTests {
    @Test("a hub made before the column fills it from the feed, and a node's edit of its own row stays its echo")
    func upgradeFillsColumn() throws {
        let dir = try TemporaryDirectory(prefix: "echo-upgrade")
        defer { dir.remove() }
        let path = dir.file("hub.sqlite")
        // P1's feed row is A's echo (stored as A sent it), P2's is not (renamed, say).
        try writeOldHub(at: path, upTo: "v3-document-kind-check", """
            INSERT INTO hub_node (node_id, site, series, token_hash, created_at, last_seq) VALUES ('A', 'WAW', 'K1', 'a', '2026-11-01T00:00:00Z', 2);
            INSERT INTO partner (code, kind, first_name, last_name, origin_node, clock_hlc, clock_node, feed_gseq)
                VALUES ('P1', 'consumer', 'Anna', 'Nowak', 'A', 100, 'A', 1), ('P2', 'consumer', 'Ewa', 'Nowak', 'A', 100, 'A', 2);
            INSERT INTO hub_feed (gseq, hlc, node, entity, key, echo_seq) VALUES (1, 100, 'A', 'partner', 'P1', 1), (2, 100, 'A', 'partner', 'P2', NULL);
            """)
        let hub = try HubStore(path: path)
        let echoes = try hub.pool.read { try Row.fetchAll($0, sql: "SELECT code, feed_echo FROM partner ORDER BY code").map { "\($0[0] as String):\($0[1] as String? ?? "NULL")" } }
        #expect(echoes == ["P1:A", "P2:NULL"])
        // A edits both as it sent them: P1 stays A's own image, P2 goes back to A.
        _ = try hub.push(node: try hub.node("A"), changes: [
            change("A", 3, hlc: 200, .partner, "P1", .update, ["phone": .text("1")]),
            change("A", 4, hlc: 201, .partner, "P2", .update, ["phone": .text("2")]),
        ], renamesApplied: 0)
        #expect(try hub.feed(after: 2, limit: 100, own: ("A", 4)).changes.map(\.key) == ["P2"])
        #expect(try feedEchoMismatches(hub).isEmpty)
    }

    @Test("an edit refused and an edit taken in one push: the row goes back to the node")
    func refusedThenTakenInOnePush() throws {
        let world = try World()
        var p = consumer("P4").fields
        p["origin_node"] = .text("A")
        try world.push("A", [change("A", 1, hlc: 100 << 16, .partner, "P4", .insert, p)])
        #expect(try world.hub.feed(after: 0, limit: 100, own: ("A", 1)).changes.isEmpty)
        // The refused edit leaves A holding a first name the hub does not have; the phone edit
        // after it, taken as sent, must not make the row A's echo again.
        let reply = try world.push("A", [change("A", 2, hlc: 200 << 16, .partner, "P4", .update, ["first_name": .text("")]),
                                         change("A", 3, hlc: 201 << 16, .partner, "P4", .update, ["phone": .text("5")])])
        #expect(reply.results.map(\.outcome) == [.rejected, .applied])
        let back = try world.hub.feed(after: 0, limit: 100, own: ("A", 3)).changes
        #expect(back.map(\.key) == ["P4"])
        #expect(back.first?.fields["first_name"] == .text("Anna"))
        #expect(try feedEchoMismatches(world.hub).isEmpty)
    }

    @Test("after creates, edits from several stores, receipts, deletions and a refusal every row's column agrees with its feed row")
    func columnFollowsFeed() async throws {
        let world = try World()
        let ids = ["A", "B", "C"]
        for id in ids { try await world.sync(id) }
        var rng = SeededRandom(seed: 11)
        var codes: [String] = []
        for round in 0..<6 {
            for id in ids {
                let store = world.store(id)
                for i in 0..<8 {
                    let roll = Int(rng.next() % 10)
                    if roll < 3 || codes.isEmpty {
                        let code = "\(id)\(round)\(i)"
                        _ = try store.addPartner(consumer(code))
                        _ = try store.addAddress(Address(partnerCode: code, site: "", seq: 1, street: "Prosta \(i)"))
                        codes.append(code)
                    } else if let code = codes.randomElement(using: &rng), let partner = try store.partner(code: code), !partner.deleted {
                        switch roll {
                        case 3, 4, 5: _ = try store.updatePartner(code: code, changes: ["phone": .text("+48 \(rng.next() % 1000)")])
                        case 6: _ = try store.addDocument(kind: .receipt, partnerCode: code, amountMinor: 100, currency: "PLN")
                        case 7: try store.deletePartner(code: code)
                        default: _ = try store.updatePartner(code: code, changes: ["email": .text("x\(rng.next() % 100)@a.pl")])
                        }
                    }
                }
                try await world.sync(id)
                #expect(try feedEchoMismatches(world.hub).isEmpty, "after \(id)'s push in round \(round)")
            }
        }
        // A refused edit pushed by hand: the row is fed again, not as A's echo.
        let seq = try world.hub.node("A").lastSeq
        try world.push("A", [change("A", seq + 1, hlc: (HLC.nowMillis + 60_000) << 16, .partner, codes[0], .update, ["first_name": .text("")])])
        try await world.syncAll()
        #expect(try feedEchoMismatches(world.hub).isEmpty)
        #expect(try world.hashesAgree())
    }
}
