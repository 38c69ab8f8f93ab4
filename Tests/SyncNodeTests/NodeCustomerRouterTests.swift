import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import SyncHub
import SyncModel
import SyncNode
import SyncStore
import SyncTesting

/// The customer module's local API routes in process, on a store that has the chain's catalog.
@Suite("The node's customer routes: institutions, memberships, prices, priced documents")
struct NodeCustomerRouterTests {
    static let token = "local-api-token-for-the-customer-routes"
    static let json: HTTPFields = [.authorization: "Bearer \(token)", .contentType: "application/json"]

    static func value(_ r: TestResponse, _ key: String) -> Any? {
        ((try? JSONSerialization.jsonObject(with: Data(r.body.readableBytesView))) as? [String: Any])?[key]
    }

    @Test("an institution, a member's address at it, a price quote with its discount, an order and an anonymous receipt by lines; bad input is 400/404 naming the field")
    func customerRoutes() async throws {
        let world = try World(nodes: [("A", "WAW", "K1")])
        try publishCatalog(world.hub)
        try await world.sync("A")
        let store = world.store("A")
        // A school registered at the store; the hub sets its discount, the store receives it.
        try store.addInstitution(["code": .text("SZK1"), "name": .text("Szkoła 1"), "kind": .text("organisation")])
        try await world.sync("A")
        try world.hub.updateInstitution(code: "SZK1", discount: Discount(percent: 10))
        try await world.sync("A")
        let router = NodeServer(store: store, sync: nil, access: NodeAPIAccess(token: Self.token, allowedOrigins: [])).buildRouter()
        try await Application(router: router).test(.router) { client in
            func send(_ method: HTTPRequest.Method, _ uri: String, _ body: String? = nil) async throws -> TestResponse {
                try await client.execute(uri: uri, method: method, headers: Self.json, body: body.map { ByteBuffer(string: $0) })
            }
            var r = try await send(.post, "/partners", #"{"code":"P1","kind":"consumer","first_name":"Anna","last_name":"Nowak","category":"SCH"}"#)
            #expect(r.status == .created)
            r = try await send(.post, "/partners", #"{"code":"P2","kind":"consumer","first_name":"Jan","last_name":"Nowak","category":"VIP"}"#)
            #expect(r.status == .badRequest && (Self.value(r, "field") as? String) == "category")
            r = try await send(.post, "/institutions", #"{"code":"SZK1","name":"Szkoła 1","kind":"organisation","discount_percent":10}"#)
            #expect(r.status == .badRequest && (Self.value(r, "field") as? String) == "discount", "a discount is central data")
            r = try await send(.post, "/institutions", #"{"code":"SZK4","name":"Szkoła 4","kind":"organisation"}"#)
            #expect(r.status == .created && (Self.value(r, "discount_percent") as? Int) == 0)
            r = try await send(.post, "/institutions", #"{"code":"SZK2","name":"Szkoła 2","discount_percent":150}"#)
            #expect(r.status == .badRequest && (Self.value(r, "field") as? String) == "discount_percent", "out of range first")
            r = try await send(.post, "/institutions", #"{"code":"SZK3","name":"Szkoła 3","lowest_price":true}"#)
            #expect(r.status == .badRequest && (Self.value(r, "field") as? String) == "lowest_price")
            r = try await send(.post, "/addresses", #"{"partner_code":"P1","seq":1,"street":"Szkolna 1","institution":"SZK1"}"#)
            #expect(r.status == .created)
            r = try await send(.post, "/memberships", #"{"partner":"P1","institution":"NONE"}"#)
            #expect(r.status == .badRequest && (Self.value(r, "field") as? String) == "institution")
            r = try await send(.post, "/memberships", #"{"partner":"P1","institution":"SZK1"}"#)
            #expect(r.status == .ok && (Self.value(r, "added") as? Bool) == false, "the address made P1 a member already")

            r = try await send(.get, "/price?offer=ADULT&partner=P1&address=1&quantity=3")
            let quote = try JSONDecoder().decode(PriceQuote.self, from: Data(r.body.readableBytesView))
            #expect(quote.line.unitPrice == 1250 && quote.line.discount == 375 && quote.line.lineTotal == 3375 && quote.institution == "SZK1")
            r = try await send(.get, "/price?offer=NOPE")
            #expect(r.status == .badRequest && (Self.value(r, "field") as? String) == "offer")

            r = try await send(.post, "/documents", #"{"kind":"order","partner":"P1","seq":1,"lines":[{"offer":"ADULT","quantity":3}]}"#)
            #expect(r.status == .created && (Self.value(r, "amount_minor") as? Int) == 3375, "\(String(buffer: r.body))")
            r = try await send(.post, "/receipts", #"{"lines":[{"offer":"ADULT","quantity":2}]}"#)
            #expect(r.status == .created && (Self.value(r, "partner_code") as? String) == "" && (Self.value(r, "amount_minor") as? Int) == 4000)
            r = try await send(.post, "/documents", #"{"kind":"order","lines":[{"offer":"ADULT"}]}"#)
            #expect(r.status == .badRequest && (Self.value(r, "field") as? String) == "partner")
            r = try await send(.post, "/receipts", #"{"partner":"P1","amount":"1.00","lines":[{"offer":"ADULT"}]}"#)
            #expect(r.status == .badRequest && (Self.value(r, "field") as? String) == "amount")

            r = try await send(.get, "/institutions/SZK1")
            let listing = try JSONDecoder().decode(InstitutionListing.self, from: Data(r.body.readableBytesView))
            #expect(listing.members.map(\.code) == ["P1"] && listing.documents.map(\.amountMinor) == [3375])
            r = try await send(.get, "/institutions/NONE")
            #expect(r.status == .notFound)
            r = try await send(.get, "/customers/P1")
            #expect((Self.value(r, "institutions") as? [String]) == ["SZK1"] && (Self.value(r, "category") as? String) == "SCH")
            r = try await send(.get, "/customers/NOPE")
            #expect(r.status == .notFound)
            r = try await send(.get, "/categories")
            #expect(r.status == .ok && String(buffer: r.body).contains("SCH"))

            // Deactivated, never deleted: its listing stays; a new sale at it is refused.
            r = try await send(.patch, "/institutions/SZK1", #"{"origin_node":"B"}"#)
            #expect(r.status == .badRequest && (Self.value(r, "field") as? String) == "origin_node", "\(String(buffer: r.body))")
            r = try await send(.patch, "/institutions/NONE", #"{"active":false}"#)
            #expect(r.status == .notFound)
            r = try await send(.patch, "/institutions/SZK1", #"{"discount_percent":15}"#)
            #expect(r.status == .badRequest && (Self.value(r, "field") as? String) == "discount")
            r = try await send(.patch, "/institutions/SZK1", #"{"active":false}"#)
            #expect(r.status == .ok && (Self.value(r, "active") as? Bool) == false && (Self.value(r, "discount_percent") as? Int) == 10)
            r = try await send(.post, "/documents", #"{"kind":"order","partner":"P1","seq":1,"lines":[{"offer":"ADULT","quantity":1}]}"#)
            #expect(r.status == .badRequest && (Self.value(r, "field") as? String) == "institution", "\(String(buffer: r.body))")
            r = try await send(.get, "/institutions/SZK1")
            let after = try JSONDecoder().decode(InstitutionListing.self, from: Data(r.body.readableBytesView))
            #expect(r.status == .ok && after.documents.count == 1 && after.memberOrders.count == 1 && after.institution.active == false)
        }
        #expect(try store.documents().count == 2)
    }
}
