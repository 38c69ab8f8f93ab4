import Foundation
import Testing
@testable import SyncHub

/// The count of connections that have not shown a valid token.
@Suite("Unauthenticated connections are capped per address and in all")
struct UnauthenticatedConnectionsTests {
    final class Box: @unchecked Sendable { var closed: [Int] = [] }
    final class Key {}

    @Test("an address beyond its share is refused; beyond the total the oldest is closed; an authenticated one no longer counts")
    func caps() {
        let registry = UnauthenticatedConnections(total: 4, perAddress: 2)
        let box = Box()
        let keys = (0..<10).map { _ in Key() }
        func open(_ i: Int, _ address: String, loopback: Bool = false) -> UnauthenticatedConnections.Admission {
            registry.open(ObjectIdentifier(keys[i]), address: address, loopback: loopback) { box.closed.append(i) }
        }
        #expect(open(0, "10.0.0.1") == .admitted)
        #expect(open(1, "10.0.0.1") == .admitted)
        #expect(open(2, "10.0.0.1") == .refused, "a third from one address")
        registry.authenticated(ObjectIdentifier(keys[0]))
        #expect(open(2, "10.0.0.1") == .admitted, "the authenticated one no longer counts")
        #expect(open(3, "10.0.0.2") == .admitted)
        #expect(open(4, "10.0.0.3") == .admitted)
        #expect(registry.count == 4)
        #expect(open(5, "10.0.0.4") == .admittedClosingOldest)
        #expect(box.closed == [1], "the oldest unauthenticated one is closed")
        #expect(registry.count == 4)
        registry.closed(ObjectIdentifier(keys[5]))
        #expect(registry.count == 3)
        // Loopback is not counted per address, but counts towards the total.
        #expect(open(6, "127.0.0.1", loopback: true) == .admitted)
        #expect(open(7, "127.0.0.1", loopback: true) == .admittedClosingOldest)
        #expect(open(8, "127.0.0.1", loopback: true) == .admittedClosingOldest)
        #expect(box.closed == [1, 2, 3])
    }
}
