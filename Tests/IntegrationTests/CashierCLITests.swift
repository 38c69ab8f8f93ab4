import Foundation
import Testing
import SyncTesting

/// What a cashier and a script see of the partner rules through the real posnode and poshub.
@Suite("partner rules through the CLI and the local API", .serialized)
struct CashierCLITests {
    let http = TestHTTP()

    @Test("online the hub's VAT ID counts; offline the code is provisional; a refused entry makes sync exit 3")
    func onlineOfflineAndRefusals() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        try cluster.startHub()
        try cluster.addNode("A", site: "WAW", series: "K1")
        try cluster.addNode("B", site: "KRK", series: "K2")
        let business = ["--kind", "business", "--name", "Alfa", "--country", "PL", "--vat-id", "5260250274"]
        #expect(try cluster.posnode("A", ["partner", "add", "--code", "B1"] + business).succeeded)
        #expect(try cluster.posnode("A", ["sync"]).status == 0)
        // B does not hold B1, but the hub does: the warning comes, and the override saves.
        let warned = try cluster.posnode("B", ["partner", "add", "--code", "B2"] + business)
        #expect(!warned.succeeded && warned.stderr.contains("VAT ID") && warned.stderr.contains("B1"), "\(warned.stderr)")
        let saved = try cluster.posnode("B", ["partner", "add", "--code", "b2", "--allow-duplicate-vat"] + business)
        #expect(saved.succeeded && saved.stdout == "added partner B2\n", "\(saved.stdout)\(saved.stderr)")

        // Every missing field at once, one line each, in the form's words.
        let missing = try cluster.posnode("B", ["partner", "add", "--code", "C9", "--kind", "consumer"])
        #expect(missing.stderr.contains("first name: is mandatory") && missing.stderr.contains("last name: is mandatory"), "\(missing.stderr)")

        cluster.stopHub()
        let offline = try cluster.posnode("B", ["partner", "add", "--code", "1001", "--kind", "consumer", "--first-name", "Jan", "--last-name", "Nowak"])
        #expect(offline.stdout.contains("offline: the code is confirmed when the store reconnects"), "\(offline.stdout)")
        let unreachable = try cluster.posnode("B", ["sync"])
        #expect(unreachable.status == 1)
        #expect(unreachable.stderr.contains("is not reachable: connection refused; the node keeps working offline"), "\(unreachable.stderr)")

        try cluster.startHub()
        #expect(try cluster.posnode("A", ["partner", "add", "--code", "1001", "--kind", "consumer", "--first-name", "Ewa", "--last-name", "Kos"]).succeeded)
        #expect(try cluster.posnode("A", ["sync"]).status == 0)
        // A move the hub refuses: sync completes, says so, and exits 3.
        #expect(try cluster.posnode("B", ["customer", "move", "--current", "1001:0", "--new", "B1:0", "--from-site", "WAW", "--no-local-check"]).succeeded)
        let round = try cluster.posnode("B", ["sync"])
        #expect(round.status == 3, "\(round.stdout)\(round.stderr)")
        #expect(round.stdout.contains("renamed 1001 -> K2-1001") && round.stdout.contains("refused seq"), "\(round.stdout)")
        let status = try cluster.posnode("B", ["status"]).stdout
        #expect(status.contains("(1 refused by the hub)"), "\(status)")
        #expect(try cluster.posnode("B", ["audit", "--kind", "move-refused"]).stdout.contains("condition"))
        // 1001 is now A's customer at B: show says where B's own went.
        let show = try cluster.posnode("B", ["partner", "show", "--code", "1001"]).stdout
        #expect(show.contains("this store's customer 1001 is now K2-1001"), "\(show)")
        let json = try cluster.posnode("B", ["partner", "show", "--code", "1001", "--json"]).stdout
        #expect(json.contains("\"renamed_to\" : \"K2-1001\"") && json.contains("\"first_name\" : \"Ewa\""), "\(json)")
        let update = try cluster.posnode("B", ["partner", "update", "--code", "1001", "--phone", "+48 600 000 001"])
        #expect(update.succeeded && update.stderr.contains("this store's customer 1001 is now K2-1001"), "\(update.stderr)")
    }

    @Test("center parameters are shown, changed and audited; the API refuses lowest_price and lists every problem")
    func centerParametersAndAPI() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        try cluster.startHub()
        try cluster.addNode("A", site: "WAW", series: "K1")
        #expect(try cluster.posnode("A", ["config", "set", "--default-country", "pl", "--lowest-price-consumer", "true"]).succeeded)
        let status = try cluster.posnode("A", ["status"]).stdout
        #expect(status.contains("for new consumers yes; default country PL"), "\(status)")
        #expect(try cluster.posnode("A", ["audit", "--kind", "config"]).stdout.contains("default_country"))
        let bad = try cluster.posnode("A", ["config", "set", "--default-country", "Polska"])
        #expect(!bad.succeeded && bad.stderr.contains("default country: 'POLSKA' is not a two-letter country code"), "\(bad.stderr)")

        let node = try cluster.serveNode("A")
        defer { node.stop() }
        let refused = try await node.api.post("\(node.baseURL)/partners", json: ["code": "1", "kind": "consumer", "first_name": "A", "last_name": "B", "lowest_price": true])
        #expect(refused.status == 400 && refused.text.contains("\"field\":\"lowest_price\""), "\(refused.text)")
        let problems = try await node.api.post("\(node.baseURL)/partners", json: ["code": "2", "kind": "consumer", "national_id": "123"])
        #expect(problems.status == 400)
        let body = try JSONSerialization.jsonObject(with: Data(problems.text.utf8)) as? [String: Any]
        let fields = (body?["problems"] as? [[String: Any]])?.compactMap { $0["field"] as? String }
        // The default country PL makes the PESEL check run.
        #expect(fields == ["first_name", "last_name", "national_id"], "\(problems.text)")
        let created = try await node.api.post("\(node.baseURL)/partners", json: ["code": "c3", "kind": "consumer", "first_name": "A", "last_name": "B"])
        #expect(created.status == 201 && created.text.contains("\"code\":\"C3\"") && created.text.contains("\"lowest_price\":true"), "\(created.text)")
    }
}
