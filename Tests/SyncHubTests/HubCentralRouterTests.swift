import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import SyncHub
import SyncModel
import SyncStore
import SyncTesting

/// The central data API in process: an operator's token writes, a node's token reads only,
/// refusals name the field with the status of their kind.
@Suite("The hub's central data API: operator tokens, refusals, listings")
struct HubCentralRouterTests {
    static func bearer(_ token: String, json: Bool = false) -> HTTPFields {
        json ? [.authorization: "Bearer \(token)", .contentType: "application/json"] : [.authorization: "Bearer \(token)"]
    }

    static func text(_ r: TestResponse) -> String { String(buffer: r.body) }

    @Test("an operator writes categories, offers and prices; a node's token reads them and is refused writing (403); an operator's token cannot pull")
    func operatorWrites() async throws {
        let dir = try TemporaryDirectory(prefix: "hub-central")
        defer { dir.remove() }
        let store = try HubStore(path: dir.file("hub.sqlite"))
        let node = try store.addNode(node: "A", site: "WAW", series: "K1")
        let op = try store.addOperator(name: "pricing-team")
        #expect(throws: HubError.self) { try store.addOperator(name: "pricing-team") }
        let server = HubServer(store: store)
        try await Application(router: server.buildRouter()).test(.router) { client in
            func send(_ method: HTTPRequest.Method, _ uri: String, _ token: String, _ body: String? = nil) async throws -> TestResponse {
                try await client.execute(uri: uri, method: method, headers: Self.bearer(token, json: body != nil),
                                         body: body.map { ByteBuffer(string: $0) })
            }
            var r = try await send(.post, "/v1/central/categories", node, #"{"code":"STD","name":"Standard","is_default":true}"#)
            #expect(r.status == .forbidden, "\(Self.text(r))")
            r = try await send(.post, "/v1/central/categories", op, #"{"code":"STD","name":"Standard","is_default":true}"#)
            #expect(r.status == .created && Self.text(r).contains(#""is_default":true"#), "\(Self.text(r))")
            r = try await send(.post, "/v1/central/categories", op, #"{"code":"STD","name":"again"}"#)
            #expect(r.status == .conflict, "\(Self.text(r))")
            r = try await send(.post, "/v1/central/categories", op, #"{"code":"SCH","name":"Schools"}"#)
            #expect(r.status == .created)
            r = try await send(.post, "/v1/central/offer-categories", op, #"{"code":"TIX","name":"Tickets"}"#)
            #expect(r.status == .created)
            r = try await send(.post, "/v1/central/offers", op, #"{"code":"ADULT","name":"Adult","offer_category":"NONE","price_minor":2000,"currency":"PLN"}"#)
            #expect(r.status == .notFound && Self.text(r).contains("offer_category"), "\(Self.text(r))")
            r = try await send(.post, "/v1/central/offers", op, #"{"code":"ADULT","name":"Adult","offer_category":"TIX","price_minor":2000,"currency":"PLN"}"#)
            #expect(r.status == .created)
            r = try await send(.put, "/v1/central/prices", op, #"{"customer_category":"SCH","offer_category":"TIX","amount_minor":1250,"currency":"EUR"}"#)
            #expect(r.status == .badRequest && Self.text(r).contains("currency"), "\(Self.text(r))")
            r = try await send(.put, "/v1/central/prices", op, #"{"customer_category":"SCH","offer_category":"TIX","amount_minor":-5,"currency":"PLN"}"#)
            #expect(r.status == .badRequest && Self.text(r).contains("amount_minor"), "\(Self.text(r))")
            r = try await send(.put, "/v1/central/prices", op, #"{"customer_category":"SCH","offer_category":"TIX","amount_minor":1250}"#)
            #expect(r.status == .badRequest && Self.text(r).contains("currency is missing"), "\(Self.text(r))")
            r = try await send(.put, "/v1/central/prices", op, #"{"customer_category":"SCH","offer_category":"TIX","amount_minor":1250,"currency":"PLN"}"#)
            #expect(r.status == .ok && Self.text(r).contains(#""amount_minor":1250"#))
            r = try await send(.patch, "/v1/central/categories/STD", op, #"{"active":false}"#)
            #expect(r.status == .badRequest && Self.text(r).contains("default"), "\(Self.text(r))")

            // A node's token reads the catalog; the prices it reads are the ones written.
            r = try await send(.get, "/v1/central/prices", node)
            let cells = try JSONDecoder().decode([PriceCell].self, from: Data(r.body.readableBytesView))
            #expect(cells.map(\.amountMinor) == [1250] && cells.first?.priceVersion == 2)
            r = try await send(.get, "/v1/central/offers", node)
            #expect(r.status == .ok && Self.text(r).contains(#""article_code""#) == false && Self.text(r).contains("ADULT"))
            // Institution listings hold customers of every region: operators only.
            r = try await send(.get, "/v1/institutions", node)
            #expect(r.status == .forbidden)
            r = try await send(.get, "/v1/institutions/NONE", op)
            #expect(r.status == .notFound)
            // A price list: one call, one version; a bad cell refuses the list, naming it.
            r = try await send(.post, "/v1/central/prices/import", node, #"[{"customer_category":"STD","offer_category":"TIX","amount_minor":1900,"currency":"PLN"}]"#)
            #expect(r.status == .forbidden)
            r = try await send(.post, "/v1/central/prices/import", op, #"[{"customer_category":"STD","offer_category":"TIX","amount_minor":1900,"currency":"PLN"},{"customer_category":"VIP","offer_category":"TIX","amount_minor":1,"currency":"PLN"}]"#)
            #expect(r.status == .notFound && Self.text(r).contains("cell 2 (VIP x TIX)"), "\(Self.text(r))")
            r = try await send(.post, "/v1/central/prices/import", op, #"[{"customer_category":"STD","offer_category":"TIX","amount_minor":1900,"currency":"PLN"},{"customer_category":"SCH","offer_category":"TIX","amount_minor":1200,"currency":"PLN"}]"#)
            #expect(r.status == .ok && Self.text(r).contains(#""cells":2"#) && Self.text(r).contains(#""price_version":3"#), "\(Self.text(r))")
            r = try await send(.get, "/v1/customers/NONE", op)
            #expect(r.status == .notFound, "\(Self.text(r))")
            r = try await send(.get, "/v1/customers/NONE", node)
            #expect(r.status == .forbidden)
            // An operator's token does not sync.
            r = try await send(.get, "/v1/pull", op)
            #expect(r.status == .forbidden)

            // Offers and offer categories change; deactivating a category with active offers is a conflict.
            r = try await send(.patch, "/v1/central/offers/ADULT", node, #"{"price_minor":2200}"#)
            #expect(r.status == .forbidden)
            r = try await send(.patch, "/v1/central/offers/NONE", op, #"{"price_minor":2200}"#)
            #expect(r.status == .notFound && Self.text(r).contains("no offer NONE"), "\(Self.text(r))")
            r = try await send(.patch, "/v1/central/offers/ADULT", op, #"{"price_minor":-1}"#)
            #expect(r.status == .badRequest && Self.text(r).contains("price_minor"), "\(Self.text(r))")
            r = try await send(.patch, "/v1/central/offers/ADULT", op, #"{"price_minor":"high"}"#)
            #expect(r.status == .badRequest && Self.text(r).contains("price_minor"), "\(Self.text(r))")
            r = try await send(.patch, "/v1/central/offer-categories/TIX", op, #"{"active":false}"#)
            #expect(r.status == .conflict && Self.text(r).contains("1 active offer (ADULT)"), "\(Self.text(r))")
            r = try await send(.patch, "/v1/central/offers/ADULT", op, #"{"price_minor":2200,"name":"Adult ticket"}"#)
            #expect(r.status == .ok && Self.text(r).contains(#""price_minor":2200"#) && Self.text(r).contains(#""price_version":4"#), "\(Self.text(r))")
            r = try await send(.patch, "/v1/central/offers/ADULT", op, #"{"active":false}"#)
            #expect(r.status == .ok && Self.text(r).contains(#""active":false"#), "\(Self.text(r))")
            r = try await send(.patch, "/v1/central/offer-categories/TIX", op, #"{"active":false,"name":"Tickets (old)"}"#)
            #expect(r.status == .ok && Self.text(r).contains(#""active":false"#), "\(Self.text(r))")
            r = try await send(.patch, "/v1/central/offer-categories/NONE", op, #"{"active":false}"#)
            #expect(r.status == .notFound)
            // A body over the call's limit is refused before it is read whole.
            let big = #"{"name":""# + String(repeating: "x", count: 70_000) + #""}"#
            r = try await send(.patch, "/v1/central/offers/ADULT", op, big)
            #expect(r.status == .contentTooLarge && Self.text(r).contains("larger"), "\(r.status)")
            r = try await send(.post, "/v1/central/prices/import", op, "[" + String(repeating: " ", count: 33 << 20) + "]")
            #expect(r.status == .contentTooLarge, "\(r.status)")
        }
        #expect(try store.priceCells().map(\.amountMinor) == [1200, 1900] && store.offers().count == 1 && store.customerCategories().count == 2)
        #expect(try store.offers().first.map { ($0.priceMinor, $0.active, $0.name) } ?? (0, true, "") == (2200, false, "Adult ticket"))
        #expect(try store.offerCategories().first.map { ($0.name, $0.active) } ?? ("", true) == ("Tickets (old)", false))
    }
}
