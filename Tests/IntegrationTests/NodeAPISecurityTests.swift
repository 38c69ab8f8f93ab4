import Foundation
import SyncTesting
import Testing

/// The node's local API as a web page on the till's PC or a careless script meets it: real
/// `posnode serve` processes on loopback.
@Suite("The local API: token, host, origin, body type and size, bounded values")
struct NodeAPISecurityTests {
    let anonymous = TestHTTP()

    @Test("without the store's token nothing but /health answers; the scheme is case-insensitive; the files are the owner's")
    func token() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        try cluster.startHub()
        let handle = try cluster.addNode("A", site: "WAW", series: "K1")
        let node = try cluster.serveNode("A")
        defer { node.stop() }
        #expect(try await anonymous.get("\(node.baseURL)/health").status == 200)
        let none = try await anonymous.get("\(node.baseURL)/partners")
        #expect(none.status == 401 && none.headers["www-authenticate"] == "Bearer", "\(none.status) \(none.text)")
        let wrong = try await anonymous.post("\(node.baseURL)/partners", json: ["code": "1", "kind": "business", "name": "X"])
        #expect(wrong.status == 401)
        let forged = try await anonymous.request(.GET, "\(node.baseURL)/partners", headers: [("Authorization", "Bearer posapi_0000")])
        #expect(forged.status == 401)
        let lower = try await anonymous.request(.GET, "\(node.baseURL)/partners", headers: [("Authorization", "bearer \(handle.apiToken)")])
        #expect(lower.status == 200, "\(lower.text)")
        #expect(try cluster.posnode("A", ["partner", "list"]).stdout.isEmpty, "nothing was created without the token")

        for path in [handle.db, handle.db + ".api-token"] {
            let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(path): \(String(mode ?? 0, radix: 8))")
        }
        #expect(try cluster.posnode("A", ["api-token"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines) == handle.apiToken)
    }

    @Test("a foreign Host or Origin and a text/plain body are refused before any route runs; an allowed origin gets CORS")
    func hostOriginContentType() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        try cluster.startHub()
        try cluster.addNode("A", site: "WAW", series: "K1")
        let node = try cluster.serveNode("A", extraArguments: ["--allow-origin", "http://localhost:3000"])
        defer { node.stop() }
        let api = node.api
        // DNS rebinding: the page's own name resolves to 127.0.0.1.
        let rebound = try await api.request(.GET, "\(node.baseURL)/partners", headers: [("Host", "attacker.example:\(node.port)")])
        #expect(rebound.status == 421, "\(rebound.status) \(rebound.text)")
        #expect(try await api.request(.GET, "\(node.baseURL)/partners", headers: [("Host", "localhost:\(node.port)")]).status == 200)

        let foreign = try await api.request(.POST, "\(node.baseURL)/partners", json: ["code": "1", "kind": "business", "name": "X"],
                                            headers: [("Origin", "https://shop.example")])
        #expect(foreign.status == 403, "\(foreign.text)")
        // The "simple" cross-origin request a form or fetch() may send without a preflight.
        let plain = try await api.request(.POST, "\(node.baseURL)/partners", body: Array(#"{"code":"2","kind":"business","name":"Y"}"#.utf8),
                                          headers: [("Content-Type", "text/plain")])
        #expect(plain.status == 415, "\(plain.text)")
        #expect(try cluster.posnode("A", ["partner", "list"]).stdout.isEmpty)

        let preflight = try await anonymous.request(.OPTIONS, "\(node.baseURL)/partners", headers: [("Origin", "http://localhost:3000")])
        #expect(preflight.status == 204 && preflight.headers["access-control-allow-origin"] == "http://localhost:3000")
        #expect(preflight.headers["access-control-allow-headers"]?.contains("Authorization") == true)
        let allowed = try await api.request(.POST, "\(node.baseURL)/partners", json: ["code": "3", "kind": "business", "name": "Z"],
                                            headers: [("Origin", "http://localhost:3000")])
        #expect(allowed.status == 201 && allowed.headers["access-control-allow-origin"] == "http://localhost:3000", "\(allowed.text)")
    }

    @Test("an oversized body gets 413, a huge amount and wrong types or sizes get 400 naming the field, and the node keeps running")
    func boundedInput() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        try cluster.startHub()
        try cluster.addNode("A", site: "WAW", series: "K1")
        let node = try cluster.serveNode("A")
        defer { node.stop() }
        let api = node.api
        let big = try await api.post("\(node.baseURL)/partners", json: ["code": "1", "kind": "business", "name": String(repeating: "x", count: 2 << 20)])
        #expect(big.status == 413, "\(big.status) \(big.text.prefix(200))")
        #expect(try await api.post("\(node.baseURL)/partners", json: ["code": "1001", "kind": "business", "name": "Firma"]).status == 201)

        for amount in ["999999999999999999", "92233720368547758.07", "99999999999999999999999", "-999999999999999999"] {
            let r = try await api.post("\(node.baseURL)/receipts", json: ["partner": "1001", "amount": amount])
            #expect(r.status == 400 && r.text.contains("out of range"), "\(amount): \(r.status) \(r.text)")
        }
        let largest = try await api.post("\(node.baseURL)/receipts", json: ["partner": "1001", "amount": "999999999.99"])
        #expect(largest.status == 201, "\(largest.text)")
        #expect(try await api.get("\(node.baseURL)/health").status == 200, "the node is still running")
        let cli = try cluster.posnode("A", ["receipt", "add", "--partner", "1001", "--amount", "999999999999999999"])
        #expect(!cli.succeeded && cli.stderr.contains("out of range"), "\(cli.stderr)")

        let number = try await api.post("\(node.baseURL)/partners", json: ["code": "1002", "kind": "business", "name": "B", "phone": 48600100200])
        #expect(number.status == 400 && number.text.contains("\"field\":\"phone\""), "\(number.text)")
        let patched = try await api.request(.PATCH, "\(node.baseURL)/partners/1001", json: ["phone": 48600100200])
        #expect(patched.status == 400 && patched.text.contains("\"field\":\"phone\""), "\(patched.text)")
        let long = try await api.post("\(node.baseURL)/partners", json: ["code": "1003", "kind": "consumer", "first_name": "A",
                                                                         "last_name": String(repeating: "Ł", count: 101)])
        #expect(long.status == 400 && long.text.contains("at most 100"), "\(long.text)")
        let shown = try await api.get("\(node.baseURL)/partners/1001").text
        #expect(!shown.contains("48600100200"))
        #expect(try cluster.posnode("A", ["partner", "list"]).stdout.split(separator: "\n").count == 1, "only 1001 exists")
    }
}
