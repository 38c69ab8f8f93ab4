import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import SyncModel
import SyncNode
import SyncStore
import SyncTesting

/// A code in a path is percent-decoded, as a browser or a script sends it.
@Suite("Codes in paths are percent-decoded")
struct PathDecodingTests {
    static let token = "local-api-token-for-the-path-tests"
    static let headers: HTTPFields = [.authorization: "Bearer \(token)", .contentType: "application/json"]

    @Test("/partners/ŻÓŁW1 sent percent-encoded finds the partner; %41 in a code is reached by %2541, not by the literal path")
    func decodes() async throws {
        let world = try World(nodes: [("A", "WAW", "K1")])
        let store = world.store("A")
        _ = try store.addPartner(consumer("ŻÓŁW1"))
        _ = try store.addPartner(consumer("X%41"))
        let router = NodeServer(store: store, sync: nil, access: NodeAPIAccess(token: Self.token, allowedOrigins: [])).buildRouter()
        try await Application(router: router).test(.router) { client in
            let encoded = "ŻÓŁW1".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            var r = try await client.execute(uri: "/partners/\(encoded)", method: .get, headers: Self.headers)
            #expect(r.status == .ok && String(buffer: r.body).contains("ŻÓŁW1"), "\(String(buffer: r.body))")
            r = try await client.execute(uri: "/partners/X%2541", method: .get, headers: Self.headers)
            #expect(r.status == .ok, "\(String(buffer: r.body))")
            r = try await client.execute(uri: "/partners/X%41", method: .get, headers: Self.headers)
            #expect(r.status == .notFound, "X%41 is XA")
        }
        #expect(PathSegment.decoded("ADDR%2F7") == "ADDR/7" && PathSegment.decoded("%C3%89T%C3%89") == "ÉTÉ" && PathSegment.decoded("100%") == "100%")
    }
}
