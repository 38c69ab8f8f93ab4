import Foundation
import Testing
import SyncModel
import SyncTesting

@Suite("offline clash across real processes", .serialized)
struct OfflineClashTests {
    let http = TestHTTP()

    @Test("three stores create the same code while the hub is down; after reconnect one keeps it, the others carry their series, receipts follow",
          arguments: HubStoreKind.available)
    func threeStoresClash(store: HubStoreKind) async throws {
        let cluster = try Cluster(store: store)
        defer { cluster.shutdown() }
        try cluster.startHub()
        let ids = ["S1", "S2", "S3"]
        for (i, id) in ids.enumerated() { try cluster.addNode(id, site: "SITE\(i + 1)", series: "K\(i + 1)") }
        let servers = try ids.map { try cluster.serveNode($0) }
        defer { servers.forEach { $0.stop() } }
        cluster.stopHub()

        for (i, s) in servers.enumerated() {
            let p = try await s.api.post("\(s.baseURL)/partners", json: ["code": "1001", "kind": "consumer", "first_name": "Store\(i + 1)", "last_name": "Klient"])
            #expect(p.status == 201, "\(p.text)")
            let r = try await s.api.post("\(s.baseURL)/receipts", json: ["partner": "1001", "amount": "\(i + 1).00"])
            #expect(r.status == 201, "\(r.text)")
            let u = try await s.api.request(.PATCH, "\(s.baseURL)/partners/1001", json: ["phone": "60000000\(i + 1)"])
            #expect(u.status == 200, "\(u.text)")
        }

        try cluster.startHub()
        for _ in 0..<2 {
            for s in servers { #expect(try await s.api.request(.POST, "\(s.baseURL)/sync").status == 200) }
        }
        let hubHash = try cluster.hubStateHash()
        for id in ids { #expect(try cluster.nodeStateHash(id) == hubHash, "\(id)") }

        let partners = try cluster.posnode("S1", ["partner", "list", "--json"]).stdout
        let list = try JSONDecoder().decode([Partner].self, from: Data(partners.utf8))
        #expect(list.map(\.code) == ["1001", "K2-1001", "K3-1001"])
        #expect(list.map(\.firstName) == ["Store1", "Store2", "Store3"])
        #expect(list.map(\.phone) == ["600000001", "600000002", "600000003"])
        let docs = try JSONDecoder().decode([Document].self, from: Data(try cluster.posnode("S3", ["document", "list", "--json"]).stdout.utf8))
        #expect(Set(docs.map { "\($0.id)->\($0.partnerCode)" }) == ["S1-R1->1001", "S2-R1->K2-1001", "S3-R1->K3-1001"])
        let audit = try cluster.posnode("S2", ["status", "--json"]).stdout
        #expect(audit.contains("K2-1001"))
    }
}
