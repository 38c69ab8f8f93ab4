import Foundation
import NIOCore
import Testing
@testable import SyncHub
import SyncModel
import SyncTesting

@Suite("/metrics: this machine's scraper, or a token")
struct MetricsAccessTests {
    @Test("a caller from another machine needs a node's or an operator's token; a system's token is refused; loopback needs none")
    func access() throws {
        #expect(HubServer.isLocal(try SocketAddress(ipAddress: "127.0.0.1", port: 9)))
        #expect(HubServer.isLocal(try SocketAddress(ipAddress: "::1", port: 9)))
        #expect(!HubServer.isLocal(try SocketAddress(ipAddress: "10.0.0.5", port: 9)))
        #expect(HubServer.isLocal(nil))
        #expect(HubServer.metricsRefusal(nil)?.status == .unauthorized)
        #expect(HubServer.metricsRefusal(.system("booking"))?.status == .forbidden)
        #expect(HubServer.metricsRefusal(.operator("it")) == nil)
        let world = try World(nodes: [("A", "WAW", "K1")])
        #expect(HubServer.metricsRefusal(.node(try world.hub.node("A"))) == nil)
    }
}
