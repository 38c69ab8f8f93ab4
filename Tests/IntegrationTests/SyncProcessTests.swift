import Foundation
import Testing
import SyncModel
import SyncTesting
import SyncWire

@Suite("hub and store nodes as real processes", .serialized)
struct SyncProcessTests {
    let http = TestHTTP()

    func partner(_ code: String, first: String = "Anna", last: String = "Nowak") -> [String: Any] {
        ["code": code, "kind": "consumer", "first_name": first, "last_name": last, "country": "PL"]
    }

    @Test("a partner and a receipt created on node A appear on node B after both sync, with equal state hashes")
    func partnerAndReceiptReplicate() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        try cluster.startHub()
        try cluster.addNode("A", site: "WAW", series: "K1")
        try cluster.addNode("B", site: "KRK", series: "K2")
        let a = try cluster.serveNode("A"), b = try cluster.serveNode("B")
        defer { a.stop(); b.stop() }

        #expect(try await a.api.post("\(a.baseURL)/partners", json: partner("1001")).status == 201)
        let receipt = try await a.api.post("\(a.baseURL)/receipts", json: ["partner": "1001", "amount": "12.50", "currency": "PLN"])
        #expect(receipt.status == 201, "\(receipt.text)")
        #expect(try await a.api.request(.POST, "\(a.baseURL)/sync").status == 200)
        #expect(try await b.api.request(.POST, "\(b.baseURL)/sync").status == 200)

