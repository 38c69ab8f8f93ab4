import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import SyncHub
import SyncModel
import SyncStore
import SyncTesting
import SyncWire

/// The hub's routes in process (no socket): status codes, the token, size limits, bad bodies.
@Suite("The hub's routes: status codes, auth and limits")
struct HubRouterTests {
    /// A hub with nodes A (WAW) and B (KRK), its server with small batch limits, and their tokens.
    struct Fixture {
        let dir: TemporaryDirectory
        let store: HubStore
        let server: HubServer
        let tokenA: String, tokenB: String

        init() throws {
            dir = try TemporaryDirectory(prefix: "hub-router")
            store = try HubStore(path: dir.file("hub.sqlite"))
            tokenA = try store.addNode(node: "A", site: "WAW", series: "K1")
            tokenB = try store.addNode(node: "B", site: "KRK", series: "K2")
            server = HubServer(store: store, limits: BatchLimits(maxCompressedBytes: 4096, maxEntries: 10))
        }

        func test(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
            defer { dir.remove() }
            try await Application(router: server.buildRouter()).test(.router, body)
        }

        static func bearer(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)"] }
    }

    static func partner(_ seq: Int64, _ code: String, node: String = "A") -> Change {
        Change(seq: seq, hlc: HLC(rawValue: UInt64(seq) << 16), node: node, entity: .partner, key: code, op: .insert,
               fields: ["code": .text(code), "kind": .text("consumer"), "first_name": .text("Anna"), "last_name": .text("Nowak")])
    }

    @Test("every /v1 route needs a node's token: none or a wrong one is 401; health and metrics need none")
    func auth() async throws {
        let f = try Fixture()
        try await f.test { client in
            try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/metrics", method: .get) { #expect($0.status == .ok) }
            for (uri, method) in [("/v1/pull", HTTPRequest.Method.get), ("/v1/snapshot", .get), ("/v1/push", .post), ("/v1/audit", .get),
                                  ("/v1/state-hash", .get), ("/v1/partners/1001", .get), ("/v1/partner-check?code=1", .get), ("/v1/moves", .post)] {
                try await client.execute(uri: uri, method: method) { #expect($0.status == .unauthorized, "\(uri) without a token") }
                try await client.execute(uri: uri, method: method, headers: Fixture.bearer("pos_wrong")) {
                    #expect($0.status == .unauthorized, "\(uri) with a wrong token")
                }
            }
            try await client.execute(uri: "/v1/state-hash", method: .get, headers: Fixture.bearer(f.tokenA)) { response in
                #expect(response.status == .ok)
                let reply = try JSONDecoder().decode(StateHashReply.self, from: Data(response.body.readableBytesView))
                let hash = try f.store.stateHash()
                #expect(reply.stateHash == hash)
            }
            try f.store.revokeToken(node: "A")
            try await client.execute(uri: "/v1/pull", method: .get, headers: Fixture.bearer(f.tokenA)) { #expect($0.status == .unauthorized) }
        }
    }

    @Test("a push: applied with the node's token, 403 for another node's batch, 413 over the size limit, 400 when corrupted or too many entries")
    func push() async throws {
        let f = try Fixture()
        try await f.test { client in
            let batch = try BatchCodec.encode(node: "A", changes: [Self.partner(1, "1001")])
            try await client.execute(uri: "/v1/push", method: .post, headers: Fixture.bearer(f.tokenA), body: ByteBuffer(bytes: batch)) {
                #expect($0.status == .ok)
            }
            let stored = try f.store.partnerExists(code: "1001")
            #expect(stored)
            // B's token with A's batch.
            let next = try BatchCodec.encode(node: "A", changes: [Self.partner(2, "1002")])
            try await client.execute(uri: "/v1/push", method: .post, headers: Fixture.bearer(f.tokenB), body: ByteBuffer(bytes: next)) {
                #expect($0.status == .forbidden)
            }
            // Beyond the compressed limit (4096 bytes) and the room for a header.
            let big = ByteBuffer(bytes: [UInt8](repeating: 7, count: 20_000))
            try await client.execute(uri: "/v1/push", method: .post, headers: Fixture.bearer(f.tokenA), body: big) {
                #expect($0.status == .contentTooLarge)
            }
            // One flipped byte: the CRC refuses it.
            var flipped = next
            flipped[flipped.count - 3] ^= 0x40
            try await client.execute(uri: "/v1/push", method: .post, headers: Fixture.bearer(f.tokenA), body: ByteBuffer(bytes: flipped)) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("nothing applied"))
            }
            let many = try BatchCodec.encode(node: "A", changes: (2...12).map { Self.partner(Int64($0), "20\($0)") })
            try await client.execute(uri: "/v1/push", method: .post, headers: Fixture.bearer(f.tokenA), body: ByteBuffer(bytes: many)) {
                #expect($0.status == .badRequest)
            }
            let refused = try f.store.partnerExists(code: "1002") || f.store.partnerExists(code: "202")
            #expect(!refused)
            // Every push counts, the refused ones (token included) as refused.
            try await client.execute(uri: "/v1/push", method: .post, headers: Fixture.bearer("pos_wrong"), body: ByteBuffer(bytes: next)) {
                #expect($0.status == .unauthorized)
            }
            let metrics = MetricsText(f.server.metrics.text())
            #expect(metrics.value("poshub_push_requests_total") == 6)
            #expect(metrics.value("poshub_push_refused_total") == 5)
        }
    }

    @Test("queries: a partner the hub has or not, an unknown audit kind, a move that is not a move")
    func queries() async throws {
        let f = try Fixture()
        _ = try f.store.push(node: try f.store.node("A"), changes: [Self.partner(1, "1001")], renamesApplied: 0)
        try await f.test { client in
            let a = Fixture.bearer(f.tokenA)
            try await client.execute(uri: "/v1/partners/1001", method: .get, headers: a) { response in
                #expect(response.status == .ok)
                let reply = try JSONDecoder().decode(PartnerCodeReply.self, from: Data(response.body.readableBytesView))
                #expect(reply == PartnerCodeReply(code: "1001"))
            }
            try await client.execute(uri: "/v1/partners/9999", method: .get, headers: a) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/v1/audit?kind=bogus", method: .get, headers: a) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("duplicate-vat"))
            }
            try await client.execute(uri: "/v1/audit?kind=rename", method: .get, headers: a) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v1/partner-check", method: .get, headers: a) { #expect($0.status == .badRequest) }
            try await client.execute(uri: "/v1/moves", method: .post, headers: a, body: ByteBuffer(string: "{\"x\": 1}")) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("not a move request"))
            }
        }
    }
}
