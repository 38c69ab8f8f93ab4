import Foundation
import GRDB
import Testing
import SyncHub
import SyncModel
import SyncNode
import SyncTesting
import SyncStore

/// A store keeps the catalog rows its sales are priced from (`PriceLineCache`); a price the
/// hub changes reaches the next sale whichever connection applied it.
@Suite("Kept price rows")
struct PriceLineCacheTests {
    /// A hub with schools paying 12.50 for a 20.00 ticket, store A synced, and a school customer.
    func world() async throws -> World {
        let world = try World(nodes: [("A", "WAW", "K1")])
        try publishCatalog(world.hub)
        try await world.sync("A")
        try world.store("A").addPartner(Partner(code: "P1", kind: .consumer, firstName: "Anna", lastName: "Nowak", category: "SCH"))
        return world
    }

    func sell(_ store: NodeStore) throws -> Document {
        try store.addDocument(kind: .order, partnerCode: "P1", addressSeq: nil, lines: [("ADULT", 2)])
    }

    @Test("a price the hub changed reaches the next sale once the store applied the feed")
    func feedAppliedByTheSameStore() async throws {
        let world = try await world()
        let a = world.store("A")
        let first = try sell(a)
        #expect(first.lines.first?.unitPrice == 1250 && first.amountMinor == 2500)
        try world.hub.setPrice(customerCategory: "SCH", offerCategory: "TIX", amountMinor: 1100, currency: "PLN")
        #expect(try sell(a).amountMinor == 2500, "offline: the store's replica still says 12.50")
        try await world.sync("A")
        let after = try sell(a)
        #expect(after.lines.first?.unitPrice == 1100 && after.amountMinor == 2200)
        #expect(after.priceVersion == first.priceVersion.map { $0 + 1 }, "the document records the table's new version")
    }

    @Test("a price another connection applied (a sync in another process) reaches the next sale")
    func feedAppliedByAnotherConnection() async throws {
        let world = try await world()
        let a = world.store("A")
        #expect(try sell(a).amountMinor == 2500)
        try world.hub.setPrice(customerCategory: "SCH", offerCategory: "TIX", amountMinor: 900, currency: "PLN")
        // `posnode sync` beside `posnode serve`: its own pool on the same file.
        let other = try NodeStore.open(path: a.path)
        _ = try await SyncRound(store: other, transport: InProcessHubTransport(hub: world.hub, node: try world.hub.node("A"))).run()
        let after = try sell(a)
        #expect(after.lines.first?.unitPrice == 900 && after.amountMinor == 1800)
        #expect(after.priceVersion == (try world.hub.priceTableVersion()))
    }

    @Test("the rows are kept between sales: a store never writes its catalog itself, so a change on its own connection outside the feed is not read again")
    func keptBetweenSales() async throws {
        let world = try await world()
        let a = world.store("A")
        #expect(try sell(a).amountMinor == 2500)
        try await a.pool.write { db in try db.execute(sql: "UPDATE price SET amount_minor = 1 WHERE customer_category = 'SCH'") }
        #expect(try sell(a).amountMinor == 2500)
        // Readers' connections read the tables.
        #expect(try a.quote(offer: "ADULT", partner: "P1").line.unitPrice == 1)
    }

    @Test("an unknown or inactive offer is refused as before, and nothing is kept for an unknown one")
    func refusals() async throws {
        let world = try await world()
        let a = world.store("A")
        #expect(throws: FieldError.self) { try a.addDocument(kind: .order, partnerCode: "P1", addressSeq: nil, lines: [("NOPE", 1)]) }
        #expect(try sell(a).amountMinor == 2500)
        #expect(try a.documents().count == 1)
    }
}
