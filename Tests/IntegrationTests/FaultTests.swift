import Foundation
import GRDB
import Testing
import SyncModel
import SyncTesting

/// Reads one integer from a store while its process may be running (WAL allows it).
func count(_ path: String, _ sql: String) throws -> Int {
    var config = Configuration()
    config.readonly = true
    let queue = try DatabaseQueue(path: path, configuration: config)
    return try queue.read { try Int.fetchOne($0, sql: sql) ?? -1 }
}

/// What a node wrote (HTTP 201) must be at the hub exactly once.
func expectNothingLostNothingTwice(_ cluster: Cluster, node: String, partners: [String], receipts: Int,
                                   sourceLocation: SourceLocation = #_sourceLocation) throws {
    let hub = cluster.hubDB
    let db = cluster.nodes[node]!.db
    for code in partners {
        #expect(try count(hub, "SELECT COUNT(*) FROM partner WHERE code = '\(code)'") == 1, "\(code) at hub", sourceLocation: sourceLocation)
    }
    #expect(try count(hub, "SELECT COUNT(*) FROM document WHERE node = '\(node)'") == receipts, sourceLocation: sourceLocation)
    let lastSeq = try count(db, "SELECT MAX(seq) FROM journal")
    #expect(try count(hub, "SELECT last_seq FROM hub_node WHERE node_id = '\(node)'") == lastSeq, sourceLocation: sourceLocation)
    #expect(try count(hub, "SELECT COUNT(*) FROM hub_outcome WHERE node = '\(node)' AND outcome != 'renamed'") == 0, "no entry rejected", sourceLocation: sourceLocation)
    #expect(try count(db, "SELECT COUNT(*) FROM journal WHERE acked = 0 AND seq > (SELECT acked_through FROM node_config)") == 0, sourceLocation: sourceLocation)
    #expect(try cluster.nodeStateHash(node) == cluster.hubStateHash(), sourceLocation: sourceLocation)
}

@Suite("multi-site harness: crashes and network faults with real processes", .serialized)
struct FaultTests {
    let http = TestHTTP()

    /// Writes `n` partners with a receipt each through the node's local API.
    func write(_ server: ServerProcess, prefix: String, n: Int) async throws -> [String] {
        var codes: [String] = []
        for i in 0..<n {
            let code = "\(prefix)-\(i)"
            let p = try await server.api.post("\(server.baseURL)/partners", json: ["code": code, "kind": "business", "name": "Firma \(code)"])
            #expect(p.status == 201, "\(p.text)")
            let r = try await server.api.post("\(server.baseURL)/receipts", json: ["partner": code, "amount": "1.00"])
            #expect(r.status == 201, "\(r.text)")
            codes.append(code)
        }
        return codes
    }

    @Test("kill -9 of a node mid-push and of the hub mid-apply, 20 rounds: nothing lost, nothing applied twice")
    func crashRounds() async throws {
        let rounds = Int(ProcessInfo.processInfo.environment["POSNODE_CRASH_ROUNDS"] ?? "20") ?? 20
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        try cluster.startHub()
        try cluster.addNode("A", site: "WAW", series: "K1")
        var node = try cluster.serveNode("A")
        defer { node.stop() }
        var all: [String] = []
        var rng = SystemRandomNumberGenerator()
        for round in 0..<rounds {
            all += try await write(node, prefix: "R\(round)", n: 40)
            let killHub = round % 2 == 1
            let delay = UInt64.random(in: 0...60, using: &rng)
            let url = "\(node.baseURL)/sync"
            let api = node.api
            let syncing = Task { try? await api.request(.POST, url, timeout: .seconds(20)) }
            try await Task.sleep(nanoseconds: delay * 1_000_000)
            if killHub {
                cluster.killHub()
                _ = await syncing.value
                try cluster.startHub()
            } else {
                node.kill()
                _ = await syncing.value
                node = try cluster.serveNode("A")
            }
            let again = try await node.api.request(.POST, "\(node.baseURL)/sync")
            #expect(again.status == 200, "round \(round): \(again.text)")
        }
        try expectNothingLostNothingTwice(cluster, node: "A", partners: all, receipts: all.count)
    }

    @Test("a relay that cuts the request, cuts the reply, delays, or flips a byte: the node retries, nothing lost or applied twice, the flip is refused by the CRC")
    func networkFaults() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let hub = try cluster.startHub()
        let relay = try FaultyRelay(upstreamPort: hub.port)
        defer { relay.stop() }
        try cluster.addNode("A", site: "WAW", series: "K1", hubURL: "http://127.0.0.1:\(relay.port)")
        let node = try cluster.serveNode("A")
        defer { node.stop() }
        var all: [String] = []

        let faults: [(FaultyRelay.Fault, String)] = [
            (.cutRequestAfter(450), "request cut"),  // within the body (the head is about 350 bytes)
            (.cutResponseAfter(40), "reply lost after the hub applied"),
            (.flipBodyByte(offset: 150), "one byte flipped"),
            (.delay(milliseconds: 150), "slow line"),
        ]
        for (i, (fault, name)) in faults.enumerated() {
            all += try await write(node, prefix: "F\(i)", n: 30)
            // The push (a round first asks the hub's epoch, docs/sync-protocol.md).
            relay.setFault(fault, requests: 1, matching: "POST /v1/push")
            let first = try await node.api.request(.POST, "\(node.baseURL)/sync")
            if case .delay = fault { #expect(first.status == 200, "\(name)") } else { #expect(first.status == 502, "\(name): \(first.text)") }
            if case .flipBodyByte = fault { #expect(first.text.contains("CRC") || first.text.contains("refused"), "\(first.text)") }
            let retry = try await node.api.request(.POST, "\(node.baseURL)/sync")
            #expect(retry.status == 200, "\(name) retry: \(retry.text)")
        }
        let text = try await http.get("\(hub.baseURL)/metrics").text
        let metrics = MetricsText(text)
        #expect(metrics.value("poshub_entries_duplicate_total") == 60, "the lost reply's 60 entries were resent and recognised")
        #expect(metrics.value("poshub_push_refused_total") == 2, "the cut request and the flipped byte: \(text)")
        // The hub's time: pushes were decoded and applied, so both histograms have samples and time.
        for histogram in ["poshub_push_decode_seconds", "poshub_push_apply_seconds"] {
            #expect((metrics.value(histogram + "_count") ?? 0) > 0 && (metrics.value(histogram + "_sum") ?? 0) > 0, "\(histogram) in \(text)")
        }
        try expectNothingLostNothingTwice(cluster, node: "A", partners: all, receipts: all.count)
    }
}
