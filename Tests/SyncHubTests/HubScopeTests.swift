import Foundation
import GRDB
import Testing
@testable import SyncHub
import SyncModel
import SyncReconcile
import SyncStore
import SyncTesting

@Suite("The hub answers within the caller's scope; tokens can be revoked and replaced; health tells a store that cannot write")
struct HubScopeTests {
    @Test("a node reads the audit records of its own region only; the operator reads all")
    func auditByRegion() async throws {
        let world = try World(regions: ["A": "NORTH", "B": "SOUTH", "C": "NORTH"])
        // NORTH: A and C both register 3001 offline, so C's becomes K3-3001 (a rename record).
        _ = try world.store("A").addPartner(consumer("3001"))
        _ = try world.store("C").addPartner(consumer("3001", first: "Ewa"))
        // SOUTH: B registers two customers with one NIP (a duplicate-vat record at the hub).
        let nip = "5260250274"
        _ = try world.store("B").addPartner(Partner(code: "2001", kind: .business, name: "Hurt", vatID: nip, country: "PL"))
        _ = try world.store("B").addPartner(Partner(code: "2002", kind: .business, name: "Hurt 2", vatID: nip, country: "PL"),
                                            allowDuplicateVat: true)
        try await world.syncAll()
        let all = try world.hub.audit()
        #expect(all.contains { $0.kind == "rename" } && all.contains { $0.kind == "duplicate-vat" }, "\(all.map(\.kind))")
        let north = try world.hub.audit(region: "NORTH"), south = try world.hub.audit(region: "SOUTH")
        #expect(north.contains { $0.kind == "rename" && $0.key == "K3-3001" })
        #expect(!north.contains { $0.key.hasPrefix("200") }, "\(north.map(\.key))")
        #expect(south.contains { $0.kind == "duplicate-vat" })
        #expect(!south.contains { $0.key.contains("3001") }, "\(south.map(\.key))")
        #expect(try world.hub.audit(kind: .rename, region: "SOUTH").isEmpty)
    }

    @Test("a revoked token stops working at once; a new one works and the old one does not")
    func revokeAndRotate() throws {
        let world = try World()
        let token = try world.hub.addNode(node: "D", site: "POZ", series: "K4")
        #expect(try world.hub.authenticate(token: token)?.node == "D")
        try world.hub.revokeToken(node: "D")
        #expect(try world.hub.authenticate(token: token) == nil)
        #expect(try world.hub.node("D").revoked)
        let fresh = try world.hub.rotateToken(node: "D")
        #expect(try world.hub.authenticate(token: fresh)?.node == "D" && world.hub.authenticate(token: token) == nil)
        #expect(try !world.hub.node("D").revoked)
        #expect(try world.hub.audit(kind: .token).map(\.reason) == ["token revoked", "token replaced"])
        #expect(throws: HubError.self) { try world.hub.revokeToken(node: "NOPE") }
    }

    @Test("Bearer is read case-insensitively; other schemes and empty tokens are no token")
    func bearerScheme() {
        #expect(BearerToken.parse("Bearer abc") == "abc")
        #expect(BearerToken.parse("bearer abc") == "abc")
        #expect(BearerToken.parse("BEARER  abc ") == "abc")
        #expect(BearerToken.parse("Basic abc") == nil)
        #expect(BearerToken.parse("Bearer ") == nil)
        #expect(BearerToken.parse(nil) == nil)
    }

    @Test("health reports a store that cannot be written, with the reason and no SQL")
    func healthOfReadOnlyStore() async throws {
        let world = try World()
        #expect(await HealthProbe(store: world.hub, interval: .zero).problem() == nil)
        try await world.hub.pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA query_only = 1") }
        let problem = await HealthProbe(store: world.hub, interval: .zero).problem()
        #expect(problem?.contains("cannot be written") == true && problem?.contains("INSERT") == false, "\(problem ?? "nil")")
        #expect(throws: (any Error).self) { try world.push("A", [change("A", 1, hlc: 1 << 16, .partner, "1", .insert, consumer("1").fields)]) }
    }
}
