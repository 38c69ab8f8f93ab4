import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SyncHub
import SyncModel
import SyncStore
import SyncTesting
import SyncWire

/// Every refusal carries a stable machine code beside its sentence.
@Suite("Refusals have machine codes: push verdicts and error replies")
struct RefusalCodeTests {
    static func partner(_ seq: Int64, _ code: String, node: String = "A", last: String = "Nowak") -> Change {
        Change(seq: seq, hlc: HLC(rawValue: UInt64(seq) << 16), node: node, entity: .partner, key: code, op: .insert,
               fields: ["code": .text(code), "kind": .text("consumer"), "first_name": .text("Anna"), "last_name": .text(last)])
    }

    @Test("verdicts: too long, unknown partner, unknown record, another node's document, central data; a duplicate repeats the code")
    func verdictCodes() throws {
        let world = try World()
        let tooLong = String(repeating: "Z", count: 201)
        var edit = Change(seq: 3, hlc: HLC(rawValue: 3 << 16), node: "A", entity: .partner, key: "NOPE", op: .update, fields: ["phone": .text("+48 1")])
        let doc = Document(id: "K1-A-R1", kind: .receipt, partnerCode: "GHOST", site: "WAW", amountMinor: 100, currency: "PLN", issuedAt: "2026-12-07T10:00:00Z", node: "A")
        let docChange = Change(seq: 4, hlc: HLC(rawValue: 4 << 16), node: "A", entity: .document, key: doc.id, op: .insert, fields: doc.fields)
        let category = Change(seq: 5, hlc: HLC(rawValue: 5 << 16), node: "A", entity: .customerCategory, key: "VIP", op: .insert,
                              fields: ["code": .text("VIP"), "name": .text("VIP")])
        let changes = [Self.partner(1, "P1"), Self.partner(2, "P2", last: tooLong), edit, docChange, category]
        let reply = try world.push("A", changes)
        let codes = reply.results.map { $0.code ?? "-" }
        #expect(codes == ["-", "field-too-long", "unknown-record", "unknown-partner", "central-data"], "\(reply.results)")
        #expect(reply.results[1].reason?.contains("last name") == true)
        // Sent again (a lost reply): the same verdicts, the same codes.
        let again = try world.push("A", changes)
        #expect(again.results.allSatisfy { $0.outcome == EntryOutcome.duplicate })
        #expect(again.results.map { $0.code ?? "-" } == codes)
        // Another node's document.
        edit = Change(seq: 1, hlc: HLC(rawValue: 6 << 16), node: "B", entity: .document, key: "K1-A-R9", op: .insert,
                      fields: Document(id: "K1-A-R9", kind: .receipt, partnerCode: "P1", site: "WAW", amountMinor: 100, currency: "PLN", issuedAt: "2026-12-07T10:00:00Z", node: "A").fields)
        #expect(try world.push("B", [edit]).results.first?.code == "not-owner")
    }

    static func reply(_ body: ByteBuffer) throws -> HubErrorReply { try JSONDecoder().decode(HubErrorReply.self, from: Data(body.readableBytesView)) }

    @Test("error replies: every status has its code; a gap names the next sequence, a corrupt batch says so, a wrong token is unauthorized")
    func errorCodes() async throws {
        let dir = try TemporaryDirectory(prefix: "refusal-codes")
        defer { dir.remove() }
        let store = try HubStore(path: dir.file("hub.sqlite"))
        let token = try store.addNode(node: "A", site: "WAW", series: "K1")
        let server = HubServer(store: store, limits: BatchLimits(maxCompressedBytes: 4096, maxEntries: 10))
        let bearer: HTTPFields = [.authorization: "Bearer \(token)"]
        try await Application(router: server.buildRouter()).test(.router) { client in
            try await client.execute(uri: "/v1/pull", method: .get, headers: [.authorization: "Bearer pos_wrong"]) { r in
                let code = try Self.reply(r.body).code
                #expect(r.status == .unauthorized && code == "unauthorized")
            }
            let gap = try BatchCodec.encode(node: "A", changes: [Self.partner(5, "P5")])
            try await client.execute(uri: "/v1/push", method: .post, headers: bearer, body: ByteBuffer(bytes: gap)) { r in
                let e = try Self.reply(r.body)
                #expect(r.status == .conflict && e.code == "sequence-gap" && e.nextExpected == 1, "\(e)")
            }
            var corrupt = try BatchCodec.encode(node: "A", changes: [Self.partner(1, "P1")])
            corrupt[corrupt.count - 1] ^= 0xff
            try await client.execute(uri: "/v1/push", method: .post, headers: bearer, body: ByteBuffer(bytes: corrupt)) { r in
                let code = try Self.reply(r.body).code
                #expect(r.status == .badRequest && code == "batch-corrupt")
            }
            let many = try BatchCodec.encode(node: "A", changes: (1...11).map { Self.partner(Int64($0), "P\($0)") })
            try await client.execute(uri: "/v1/push", method: .post, headers: bearer, body: ByteBuffer(bytes: many)) { r in
                let e = try Self.reply(r.body)
                #expect(r.status == .badRequest && e.code == "too-large" && e.maxEntries == 10, "\(e)")
            }
            let other = try BatchCodec.encode(node: "B", changes: [Self.partner(1, "P1", node: "B")])
            try await client.execute(uri: "/v1/push", method: .post, headers: bearer, body: ByteBuffer(bytes: other)) { r in
                let code = try Self.reply(r.body).code
                #expect(r.status == .forbidden && code == "node-mismatch")
            }
            try await client.execute(uri: "/v1/epoch?cursor=-1", method: .get, headers: bearer) { r in
                let code = try Self.reply(r.body).code
                #expect(r.status == .badRequest && code == "invalid-request")
            }
        }
    }

    @Test("the codes are the ones the OpenAPI document and the protocol's description list")
    func documented() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let openAPI = try String(contentsOf: root.appendingPathComponent("docs/openapi/hub.yaml"), encoding: .utf8)
        let protocolText = try String(contentsOf: root.appendingPathComponent("docs/sync-protocol.md"), encoding: .utf8)
        let listed = "[" + RefusalCode.allCases.map(\.rawValue).joined(separator: ", ") + "]"
        #expect(openAPI.contains("enum: \(listed)"))
        for code in RefusalCode.allCases { #expect(protocolText.contains("- `\(code.rawValue)` — "), "\(code.rawValue)") }
    }
}
