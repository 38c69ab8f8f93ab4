import Foundation
import Testing
import SyncModel
import SyncStore
import SyncTesting

@Suite("Data-subject requests across real processes", .serialized)
struct PrivacyProcessTests {
    static let first = "Zbigniewa", last = "Przybyszewska", email = "zbigniewa.p@example.pl", pesel = "44051401359"
    static let offlineEmail = "zbigniewa.nowy@example.pl"

    func ok(_ r: CommandResult, _ what: String) {
        #expect(r.succeeded, "\(what): \(r.stdout)\(r.stderr)")
    }

    /// Every file of the hub and the stores (databases, -wal, -shm) that holds `value` as bytes.
    static func filesHolding(_ value: String, in dir: String) throws -> [String] {
        let needle = Data(value.utf8)
        return try FileManager.default.contentsOfDirectory(atPath: dir).sorted().filter { name in
            guard name.contains(".sqlite") else { return false }
            let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name))
            return data.range(of: needle) != nil
        }
    }

    /// The text of a page as headless Chromium renders it (its DOM without tags).
    static func renderedText(_ file: String) throws -> String {
        let r = try runCommand("/usr/bin/chromium", ["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", "file://" + file])
        #expect(r.succeeded, "chromium: \(r.stderr.suffix(500))")
        return r.stdout.replacingOccurrences(of: "<[^>]+>", with: " ", options: .regularExpression)
    }

    @Test("an access report from the hub and every store, rendered by Chromium; an erasure while a store is offline and edits the person; afterwards no file of hub or stores holds the person's name, e-mail or national ID, and before it they did")
    func accessReportAndErasure() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        try cluster.startHub()
        for (id, site, series) in [("A", "WAW", "K1"), ("B", "KRK", "K2"), ("C", "GDA", "K3")] { try cluster.addNode(id, site: site, series: series) }
        ok(try cluster.posnode("A", ["partner", "add", "--code", "P1", "--kind", "consumer", "--first-name", Self.first, "--last-name", Self.last,
                                     "--email", Self.email, "--country", "PL", "--national-id", Self.pesel]), "partner")
        ok(try cluster.posnode("A", ["address", "add", "--partner", "P1", "--seq", "0", "--street", "Ulica Przybyszewskiej 7", "--city", "Wrocław"]), "address")
        ok(try cluster.posnode("A", ["receipt", "add", "--partner", "P1", "--amount", "12.34", "--currency", "PLN"]), "receipt")
        for _ in 0..<2 { for id in ["A", "B", "C"] { ok(try cluster.posnode(id, ["sync"]), "sync \(id)") } }

        // The request, answered by the stores at their next sync.
        let added = try cluster.poshub(["access-request", "add"], ["--national-id", Self.pesel, "--json"])
        ok(added, "access request")
        let caseID = try #require((try JSONSerialization.jsonObject(with: Data(added.stdout.utf8)) as? [String: Any])?["case"] as? String)
        for id in ["A", "B"] { ok(try cluster.posnode(id, ["sync"]), "answer \(id)") }
        let html = cluster.dir.file("report.html")
        ok(try cluster.poshub(["access-request", "report"], ["--case", caseID, "--format", "html", "--out", html]), "report")
        let text = try Self.renderedText(html)
        for expected in ["Access report", "Purposes, legal basis and storage period", "Recipients", Self.last, Self.email,
                         "Ulica Przybyszewskiej 7", "12.34 PLN", "pending"] {
            #expect(text.contains(expected), "the rendered report lacks '\(expected)'")
        }
        let export = try cluster.posnode("C", ["access-request", "export", "--partner", "P1", "--json"])
        #expect(export.succeeded && export.stdout.contains(Self.pesel), "\(export.stdout)\(export.stderr)")

        // C goes offline and changes the person's e-mail.
        ok(try cluster.posnode("C", ["partner", "update", "--code", "P1", "--email", Self.offlineEmail]), "offline edit")
        for value in [Self.last, Self.email, Self.pesel] {
            #expect(!(try Self.filesHolding(value, in: cluster.dir.path)).isEmpty, "before the erasure the scan finds \(value)")
        }

        let erased = try cluster.poshub(["erase"], ["--case", caseID, "--reason", "letter of 2026-12-01"])
        ok(erased, "erase")
        for id in ["A", "B"] { ok(try cluster.posnode(id, ["sync"]), "sync \(id) after the erasure") }
        let back = try cluster.posnode("C", ["sync"])
        #expect(back.status == 3 && back.stdout.contains("erased under case \(caseID)"), "the offline edit is refused naming the erasure: \(back.stdout)\(back.stderr)")
        for id in ["A", "B", "C"] { ok(try cluster.posnode(id, ["sync"]), "final sync \(id)") }
        let refused = try cluster.posnode("C", ["partner", "update", "--code", "P1", "--email", Self.offlineEmail])
        #expect(!refused.succeeded && refused.stderr.contains("erased"), "\(refused.stderr)")
        let shown = try cluster.posnode("A", ["partner", "show", "--code", "P1", "--json"])
        #expect(shown.stdout.contains(Erasure.placeholder), "\(shown.stdout)")
        let receipts = try cluster.posnode("B", ["document", "list", "--partner", "P1", "--json"])
        #expect(receipts.stdout.contains("\"amount_minor\" : 1234"), "the receipt is kept: \(receipts.stdout)")

        cluster.stopHub()
        for value in [Self.first, Self.last, Self.email, Self.pesel, Self.offlineEmail, "Przybyszewskiej"] {
            #expect(try Self.filesHolding(value, in: cluster.dir.path) == [], "after the erasure no file holds \(value)")
        }
        try cluster.startHub()
        let hubHash = try cluster.hubStateHash()
        for id in ["A", "B", "C"] { #expect(try cluster.nodeStateHash(id) == hubHash, "\(id)") }
    }

    @Test("Jan holds 1001; Anna got K1-1001 offline: a case by 1001 is refused with both, her erasure leaves Jan's record, documents and state unchanged on every store, an offline membership of hers is refused, and no file holds her name, phone or PESEL",
          arguments: HubStoreKind.available)
    func renamedCustomerErasure(store: HubStoreKind) async throws {
        let cluster = try Cluster(store: store)
        defer { cluster.shutdown() }
        try cluster.startHub()
        for (id, site, series) in [("A", "WAW", "K1"), ("B", "KRK", "K2"), ("C", "GDA", "K3")] { try cluster.addNode(id, site: site, series: series) }
        ok(try cluster.posnode("C", ["institution", "add", "--code", "SZK1", "--name", "Szkoła 1", "--kind", "organisation"]), "institution")
        ok(try cluster.posnode("C", ["sync"]), "sync C")
        ok(try cluster.posnode("B", ["partner", "add", "--code", "1001", "--kind", "consumer", "--first-name", "Jan", "--last-name", "Kowalski",
                                     "--phone", "+48 500 100 200", "--country", "PL"]), "Jan")
        ok(try cluster.posnode("B", ["receipt", "add", "--partner", "1001", "--amount", "9.90", "--currency", "PLN"]), "Jan's receipt")
        ok(try cluster.posnode("B", ["sync"]), "sync B")
        // A is offline and has not pulled Jan: Anna becomes 1001 there and buys for 55.00.
        cluster.stopHub()
        ok(try cluster.posnode("A", ["partner", "add", "--code", "1001", "--kind", "consumer", "--first-name", "Annabella", "--last-name", "Wierzbicka",
                                     "--phone", "+48 611 222 333", "--country", "PL", "--national-id", "02070201235"]), "Anna")
        ok(try cluster.posnode("A", ["receipt", "add", "--partner", "1001", "--amount", "55.00", "--currency", "PLN"]), "Anna's receipt")
        try cluster.startHub()
        for _ in 0..<2 { for id in ["A", "B", "C"] { ok(try cluster.posnode(id, ["sync"]), "sync \(id)") } }
        var janBefore: [String: String] = [:]
        for id in ["A", "B", "C"] {
            let shown = try cluster.posnode(id, ["partner", "show", "--code", "1001", "--json"])
            #expect(shown.stdout.contains("Kowalski"), "\(id): \(shown.stdout)")
            janBefore[id] = shown.stdout + (try cluster.posnode(id, ["document", "list", "--partner", "1001", "--json"])).stdout
        }

        // Anna brings her receipt showing 1001: the code was two customers'.
        let ambiguous = try cluster.poshub(["access-request", "add"], ["--partner", "1001"])
        #expect(!ambiguous.succeeded && ambiguous.stderr.contains("Jan Kowalski") && ambiguous.stderr.contains("K1-1001"), "\(ambiguous.stdout)\(ambiguous.stderr)")
        let atStore = try cluster.posnode("A", ["access-request", "export", "--partner", "1001"])
        #expect(!atStore.succeeded && atStore.stderr.contains("K1-1001"), "\(atStore.stdout)\(atStore.stderr)")
        let future = try cluster.poshub(["access-request", "add"], ["--record", "K1-1001", "--received", "2999-01-01"])
        #expect(!future.succeeded && future.stderr.contains("received"), "\(future.stderr)")
        // Her PESEL as she writes it finds her record.
        let added = try cluster.poshub(["access-request", "add"], ["--national-id", "0207 0201 235", "--json"])
        ok(added, "access request")
        let body = try #require(try JSONSerialization.jsonObject(with: Data(added.stdout.utf8)) as? [String: Any])
        let caseID = try #require(body["case"] as? String)
        #expect(body["partners"] as? [String] == ["K1-1001"], "\(added.stdout)")

        // The museum's back office transferred her too (another record of hers, with its ids).
        let systemToken = try cluster.poshub(["system", "add"], ["--name", "booking"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let transfer = try await TestHTTP(token: systemToken).request(.POST, "\(cluster.hubURL)/v1/external/customers", json: [[
            "external_customer_id": "GM-C7781", "external_address_id": "GM-A7781", "trigger": "invoice", "first_name": "Annabella",
            "last_name": "Wierzbicka", "debtor_number": "D-99177", "city": "Gdańsk"]])
        #expect(transfer.status == 200 && transfer.text.contains("BO1"), "\(transfer.text)")
        ok(try cluster.poshub(["access-request", "close"], ["--case", caseID, "--answer", "opened again with both of her records"]), "close")
        let both = try cluster.poshub(["access-request", "add"], ["--record", "K1-1001", "--record", "BO1", "--json"])
        let bothCase = try #require((try JSONSerialization.jsonObject(with: Data(both.stdout.utf8)) as? [String: Any])?["case"] as? String, "\(both.stdout)\(both.stderr)")
        let report = try cluster.poshub(["access-request", "report"], ["--case", bothCase, "--format", "json"])
        #expect(report.stdout.contains("D-99177") && report.stdout.contains("\"system\" : \"booking\""), "the report names the system and its ids")
        for id in ["A", "B", "C"] where id != "C" { ok(try cluster.posnode(id, ["sync"]), "sync \(id)") }

        // C is offline during the erasure and makes her a member of the school afterwards.
        let erased = try cluster.poshub(["erase"], ["--case", bothCase])
        ok(erased, "erase")
        #expect(erased.stdout.contains("erased BO1, K1-1001 ") && !erased.stdout.contains(" 1001"), "\(erased.stdout)")
        let mapping = try await TestHTTP(token: systemToken).get("\(cluster.hubURL)/v1/external/customers/GM-A7781")
        #expect(mapping.status == 404, "the erased customer's external ids are gone: \(mapping.text)")
        ok(try cluster.posnode("C", ["member", "add", "--partner", "K1-1001", "--institution", "SZK1"]), "offline membership")
        for id in ["A", "B"] { ok(try cluster.posnode(id, ["sync"]), "sync \(id)") }
        let back = try cluster.posnode("C", ["sync"])
        #expect(back.status == 3 && back.stdout.contains("erased under case \(bothCase)"), "\(back.stdout)\(back.stderr)")
        for _ in 0..<2 { for id in ["A", "B", "C"] { ok(try cluster.posnode(id, ["sync"]), "final sync \(id)") } }
        for id in ["A", "B", "C"] {
            let now = (try cluster.posnode(id, ["partner", "show", "--code", "1001", "--json"])).stdout
                + (try cluster.posnode(id, ["document", "list", "--partner", "1001", "--json"])).stdout
            #expect(now == janBefore[id], "\(id): Jan's record and documents unchanged")
            let anna = try cluster.posnode(id, ["partner", "show", "--code", "K1-1001"])
            #expect(!anna.stdout.contains("member of") && anna.stdout.contains(Erasure.placeholder), "\(id): \(anna.stdout)")
        }
        ok(try cluster.posnode("B", ["partner", "update", "--code", "1001", "--email", "jan.k@example.pl"]), "Jan's store edits him")
        ok(try cluster.poshub(["compact"]), "nothing left to rebuild")

        cluster.stopHub()
        // With PostgreSQL, the hub's rows are in the database: none of them holds her data.
        let databaseRows = try cluster.postgresDatabase.map { try TestPostgres.dataText($0) }
        for value in ["Annabella", "Wierzbicka", "611 222 333", "02070201235", "D-99177", "GM-C7781", "GM-A7781"] {
            #expect(try Self.filesHolding(value, in: cluster.dir.path) == [], "after the erasure no file holds \(value)")
            #expect(databaseRows?.contains(value) != true, "after the erasure no row of the hub's database holds \(value)")
        }
        #expect(!(try Self.filesHolding("Kowalski", in: cluster.dir.path)).isEmpty, "Jan is still there")
        if let databaseRows { #expect(databaseRows.contains("Kowalski"), "Jan is still in the hub's database") }
        try cluster.startHub()
        for _ in 0..<2 { for id in ["A", "B", "C"] { ok(try cluster.posnode(id, ["sync"]), "sync \(id)") } }
        let hubHash = try cluster.hubStateHash()
        for id in ["A", "B", "C"] { #expect(try cluster.nodeStateHash(id) == hubHash, "\(id)") }
    }
}
