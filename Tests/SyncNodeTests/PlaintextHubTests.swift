import Foundation
import Testing
import SyncModel
import SyncNode
import SyncStore
import SyncTesting

@Suite("A plain http:// hub on another machine is refused unless allowed")
struct PlaintextHubTests {
    func config(_ url: String, allowed: Bool = false) throws -> NodeConfig {
        let dir = try TemporaryDirectory(prefix: "plaintext")
        defer { dir.remove() }
        let store = try NodeStore.create(path: dir.file("s.sqlite"), node: "A", site: "WAW", series: "K1", hubURL: url, token: "t")
        if allowed { try store.setHub(url: url, token: "t", caFile: nil, insecurePlaintext: true) }
        return try store.config()
    }

    @Test("the sync client refuses http:// to another host, takes it on loopback, over https, or when allowed")
    func rule() throws {
        #expect(throws: HubClientError.self) { try HubClient(config: try config("http://10.1.2.3:8080")) }
        #expect(throws: HubClientError.self) { try HubClient(config: try config("http://hub.example.com")) }
        _ = try HubClient(config: try config("http://127.0.0.1:8080"))
        _ = try HubClient(config: try config("http://[::1]:8080"))
        _ = try HubClient(config: try config("https://hub.example.com"))
        _ = try HubClient(config: try config("http://10.1.2.3:8080", allowed: true))
        #expect(HubURLRule.isPlaintextElsewhere("http://localhost:1") == false)
    }
}
