import Foundation
import SyncTesting
import Testing

/// Options with a fixed set of values: a wrong value is refused with the valid ones, and
/// nothing is changed or started.
@Suite("Options with a fixed set of values")
struct CLIOptionTests {
    @Test("a wrong --kind, --synchronous, --log-level or audit --kind is refused with the list of valid values")
    func refusedWithTheList() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        try cluster.startHub()
        try cluster.addNode("A", site: "WAW", series: "K1")
        let cases: [(CommandResult, [String])] = [
            (try cluster.posnode("A", ["partner", "add", "--code", "1", "--kind", "company", "--name", "X"]), ["consumer", "business"]),
            (try cluster.posnode("A", ["document", "add", "--kind", "bill", "--partner", "1", "--amount", "1.00"]), ["receipt", "invoice", "order", "receivable"]),
            (try cluster.posnode("A", ["audit", "--kind", "renames"]), ["rename", "move-refused", "duplicate-vat"]),
            (try cluster.posnode("A", ["status", "--synchronous", "SOMETIMES"]), ["FULL", "NORMAL", "EXTRA", "OFF"]),
            (try runCommand(BuiltProducts.path("poshub"), ["serve", "--db", cluster.hubDB, "--port", "0", "--log-level", "loud"]), ["warning", "trace"]),
            (try runCommand(BuiltProducts.path("poshub"), ["audit", "--db", cluster.hubDB, "--kind", "x"]), ["rename", "overwrite", "clock", "token"]),
        ]
        for (result, valid) in cases {
            #expect(!result.succeeded)
            for v in valid { #expect(result.stderr.contains("'\(v)'") || result.stderr.contains("- \(v)\n"), "\(v) in: \(result.stderr)") }
        }
        #expect(try cluster.posnode("A", ["partner", "list"]).stdout.isEmpty, "nothing was written")
        // Lower case works for the SQLite mode, as before.
        #expect(try cluster.posnode("A", ["status", "--synchronous", "normal"]).succeeded)

        let hub = try #require(cluster.hub)
        let token = try #require(cluster.nodes["A"]?.token)
        let bad = try await TestHTTP().get("\(hub.baseURL)/v1/audit?kind=renames", token: token)
        #expect(bad.status == 400 && bad.text.contains("rename, overwrite"), "\(bad.status) \(bad.text)")
        #expect(try await TestHTTP().get("\(hub.baseURL)/v1/audit?kind=rename", token: token).status == 200)
    }
}
