import Foundation
import Testing
import SyncModel
import SyncTesting
import SyncWire

/// What an attacker on the store's network, a buggy till or a careless script would try,
/// against real `poshub` and `posnode` processes (docs/security.md).
@Suite("Limits, look-alikes, paths, pick-up claims and refusal codes, with real processes", .serialized)
struct HardeningProcessTests {
    func ok(_ r: CommandResult, _ what: String) {
        #expect(r.succeeded, "\(what): \(r.stdout)\(r.stderr)")
    }

    @Test("a name of one letter and thousands of combining accents is refused by its code points, at the till and in a transfer")
    func limitsCountCodePoints() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let hub = try cluster.startHub()
        try cluster.addNode("A", site: "WAW", series: "K1")
        let zalgo = "Z" + String(repeating: "\u{0301}", count: 5000)
        let till = try cluster.posnode("A", ["partner", "add", "--code", "P1", "--kind", "consumer", "--first-name", "Anna", "--last-name", zalgo])
        #expect(!till.succeeded && till.stderr.contains("last name") && till.stderr.contains("code points"), "\(till.stderr.prefix(300))")
        let added = try cluster.poshub(["system", "add"], ["--name", "booking", "--series", "BO"])
        ok(added, "system")
        let token = added.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let item: [String: Any] = ["external_customer_id": "C1", "external_address_id": "A1", "trigger": "invoice",
                                   "first_name": "Anna", "last_name": zalgo, "street": "Długa 1", "city": "Gdańsk", "country": "PL",
                                   "postal_code": "80-001"]
        let reply = try await TestHTTP(token: token).request(.POST, "\(hub.baseURL)/v1/external/customers",
                                                             body: try JSONSerialization.data(withJSONObject: [item]).map { $0 },
                                                             headers: [("Content-Type", "application/json")])
        #expect(reply.text.contains("code points") && !reply.text.contains("\"created\""), "\(reply.status) \(reply.text.prefix(300))")
        #expect(try await TestHTTP(token: token).get("\(hub.baseURL)/v1/external/customers/A1").status == 404, "nothing was stored")
    }

    @Test("a fullwidth or Cyrillic look-alike of an offer code and a bell in a name are refused; the offer keeps its one code")
    func lookAlikes() throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        try cluster.startHub()
        ok(try cluster.poshub(["offer-category", "add"], ["--code", "TIX", "--name", "Tickets"]), "offer category")
        ok(try cluster.poshub(["offer", "add"], ["--code", "ADULT", "--name", "Adult ticket", "--offer-category", "TIX", "--price", "20.00", "--currency", "PLN"]), "offer")
        let fullwidth = try cluster.poshub(["offer", "add"], ["--code", "ＡＤＵＬＴ", "--name", "Again", "--offer-category", "TIX", "--price", "1.00", "--currency", "PLN"])
        #expect(!fullwidth.succeeded, "\(fullwidth.stdout)")
        let cyrillic = try cluster.poshub(["offer", "add"], ["--code", "\u{0410}DULT", "--name", "Again", "--offer-category", "TIX", "--price", "1.00", "--currency", "PLN"])
        #expect(!cyrillic.succeeded && cyrillic.stderr.contains("code"), "\(cyrillic.stderr)")
        let bell = try cluster.poshub(["offer-category", "add"], ["--code", "BELL", "--name", "Ring\u{07}\u{1B}[31m"])
        #expect(!bell.succeeded && bell.stderr.contains("control"), "\(bell.stderr)")
        let offers = try cluster.poshub(["offer", "list"], ["--json"])
        #expect(offers.stdout.contains("\"ADULT\"") && !offers.stdout.contains("ＡＤＵＬＴ") && !offers.stdout.contains("\u{0410}DULT"), "\(offers.stdout)")
    }

    @Test("percent-encoded paths reach the record they name, at the hub and at the till")
    func pathsDecoded() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let hub = try cluster.startHub()
        let a = try cluster.addNode("A", site: "WAW", series: "K1")
        ok(try cluster.posnode("A", ["partner", "add", "--code", "ŻÓŁW1", "--kind", "consumer", "--first-name", "Anna", "--last-name", "Nowak"]), "partner")
        ok(try cluster.posnode("A", ["sync"]), "sync")
        let encoded = "%C5%BB%C3%93%C5%81W1"
        #expect(try await TestHTTP(token: a.token).get("\(hub.baseURL)/v1/partners/\(encoded)").status == 200)
        #expect(try await TestHTTP(token: a.token).get("\(hub.baseURL)/v1/partners/%C5%BBX").status == 404)
        let node = try cluster.serveNode("A")
        defer { node.stop() }
        let shown = try await node.api.get("\(node.baseURL)/partners/\(encoded)")
        #expect(shown.status == 200 && shown.text.contains("Nowak"), "\(shown.status) \(shown.text)")
    }

    @Test("a pick-up claim for an order the hub does not have is refused with its code, and does not block that order")
    func pickupClaims() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let hub = try cluster.startHub()
        let a = try cluster.addNode("A", site: "WAW", series: "K1")
        let claim = Change(seq: 1, hlc: HLC(rawValue: HLC.nowMillis << 16), node: "A", entity: .orderPickup, key: "BOOKING-ORD-Z-1", op: .insert,
                           fields: ["order_id": .text("BOOKING-ORD-Z-1"), "receipt_id": .text("K1-A-R1"), "node": .text("A"), "at": .text("2026-12-07T10:00:00Z")])
        let before = try cluster.hubStateHash()
        let batch = try BatchCodec.encode(node: "A", changes: [claim])
        let reply = try await TestHTTP(token: a.token).request(.POST, "\(hub.baseURL)/v1/push", body: batch,
                                                              headers: [("Content-Type", "application/x-posnode-batch")])
        #expect(reply.status == 200)
        let results = (try reply.json() as? [String: Any])?["results"] as? [[String: Any]]
        #expect(results?.first?["outcome"] as? String == "rejected" && results?.first?["code"] as? String == "pickup-refused", "\(reply.text)")
        #expect(try cluster.hubStateHash() == before, "no claim was stored, so nothing blocks the order when it comes")
    }

    @Test("error replies of a real hub carry their codes: a sequence gap, a corrupt batch, a bad cursor, a wrong token")
    func refusalCodes() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let hub = try cluster.startHub()
        let a = try cluster.addNode("A", site: "WAW", series: "K1")
        func code(_ r: TestHTTP.Reply) -> String? { (try? r.json() as? [String: Any])??["code"] as? String }
        let partner = Change(seq: 7, hlc: HLC(rawValue: HLC.nowMillis << 16), node: "A", entity: .partner, key: "P7", op: .insert,
                             fields: ["code": .text("P7"), "kind": .text("consumer"), "first_name": .text("Anna"), "last_name": .text("Nowak")])
        let http = TestHTTP(token: a.token)
        let gap = try await http.request(.POST, "\(hub.baseURL)/v1/push", body: try BatchCodec.encode(node: "A", changes: [partner]),
                                         headers: [("Content-Type", "application/x-posnode-batch")])
        #expect(gap.status == 409 && code(gap) == "sequence-gap", "\(gap.text)")
        var corrupt = try BatchCodec.encode(node: "A", changes: [partner])
        corrupt[corrupt.count / 2] ^= 0x40
        let bad = try await http.request(.POST, "\(hub.baseURL)/v1/push", body: corrupt, headers: [("Content-Type", "application/x-posnode-batch")])
        #expect(bad.status == 400 && code(bad) == "batch-corrupt", "\(bad.text)")
        let cursor = try await http.get("\(hub.baseURL)/v1/epoch?cursor=abc")
        #expect(cursor.status == 400 && code(cursor) == "invalid-request", "\(cursor.text)")
        let wrong = try await TestHTTP(token: "pos_wrong").get("\(hub.baseURL)/v1/pull")
        #expect(wrong.status == 401 && code(wrong) == "unauthorized", "\(wrong.text)")
    }
}
