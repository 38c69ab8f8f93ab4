import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import SyncModel
import SyncNode
import SyncStore
import SyncTesting

/// The node's local API in process (no socket): the token, host and origin rules, body type
/// and size, and the status of each kind of refusal.
@Suite("The node's routes: status codes, token and limits")
struct NodeRouterTests {
    static let token = "local-api-token-for-the-router-test"

    static func withRouter(_ body: @Sendable (any TestClientProtocol, NodeStore) async throws -> Void) async throws {
        let dir = try TemporaryDirectory(prefix: "node-router")
        defer { dir.remove() }
        let store = try NodeStore.create(path: dir.file("n.sqlite"), node: "A", site: "WAW", series: "K1")
        let router = NodeServer(store: store, sync: nil, access: NodeAPIAccess(token: token, allowedOrigins: ["http://till.local"])).buildRouter()
        try await Application(router: router).test(.router) { client in try await body(client, store) }
    }

    static let json: HTTPFields = [.authorization: "Bearer \(token)", .contentType: "application/json"]

    static func object(_ response: TestResponse) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any] ?? [:]
    }

    @Test("the token is needed everywhere but /health; a foreign origin is 403, an allowed one gets CORS headers")
    func access() async throws {
        try await Self.withRouter { client, _ in
            try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/status", method: .get) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/status", method: .get, headers: [.authorization: "Bearer nope"]) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/status", method: .get, headers: [.authorization: "Bearer \(Self.token)"]) { #expect($0.status == .ok) }
            try await client.execute(uri: "/status", method: .get, headers: [.authorization: "Bearer \(Self.token)", .origin: "http://evil.example"]) {
                #expect($0.status == .forbidden)
            }
            try await client.execute(uri: "/status", method: .get, headers: [.authorization: "Bearer \(Self.token)", .origin: "http://till.local"]) {
                #expect($0.status == .ok)
                #expect($0.headers[.accessControlAllowOrigin] == "http://till.local")
            }
        }
    }

    @Test("an invoice with invoicing fields: posted, read back, its status changed and its salesperson cleared; a receipt with a status is refused")
    func invoicing() async throws {
        try await Self.withRouter { client, store in
            let firma = #"{"code": "1001", "kind": "business", "name": "Firma", "country": "PL"}"#
            try await client.execute(uri: "/partners", method: .post, headers: Self.json, body: ByteBuffer(string: firma)) { #expect($0.status == .created) }
            let invoice = #"{"kind": "invoice", "partner": "1001", "amount": "120.00", "invoice_status": "open", "payment_method": "BANK", "payment_terms": "14D", "installments": 2, "salesperson": "AH"}"#
            var id = ""
            try await client.execute(uri: "/documents", method: .post, headers: Self.json, body: ByteBuffer(string: invoice)) { response in
                #expect(response.status == .created)
                let doc = try Self.object(response)
                id = doc["id"] as? String ?? ""
                #expect(doc["invoice_status"] as? String == "open" && doc["installments"] as? Int == 2)
            }
            let change = #"{"invoice_status": "dunning-1", "salesperson": null}"#
            try await client.execute(uri: "/documents/\(id)", method: .patch, headers: Self.json, body: ByteBuffer(string: change)) { response in
                #expect(response.status == .ok)
                let doc = try Self.object(response)
                #expect(doc["invoice_status"] as? String == "dunning-1" && doc["salesperson"] == nil && doc["payment_terms"] as? String == "14D")
            }
            try await client.execute(uri: "/documents/\(id)", method: .get, headers: Self.json) { response in
                #expect(response.status == .ok)
                let status = try Self.object(response)["invoice_status"] as? String
                #expect(status == "dunning-1")
            }
            let amount = #"{"amount_minor": 1}"#
            try await client.execute(uri: "/documents/\(id)", method: .patch, headers: Self.json, body: ByteBuffer(string: amount)) { response in
                #expect(response.status == .badRequest)
                let field = try Self.object(response)["field"] as? String
                #expect(field == "amount_minor")
            }
            let receipt = #"{"partner": "1001", "amount": "1.00", "invoice_status": "open"}"#
            try await client.execute(uri: "/receipts", method: .post, headers: Self.json, body: ByteBuffer(string: receipt)) { response in
                #expect(response.status == .badRequest)
                let field = try Self.object(response)["field"] as? String
                #expect(field == "invoice_status")
            }
            try await client.execute(uri: "/documents/NOPE-F9", method: .get, headers: Self.json) { #expect($0.status == .notFound) }
            #expect(try store.documents().count == 1)
        }
    }

    @Test("a partner: 201, then 409 for its code again; every problem at once is 400; lowest_price, a text body or 2 MiB are refused")
    func partners() async throws {
        try await Self.withRouter { client, store in
            let anna = #"{"code": "1001", "kind": "consumer", "first_name": "Anna", "last_name": "Nowak", "country": "PL"}"#
            try await client.execute(uri: "/partners", method: .post, headers: Self.json, body: ByteBuffer(string: anna)) { #expect($0.status == .created) }
            try await client.execute(uri: "/partners", method: .post, headers: Self.json, body: ByteBuffer(string: anna)) { response in
                #expect(response.status == .conflict)
                let code = try Self.object(response)["code"] as? String
                #expect(code == "conflict")
            }
            let long = #"{"code": "1009", "kind": "consumer", "first_name": "Anna", "last_name": "Z"# + String(repeating: "\u{301}", count: 300) + #""}"#
            try await client.execute(uri: "/partners", method: .post, headers: Self.json, body: ByteBuffer(string: long)) { response in
                #expect(response.status == .badRequest)
                let code = try Self.object(response)["code"] as? String
                #expect(code == "field-too-long")
            }
            let nameless = #"{"code": "1002", "kind": "consumer"}"#
            try await client.execute(uri: "/partners", method: .post, headers: Self.json, body: ByteBuffer(string: nameless)) { response in
                #expect(response.status == .badRequest)
                let problems = try Self.object(response)["problems"] as? [[String: Any]] ?? []
                #expect(Set(problems.compactMap { $0["field"] as? String }) == ["first_name", "last_name"])
            }
            let pricing = #"{"code": "1003", "kind": "consumer", "first_name": "A", "last_name": "B", "lowest_price": true}"#
            try await client.execute(uri: "/partners", method: .post, headers: Self.json, body: ByteBuffer(string: pricing)) { response in
                #expect(response.status == .badRequest)
                let field = try Self.object(response)["field"] as? String
                #expect(field == "lowest_price")
            }
            try await client.execute(uri: "/partners", method: .post, headers: [.authorization: "Bearer \(Self.token)", .contentType: "text/plain"],
                                     body: ByteBuffer(string: anna)) { #expect($0.status == .unsupportedMediaType) }
            let huge = ByteBuffer(string: "{\"code\": \"" + String(repeating: "x", count: 2 << 20) + "\"}")
            try await client.execute(uri: "/partners", method: .post, headers: Self.json, body: huge) { #expect($0.status == .contentTooLarge) }
            try await client.execute(uri: "/partners/9999", method: .get, headers: Self.json) { response in
                #expect(response.status == .notFound)
                let code = try Self.object(response)["code"] as? String
                #expect(code == "not-found")
            }
            try await client.execute(uri: "/partners/1001", method: .get, headers: Self.json) { #expect($0.status == .ok) }
            let partners = try store.partners().map(\.code)
            #expect(partners == ["1001"])
        }
    }
}
