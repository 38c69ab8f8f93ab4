import Foundation
import Testing
import SyncModel
import SyncStore
import SyncTesting

@Suite("customer module across real processes", .serialized)
struct CustomerModuleProcessTests {
    func ok(_ r: CommandResult, _ what: String) {
        #expect(r.succeeded, "\(what): \(r.stdout)\(r.stderr)")
    }

    @Test("the hub publishes the catalog while it serves; an offline store sells to an institution member and anonymously; the hub changes a price meanwhile; after reconnect both stores and the hub agree, prices as sold, the old price audited",
          arguments: HubStoreKind.available)
    func offlineInstitutionSale(store: HubStoreKind) async throws {
        let cluster = try Cluster(store: store)
        defer { cluster.shutdown() }
        try cluster.startHub()
        try cluster.addNode("A", site: "WAW", series: "K1")
        try cluster.addNode("B", site: "KRK", series: "K2")
        // Written by the CLI on the store the serving hub has open.
        ok(try cluster.poshub(["category", "add"], ["--code", "STD", "--name", "Standard", "--default"]), "category STD")
        ok(try cluster.poshub(["category", "add"], ["--code", "SCH", "--name", "Schools"]), "category SCH")
        ok(try cluster.poshub(["offer-category", "add"], ["--code", "TIX", "--name", "Tickets"]), "offer category")
        ok(try cluster.poshub(["offer", "add"], ["--code", "ADULT", "--name", "Adult ticket", "--offer-category", "TIX", "--price", "20.00", "--currency", "PLN"]), "offer")
        ok(try cluster.poshub(["price", "set"], ["--customer-category", "SCH", "--offer-category", "TIX", "--amount", "12.50", "--currency", "PLN"]), "price")
        let refused = try cluster.poshub(["price", "set"], ["--customer-category", "SCH", "--offer-category", "TIX", "--amount", "-1", "--currency", "PLN"])
        #expect(!refused.succeeded && refused.stderr.contains("amount"), "\(refused.stderr)")
        // A price list file: a bad line refuses the file, naming the line; nothing is written.
        let list = cluster.dir.file("prices.csv")
        try "customer_category,offer_category,amount,currency\nSTD,TIX,20.00,PLN\nSCH,TIX,abc,PLN\n".write(toFile: list, atomically: true, encoding: .utf8)
        let badList = try cluster.poshub(["price", "import"], ["--file", list])
        #expect(!badList.succeeded && badList.stderr.contains("line 3"), "\(badList.stderr)")
        try "customer_category,offer_category,amount,currency\nSTD,TIX,20.00,PLN\n".write(toFile: list, atomically: true, encoding: .utf8)
        let imported = try cluster.poshub(["price", "import"], ["--file", list, "--json"])
        #expect(imported.succeeded && imported.stdout.contains(#""cells" : 1"#), "\(imported.stdout)\(imported.stderr)")
        // A school registers at A; its discount is central data, set at the hub (decimals too).
        let local = try cluster.posnode("A", ["institution", "add", "--code", "SZK1", "--name", "Szkoła 1", "--kind", "organisation", "--discount", "10"])
        #expect(!local.succeeded && local.stderr.contains("central"), "\(local.stderr)")
        ok(try cluster.posnode("A", ["institution", "add", "--code", "SZK1", "--name", "Szkoła 1", "--kind", "organisation"]), "institution")
        ok(try cluster.posnode("A", ["sync"]), "sync the institution")
        ok(try cluster.poshub(["institution", "update"], ["--code", "szk1", "--discount", "12.5"]), "discount at the hub")
        let operatorToken = try cluster.poshub(["operator", "add"], ["--name", "central"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let patched = try await TestHTTP(token: operatorToken).request(.PATCH, "\(cluster.hubURL)/v1/central/institutions/SZK1", json: ["discount": "10"])
        #expect(patched.status == 200 && patched.text.contains(#""discount":"10""#), "\(patched.text)")
        for id in ["A", "B"] { ok(try cluster.posnode(id, ["sync"]), "first sync \(id)") }

        // The network goes down.
        cluster.stopHub()
        ok(try cluster.posnode("A", ["partner", "add", "--code", "P1", "--kind", "consumer", "--first-name", "Anna", "--last-name", "Nowak", "--category", "SCH", "--offline"]), "partner")
        ok(try cluster.posnode("A", ["address", "add", "--partner", "P1", "--seq", "1", "--street", "Szkolna 1", "--city", "Warszawa", "--institution", "SZK1"]), "address")
        let price = try cluster.posnode("A", ["price", "--offer", "ADULT", "--partner", "P1", "--address", "1", "--quantity", "3"])
        #expect(price.stdout.contains("unit price: 12.50 PLN (price table)") && price.stdout.contains("discount 10 % = 3.75")
                && price.stdout.contains("= 33.75 PLN"), "\(price.stdout)")
        let order = try cluster.posnode("A", ["order", "add", "--partner", "P1", "--address", "1", "--line", "ADULT:3", "--json"])
        ok(order, "order")
        let orderDoc = try JSONDecoder().decode(Document.self, from: Data(order.stdout.utf8))
        #expect(orderDoc.amountMinor == 3375 && orderDoc.institution == "SZK1")
        let receipt = try cluster.posnode("A", ["receipt", "add", "--line", "ADULT:2", "--json"])
        ok(receipt, "anonymous receipt")
        #expect(try JSONDecoder().decode(Document.self, from: Data(receipt.stdout.utf8)).amountMinor == 4000)
        #expect(!(try cluster.posnode("A", ["sync"]).succeeded), "the hub is down")
        // The hub's operator changes the schools' price meanwhile.
        ok(try cluster.poshub(["price", "set"], ["--customer-category", "SCH", "--offer-category", "TIX", "--amount", "11.00", "--currency", "PLN"]), "new price")

        try cluster.startHub()
        for _ in 0..<2 { for id in ["A", "B"] { ok(try cluster.posnode(id, ["sync"]), "sync \(id)") } }

        let atHub = try cluster.poshub(["institution", "show"], ["--code", "SZK1", "--json"])
        let hubListing = try JSONDecoder().decode(InstitutionListing.self, from: Data(atHub.stdout.utf8))
        #expect(hubListing.members.map(\.code) == ["P1"])
        #expect(hubListing.documents.map(\.id) == [orderDoc.id])
        #expect(hubListing.documents.first?.lines.first?.unitPrice == 1250, "sold at the old price, kept")
        for id in ["A", "B"] {
            let shown = try cluster.posnode(id, ["institution", "show", "--code", "SZK1", "--json"])
            let listing = try JSONDecoder().decode(InstitutionListing.self, from: Data(shown.stdout.utf8))
            #expect(listing.members.map(\.code) == ["P1"] && listing.documents.map(\.amountMinor) == [3375], "\(id): \(shown.stdout)\(shown.stderr)")
        }
        let audit = try cluster.poshub(["audit"], ["--kind", "old-price", "--json"])
        #expect(audit.stdout.contains(orderDoc.id) && audit.stdout.contains("ADULT sold at 12.50, now 11.00"), "\(audit.stdout)\(audit.stderr)")
        let after = try cluster.posnode("B", ["price", "--offer", "ADULT", "--partner", "P1", "--json"])
        #expect(try JSONDecoder().decode(PriceQuote.self, from: Data(after.stdout.utf8)).line.unitPrice == 1100)
        let hubHash = try cluster.hubStateHash()
        for id in ["A", "B"] { #expect(try cluster.nodeStateHash(id) == hubHash, "\(id)") }

        // The offer is repriced and then withdrawn while the hub serves; a store refuses it after its sync.
        let repriced = try cluster.poshub(["offer", "update"], ["--code", "ADULT", "--price", "22.00"])
        #expect(repriced.succeeded && repriced.stdout.contains("22.00 PLN, active"), "\(repriced.stdout)\(repriced.stderr)")
        let busy = try cluster.poshub(["offer-category", "update"], ["--code", "TIX", "--active", "false"])
        #expect(!busy.succeeded && busy.stderr.contains("1 active offer (ADULT)"), "\(busy.stderr)")
        ok(try cluster.poshub(["offer", "update"], ["--code", "ADULT", "--active", "false"]), "offer withdrawn")
        let offers = try cluster.poshub(["offer", "list"], [])
        #expect(offers.stdout.contains("22.00 PLN") && offers.stdout.contains("inactive"), "\(offers.stdout)")
        ok(try cluster.posnode("B", ["sync"]), "sync B")
        let withdrawn = try cluster.posnode("B", ["receipt", "add", "--line", "ADULT:1"])
        #expect(!withdrawn.succeeded && withdrawn.stderr.contains("offer ADULT is inactive"), "\(withdrawn.stdout)\(withdrawn.stderr)")
    }
}
