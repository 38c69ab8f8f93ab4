import Foundation
import GRDB
import Testing
@testable import SyncHub
import SyncModel
import SyncStore
import SyncTesting

@Suite("Merge clocks kept in the replicated rows")
struct RowClockUpgradeTests {
    @Test("a hub file with clock tables opens with its clocks in the rows, and they still decide concurrent edits")
    func upgradeFromClockTables() throws {
        let dir = try TemporaryDirectory(prefix: "clock-upgrade")
        defer { dir.remove() }
        let path = dir.file("hub.sqlite")
        // The hub as the previous release left it: partner 1001 created by A at hlc 100, its
        // phone edited by B at hlc 300; address 1001|WAW|0 created by A at hlc 100.
        try writeOldHub(at: path, upTo: "v3-hub-region", """
            INSERT INTO hub_node (node_id, site, series, token_hash, created_at) VALUES ('A', 'WAW', 'K1', 'a', '2026-11-01T00:00:00Z');
            INSERT INTO hub_node (node_id, site, series, token_hash, created_at) VALUES ('B', 'KRK', 'K2', 'b', '2026-11-01T00:00:00Z');
            INSERT INTO partner (code, kind, first_name, last_name, phone, email, origin_node)
                VALUES ('1001', 'consumer', 'Anna', 'Nowak', '+48 1', 'anna@a.pl', 'A');
            INSERT INTO address (partner_code, site, seq, city) VALUES ('1001', 'WAW', 0, 'Warszawa');
            INSERT INTO row_clock (entity, key, hlc, node) VALUES ('partner', '1001', 100, 'A'), ('address', '1001|WAW|0', 100, 'A');
            INSERT INTO field_clock (entity, key, field, hlc, node) VALUES ('partner', '1001', 'phone', 300, 'B');
            INSERT INTO hub_feed (hlc, node, entity, key) VALUES (300, 'B', 'partner', '1001'), (100, 'A', 'address', '1001|WAW|0');
            """)
        let hub = try HubStore(path: path)
        let clocks = try hub.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT clock_hlc, clock_node, clock_fields FROM partner UNION ALL SELECT clock_hlc, clock_node, clock_fields FROM address")
                .map { [$0[0] as Int64?, $0[1] as String?, $0[2] as String?] as [Any?] }
        }
        #expect(clocks.map { "\($0)" } == ["[Optional(100), Optional(\"A\"), Optional(\"phone:300:B\")]", "[Optional(100), Optional(\"A\"), nil]"])
        let tables = try hub.pool.read { try String.fetchAll($0, sql: "SELECT name FROM sqlite_master WHERE name IN ('row_clock', 'field_clock')") }
        #expect(tables.isEmpty)

        // A edits phone and e-mail at hlc 200: the e-mail wins over the creation stamp (100), the
        // phone loses to B's edit (300) carried over from field_clock.
        let reply = try hub.push(node: try hub.node("A"), changes: [
            change("A", 1, hlc: 200, .partner, "1001", .update, ["phone": .text("+48 2"), "email": .text("anna@b.pl")]),
        ], renamesApplied: 0)
        #expect(reply.results.map(\.outcome) == [.applied])
        let partner = try hub.pool.read { try ReplicatedTable.partner.fetch($0, key: "1001") }
        #expect(partner?["phone"] == .text("+48 1"))
        #expect(partner?["email"] == .text("anna@b.pl"))
        let fieldClocks = try hub.pool.read { try String.fetchOne($0, sql: "SELECT clock_fields FROM partner WHERE code = '1001'") }
        #expect(fieldClocks == "email:200:A;phone:300:B")
    }
}