        let onB = try await b.api.get("\(b.baseURL)/partners/1001")
        #expect(onB.status == 200)
        let docs = try cluster.posnode("B", ["document", "list", "--json"])
        #expect(docs.stdout.contains("A-R1"))
        #expect(docs.stdout.contains("1250"))
        let hub = try cluster.hubStateHash()
        #expect(try cluster.nodeStateHash("A") == hub)
        #expect(try cluster.nodeStateHash("B") == hub)
    }

    @Test("poshub serve removes the feed rows that later edits superseded once no push comes, and counts them in /metrics")
    func sweepsWhenIdle() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        // A pass per row the log grows by: the sweep does not wait for 5,000 new rows.
        let hub = try cluster.startHub(extraArguments: ["--sweep-step", "1"])
        try cluster.addNode("A", site: "WAW", series: "K1")
        try cluster.addNode("B", site: "KRK", series: "K2")
        for code in ["2001", "2002", "2003"] {
            try #require(cluster.posnode("A", ["partner", "add", "--code", code, "--kind", "consumer", "--first-name", "Jan",
                                               "--last-name", "Kowalski", "--country", "PL", "--offline"]).succeeded)
        }
        try #require(cluster.posnode("A", ["sync"]).succeeded)
        for code in ["2001", "2003"] {
            try #require(cluster.posnode("A", ["partner", "update", "--code", code, "--phone", "+48 600 700 800"]).succeeded)
        }
        try #require(cluster.posnode("A", ["sync"]).succeeded)
        // The sweeper waits for a second without pushes, then removes the two creations' rows.
        var metrics = ""
        let deadline = Date().addingTimeInterval(15)
        while MetricsText(metrics).value("poshub_feed_rows_swept_total") != 2, Date() < deadline {
            try await Task.sleep(for: .milliseconds(200))
            metrics = try await http.get("\(hub.baseURL)/metrics").text
        }
        #expect(MetricsText(metrics).value("poshub_feed_rows_swept_total") == 2, "\(metrics)")
        // Each pushing node's clock offset, from the clock its pushes carry; and what it had
        // left to send after its last push (nothing).
        let offset = MetricsText(metrics).value("poshub_node_clock_offset_seconds", labels: ["node": "A"])
        #expect(offset.map { abs($0) < 60 } == true, "\(metrics)")
        #expect(MetricsText(metrics).value("poshub_node_pending_entries", labels: ["node": "A"]) == 0, "\(metrics)")
        // A store that starts now gets every record once, as edited.
        try #require(cluster.posnode("B", ["sync"]).succeeded)
        #expect(try cluster.nodeStateHash("B") == cluster.hubStateHash())
        let shown = try cluster.posnode("B", ["partner", "show", "--code", "2003", "--json"])
        #expect(shown.stdout.contains("+48 600 700 800"), "\(shown.stdout)")
    }

    @Test("the same batch pushed twice is applied once; a batch that skips sequences is refused with the expected next")
    func idempotentPush() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let hub = try cluster.startHub()
        let a = try cluster.addNode("A", site: "WAW", series: "K1")
        let p = Partner(code: "7", kind: .business, name: "Alpha")
        let changes = [
            Change(seq: 1, hlc: HLC(millis: 1000, counter: 0), node: "A", entity: .partner, key: "7", op: .insert, fields: p.fields),
            Change(seq: 2, hlc: HLC(millis: 1001, counter: 0), node: "A", entity: .partner, key: "7", op: .update, fields: ["phone": .text("1")]),
        ]
        let batch = try BatchCodec.encode(node: "A", changes: changes)
        let auth = [("Authorization", "Bearer \(a.token)")]
        let first = try await http.request(.POST, "\(hub.baseURL)/v1/push", body: batch, headers: auth)
        #expect(first.status == 200)
        let hashAfterFirst = try cluster.hubStateHash()
        let second = try await http.request(.POST, "\(hub.baseURL)/v1/push", body: batch, headers: auth)
        #expect(second.status == 200)
        let reply = try second.decode(PushReply.self)
        #expect(reply.results.map(\.outcome) == [.duplicate, .duplicate])
        #expect(try cluster.hubStateHash() == hashAfterFirst)
        let metrics = MetricsText(try await http.get("\(hub.baseURL)/metrics").text)
        #expect(metrics.value("poshub_entries_applied_total") == 2)
        #expect(metrics.value("poshub_entries_duplicate_total") == 2)

        let gap = try BatchCodec.encode(node: "A", changes: [Change(seq: 5, hlc: HLC(millis: 2000, counter: 0), node: "A", entity: .partner,
                                                                    key: "7", op: .update, fields: ["phone": .text("2")])])
        let refused = try await http.request(.POST, "\(hub.baseURL)/v1/push", body: gap, headers: auth)
        #expect(refused.status == 409)
        #expect(try refused.decode(HubErrorReply.self).nextExpected == 3)
    }

    @Test("a batch with one corrupted byte is refused and nothing of it is applied")
    func corruptedBatch() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let hub = try cluster.startHub()
        let a = try cluster.addNode("A", site: "WAW", series: "K1")
        let before = try cluster.hubStateHash()
        let changes = (1...50).map { i in
            Change(seq: Int64(i), hlc: HLC(millis: UInt64(1000 + i), counter: 0), node: "A", entity: .partner, key: "P\(i)", op: .insert,
                   fields: Partner(code: "P\(i)", kind: .business, name: "Firm \(i)").fields)
        }
        let good = try BatchCodec.encode(node: "A", changes: changes)
        for offset in [good.count - 5, good.count / 2, 10] {
            var bad = good
            bad[offset] ^= 0x01
            let r = try await http.request(.POST, "\(hub.baseURL)/v1/push", body: bad, headers: [("Authorization", "Bearer \(a.token)")])
            #expect(r.status == 400, "offset \(offset): \(r.text)")
            #expect(r.text.contains("refused") || r.text.contains("batch"), "\(r.text)")
        }
        #expect(try cluster.hubStateHash() == before)
        let nodes = try runCommand(BuiltProducts.path("poshub"), ["node", "list", "--db", cluster.hubDB, "--json"]).stdout
        #expect(nodes.contains("\"last_seq\" : 0"))
    }

    @Test("a decompression bomb is refused and the hub's memory stays bounded")
    func decompressionBomb() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let hub = try cluster.startHub()
        let a = try cluster.addNode("A", site: "WAW", series: "K1")
        // 512 MiB of zeros compresses to about 0.5 MiB; the header claims the hub's maximum.
        let zeros = [UInt8](repeating: 0, count: 512 << 20)
        let body = try Zlib.compress(zeros, level: 9)
        let header = BatchHeader(version: BatchFormat.version, node: "A", firstSeq: 1, lastSeq: 1, count: 1,
                                 uncompressedLength: UInt32(BatchLimits.default.maxUncompressedBytes), crc32: 0,
                                 compressedLength: UInt32(body.count))
        let bomb = try header.encoded() + body
        let r = try await http.request(.POST, "\(hub.baseURL)/v1/push", body: bomb, headers: [("Authorization", "Bearer \(a.token)")])
        #expect(r.status == 400)
        #expect(r.text.contains("limit") || r.text.contains("exceed") || r.text.contains("larger"), "\(r.text)")
        let peak = hub.peakResidentKiB()
        #expect(peak < 200 * 1024, "hub peak RSS \(peak) KiB")
        #expect(try await http.get("\(hub.baseURL)/health").status == 200)
    }

    @Test("a wrong token gets 401 and another node's token gets 403")
    func tokens() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let hub = try cluster.startHub()
        try cluster.addNode("A", site: "WAW", series: "K1")
        let b = try cluster.addNode("B", site: "KRK", series: "K2")
        let batch = try BatchCodec.encode(node: "A", changes: [
            Change(seq: 1, hlc: HLC(millis: 1, counter: 0), node: "A", entity: .partner, key: "1", op: .insert,
                   fields: Partner(code: "1", kind: .business, name: "X").fields),
        ])
        let wrong = try await http.request(.POST, "\(hub.baseURL)/v1/push", body: batch, headers: [("Authorization", "Bearer pos_nope")])
        #expect(wrong.status == 401)
        let none = try await http.request(.GET, "\(hub.baseURL)/v1/pull?cursor=0")
        #expect(none.status == 401)
        let other = try await http.request(.POST, "\(hub.baseURL)/v1/push", body: batch, headers: [("Authorization", "Bearer \(b.token)")])
        #expect(other.status == 403)
        #expect(other.text.contains("node B"))
        #expect(try cluster.hubStateHash() == cluster.hubStateHash())
        #expect(try await http.get("\(hub.baseURL)/v1/partners/1", token: b.token).status == 404)
    }

    @Test("with the hub down both nodes keep selling; after it restarts everything arrives, and a new node bootstraps to the same state")
    func offlineThenReconnectThenBootstrap() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        try cluster.startHub()
        try cluster.addNode("A", site: "WAW", series: "K1")
        try cluster.addNode("B", site: "KRK", series: "K2")
        let a = try cluster.serveNode("A", backgroundSync: true), b = try cluster.serveNode("B", backgroundSync: true)
        defer { a.stop(); b.stop() }
        cluster.stopHub()

        for i in 1...5 {
            #expect(try await a.api.post("\(a.baseURL)/partners", json: partner("A\(i)")).status == 201)
            #expect(try await a.api.post("\(a.baseURL)/receipts", json: ["partner": "A\(i)", "amount": "1.0\(i)"]).status == 201)
            #expect(try await b.api.post("\(b.baseURL)/partners", json: partner("B\(i)", first: "Jan", last: "Kowalski")).status == 201)
            #expect(try await b.api.post("\(b.baseURL)/receipts", json: ["partner": "B\(i)", "amount": "2.0\(i)"]).status == 201)
        }
        #expect(try await a.api.request(.POST, "\(a.baseURL)/sync").status == 502)

        try cluster.startHub()
        // Explicit rounds (the background loop may also run; rounds are serialized per node).
        for _ in 0..<2 {
            _ = try await a.api.request(.POST, "\(a.baseURL)/sync")
            _ = try await b.api.request(.POST, "\(b.baseURL)/sync")
        }
        let hubHash = try cluster.hubStateHash()
        #expect(try cluster.nodeStateHash("A") == hubHash)
        #expect(try cluster.nodeStateHash("B") == hubHash)
        let list = try cluster.posnode("A", ["partner", "list"]).stdout
        for i in 1...5 { #expect(list.contains("B\(i)")) }
        let statusA = try cluster.posnode("A", ["status", "--json"]).stdout
        #expect(statusA.contains("\"pending\" : 0"))

        try cluster.addNode("C", site: "GDA", series: "K3")
        let sync = try cluster.posnode("C", ["sync", "--json"])
        #expect(sync.succeeded, "\(sync.stderr)")
        #expect(sync.stdout.contains("\"bootstrapped\" : true"))
        #expect(try cluster.nodeStateHash("C") == hubHash)
    }
}
