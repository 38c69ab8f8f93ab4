import Foundation
import Testing
import SyncModel
import SyncStore
import SyncTesting

@Suite("Back-office customer transfer, driven by a client that is not ours", .serialized)
struct BackofficeTransferTests {
    func ok(_ r: CommandResult, _ what: String) {
        #expect(r.succeeded, "\(what): \(r.stdout)\(r.stderr)")
    }

    /// Runs Scripts/backoffice-client.py (Python, standard library only) against the hub.
    func client(_ cluster: Cluster, token: String, _ arguments: [String]) throws -> CommandResult {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Scripts/backoffice-client.py").path
        return try runCommand("/usr/bin/python3", [script, "--url", cluster.hubURL, "--token", token] + arguments)
    }

    func results(_ r: CommandResult) throws -> [[String: Any]] {
        try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]], "\(r.stdout)\(r.stderr)")
    }

    func write(_ items: [[String: Any]], _ file: String) throws {
        try JSONSerialization.data(withJSONObject: items).write(to: URL(fileURLWithPath: file))
    }

    static func item(_ address: String, trigger: String, last: String = "Wiśniewska", extra: [String: Any] = [:]) -> [String: Any] {
        ["external_customer_id": "EC1", "external_address_id": address, "trigger": trigger, "first_name": "Ewa", "last_name": last,
         "street": "Długa 5", "city": "Gdańsk", "country": "PL", "postal_code": "80-001", "debtor_number": "D-7781"].merging(extra) { $1 }
    }

    @Test("a customer with two addresses (an invoice and a pick-up), a repeated batch, a bad item, a deleted customer transferred again, wrong tokens; a store shows both customers and sells the picked-up order offline; hashes converge",
          arguments: HubStoreKind.available)
    func transfer(store: HubStoreKind) async throws {
        let cluster = try Cluster(store: store)
        defer { cluster.shutdown() }
        try cluster.startHub()
        try cluster.addNode("A", site: "WAW", series: "K1")
        try cluster.addNode("B", site: "KRK", series: "K2")
        ok(try cluster.poshub(["category", "add"], ["--code", "STD", "--name", "Standard", "--default"]), "category")
        ok(try cluster.poshub(["offer-category", "add"], ["--code", "TIX", "--name", "Tickets"]), "offer category")
        ok(try cluster.poshub(["offer", "add"], ["--code", "ADULT", "--name", "Adult ticket", "--offer-category", "TIX", "--price", "20.00", "--currency", "PLN"]), "offer")
        let added = try cluster.poshub(["system", "add"], ["--name", "booking", "--series", "BO"])
        ok(added, "system")
        let token = added.stdout.trimmingCharacters(in: .whitespacesAndNewlines)

        let first = cluster.dir.file("first.json")
        try write([
            Self.item("EA1", trigger: "invoice", extra: ["invoice": ["external_number": "F-100", "currency": "PLN",
                                                                     "lines": [["offer": "ADULT", "quantity": 2, "unit_price": "20.00"]]]]),
            Self.item("EA2", trigger: "pickup", extra: ["street": "Krótka 1", "order": ["external_number": "Z-200", "currency": "PLN",
                                                                                        "lines": [["offer": "ADULT", "quantity": 3, "unit_price": "18.00"]]]]),
        ], first)
        var r = try results(try client(cluster, token: token, ["--json", "transfer", first]))
        #expect(r.map { $0["action"] as? String } == ["created", "created"] && r.map { $0["code"] as? String } == ["BO1", "BO2"], "\(r)")
        #expect((r[0]["documents"] as? [String]) == ["BOOKING-INV-F-100"] && (r[1]["documents"] as? [String]) == ["BOOKING-ORD-Z-200"])

        // The same batch again changes nothing.
        let before = try cluster.hubStateHash()
        r = try results(try client(cluster, token: token, ["--json", "transfer", first]))
        #expect(r.map { $0["action"] as? String } == ["existing", "existing"] && r.map { $0["code"] as? String } == ["BO1", "BO2"])
        #expect(try cluster.hubStateHash() == before)

        // One bad item does not refuse the batch.
        let mixed = cluster.dir.file("mixed.json")
        try write([Self.item("EA3", trigger: "invoice"), Self.item("EA4", trigger: "invoice", last: ""),
                   Self.item("EA5", trigger: "pickup", extra: ["order": ["external_number": "Z-9", "currency": "PLN", "lines": [["offer": "NOPE", "unit_price": "1.00"]]]]),
                   ["external_address_id": 17], Self.item("EA6", trigger: "delivery-note")], mixed)
        r = try results(try client(cluster, token: token, ["--json", "transfer", mixed]))
        #expect(r.count == 5 && (r[0]["action"] as? String) == "created", "\(r)")
        #expect(((r[4]["error"] as? [String: Any])?["field"] as? String) == "trigger", "a delivery note travels the other way: \(r[4])")
        #expect(((r[1]["error"] as? [String: Any])?["field"] as? String) == "last_name", "\(r[1])")
        #expect(((r[2]["error"] as? [String: Any])?["field"] as? String) == "order.lines[0].offer", "\(r[2])")
        #expect(((r[3]["error"] as? [String: Any])?["field"] as? String) == "external_address_id", "\(r[3])")
        let mapped = try client(cluster, token: token, ["get", "EA1"])
        #expect(mapped.stdout.contains("EA1 -> BO1"), "\(mapped.stdout)\(mapped.stderr)")
        let unknown = try client(cluster, token: token, ["get", "EA4"])
        #expect(unknown.status == 2 && unknown.stderr.contains("404"), "\(unknown.stderr)")

        // A node's token and a wrong token are refused; the system's token cannot pull.
        let nodeToken = try client(cluster, token: cluster.nodes["A"]!.token, ["transfer", first])
        #expect(nodeToken.status == 2 && nodeToken.stderr.contains("403"), "\(nodeToken.stderr)")
        let wrong = try client(cluster, token: "not-a-token", ["transfer", first])
        #expect(wrong.status == 2 && wrong.stderr.contains("401"), "\(wrong.stderr)")
        let pull = try await TestHTTP().get("\(cluster.hubURL)/v1/pull?cursor=0", token: token)
        #expect(pull.status == 403)
        let catalog = try await TestHTTP().get("\(cluster.hubURL)/v1/central/offers", token: token)
        #expect(catalog.status == 403, "a system's token calls the transfer API only")
        let probe = try await TestHTTP().get("\(cluster.hubURL)/v1/partners/BO1", token: token)
        #expect(probe.status == 403, "a system's token cannot probe which customer codes exist")

        // The stores receive both customers, the invoice and the order.
        for _ in 0..<2 { for id in ["A", "B"] { ok(try cluster.posnode(id, ["sync"]), "sync \(id)") } }
        let shown = try cluster.posnode("A", ["partner", "show", "--code", "BO1"])
        #expect(shown.stdout.contains("transferred from booking: customer EC1, address EA1, debtor number D-7781"), "\(shown.stdout)")
        #expect(try cluster.posnode("A", ["partner", "show", "--code", "BO2"]).stdout.contains("Krótka 1"))
        let docs = try cluster.posnode("B", ["document", "list"])
        #expect(docs.stdout.contains("BOOKING-INV-F-100") && docs.stdout.contains("BOOKING-ORD-Z-200"), "\(docs.stdout)")

        // Deleted at a store, transferred again: a new customer, the mapping follows.
        ok(try cluster.posnode("A", ["partner", "delete", "--code", "BO1"]), "delete")
        ok(try cluster.posnode("A", ["sync"]), "sync the deletion")
        r = try results(try client(cluster, token: token, ["--json", "transfer", first]))
        #expect((r[0]["action"] as? String) == "recreated" && (r[0]["code"] as? String) == "BO4" && (r[1]["action"] as? String) == "existing", "\(r)")
        #expect(try client(cluster, token: token, ["get", "EA1"]).stdout.contains("EA1 -> BO4"))
        let audit = try cluster.poshub(["audit"], ["--kind", "transfer"])
        #expect(audit.stdout.contains("BO1") && audit.stdout.contains("BO4"), "\(audit.stdout)")

        // B sells the picked-up order offline.
        ok(try cluster.posnode("B", ["sync"]), "B sync")
        cluster.stopHub()
        let receipt = try cluster.posnode("B", ["receipt", "add", "--order", "Z-200", "--json"])
        ok(receipt, "receipt for the order")
        let sold = try JSONDecoder().decode(Document.self, from: Data(receipt.stdout.utf8))
        #expect(sold.partnerCode == "BO2" && sold.amountMinor == 5400 && sold.lines.first?.unitPrice == 1800)
        let again = try cluster.posnode("B", ["receipt", "add", "--order", "Z-200"])
        #expect(!again.succeeded && again.stderr.contains("already"), "\(again.stderr)")
        try cluster.startHub()
        for _ in 0..<2 { for id in ["A", "B"] { ok(try cluster.posnode(id, ["sync"]), "final sync \(id)") } }
        let hubHash = try cluster.hubStateHash()
        for id in ["A", "B"] { #expect(try cluster.nodeStateHash(id) == hubHash, "\(id)") }
        let atA = try cluster.posnode("A", ["receipt", "add", "--order", "BOOKING-ORD-Z-200"])
        #expect(!atA.succeeded && atA.stderr.contains("already"), "another store knows the order was collected: \(atA.stderr)")

        // An unknown institution arrives by name; a re-sent invoice with another amount is a conflict.
        let more = cluster.dir.file("more.json")
        try write([Self.item("EA7", trigger: "invoice", extra: ["institution": "Towarzystwo Przyjaciół Muzeum"]),
                   Self.item("EA8", trigger: "invoice", extra: ["invoice": ["external_number": "R-1", "currency": "PLN", "amount": "24.70"]]),
                   Self.item("EA8", trigger: "invoice", extra: ["invoice": ["external_number": "R-1", "currency": "PLN", "amount": "99.00"]])], more)
        r = try results(try client(cluster, token: token, ["--json", "transfer", more]))
        #expect((r[0]["institution_created"] as? Bool) == true && r[0]["institution"] != nil, "\(r[0])")
        #expect(r[1]["action"] as? String == "created", "\(r[1])")
        let conflict = r[2]["error"] as? [String: Any]
        #expect(conflict?["code"] as? String == "conflict" && conflict?["field"] as? String == "invoice.amount", "\(r[2])")

        // The delivery note goes the other way: B writes one offline, the back office fetches
        // it (options after the sub-command, as the documentation shows), acknowledges it.
        cluster.stopHub()
        ok(try cluster.posnode("B", ["document", "add", "--kind", "delivery-note", "--partner", "BO2", "--line", "ADULT:3"]), "delivery note")
        try cluster.startHub()
        ok(try cluster.posnode("B", ["sync"]), "sync the note")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Scripts/backoffice-client.py").path
        let fetched = try runCommand("/usr/bin/python3", [script, "delivery-notes", "--url", cluster.hubURL, "--token", token, "--json"])
        let page = try #require(try JSONSerialization.jsonObject(with: Data(fetched.stdout.utf8)) as? [String: Any], "\(fetched.stdout)\(fetched.stderr)")
        let notes = try #require(page["notes"] as? [[String: Any]])
        let customer = notes.first?["customer"] as? [String: Any]
        #expect(notes.count == 1 && customer?["code"] as? String == "BO2" && customer?["external_address_id"] as? String == "EA2"
                && customer?["debtor_number"] as? String == "D-7781", "\(notes)")
        let acked = try runCommand("/usr/bin/python3", [script, "delivery-notes", "--ack", "--url", cluster.hubURL, "--token", token])
        #expect(acked.succeeded && acked.stdout.contains("acknowledged through"), "\(acked.stdout)\(acked.stderr)")
        let none = try client(cluster, token: token, ["delivery-notes", "--json"])
        #expect((try JSONSerialization.jsonObject(with: Data(none.stdout.utf8)) as? [String: Any])?["notes"] as? [Any] != nil
                && none.stdout.contains("\"notes\": []"), "\(none.stdout)")
    }
}
