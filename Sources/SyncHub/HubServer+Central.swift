import Foundation
import Hummingbird
import NIOCore
import SyncModel
import SyncStore

/// The central data API (docs/openapi/hub.yaml): the customer module's master data, read with
/// a node's or an operator's token, written with an operator's; institutions and their
/// listings and a customer's, read with an operator's token (they hold customers of every region).
extension HubServer {
    struct CategoryBody: Decodable {
        var code: String?
        var name: String?
        var active: Bool?
        var isDefault: Bool?
        enum CodingKeys: String, CodingKey { case code, name, active, isDefault = "is_default" }
    }

    struct OfferBody: Decodable {
        var code: String
        var name: String
        var offerCategory: String
        var priceMinor: Int64
        var currency: String
        var articleCode: String?
        enum CodingKeys: String, CodingKey {
            case code, name, offerCategory = "offer_category", priceMinor = "price_minor", currency, articleCode = "article_code"
        }
    }

    struct OfferUpdateBody: Decodable {
        var name: String?
        var priceMinor: Int64?
        var articleCode: String?
        var active: Bool?
        enum CodingKeys: String, CodingKey { case name, priceMinor = "price_minor", articleCode = "article_code", active }
    }

    struct PriceImportReply: Codable, Sendable {
        var cells: Int
        var priceVersion: Int64
        enum CodingKeys: String, CodingKey { case cells, priceVersion = "price_version" }
    }

    /// The largest body of a central data call.
    static let maxCentralBody = 64 << 10
    /// The largest price list one call imports (about 100 bytes a cell: some 300,000 cells).
    static let maxPriceListBody = 32 << 20

    static func decode<T: Decodable>(_ request: Request, as: T.Type, upTo limit: Int = maxCentralBody) async throws -> T {
        let body = try await request.body.collect(upTo: limit)
        return try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
    }

    /// The reply to a refused or failed central data call.
    func centralFailure(_ error: Error, _ what: String) -> Response {
        switch error {
        case let e as HubError:
            if case .invalid(let field) = e { return Self.error(field.status, "\(what) refused: \(field.qualified)", code: field.refusalCode) }
            return Self.error(e.status, "\(what) refused: \(e)", code: e.code)
        case let e as FieldError:
            return Self.error(e.status, "\(what) refused: \(e.qualified)", code: e.refusalCode)
        case let e as HTTPError: return Self.error(e.status, e.body ?? "\(e.status.code)")
        case is NIOTooManyBytesError: return Self.error(.contentTooLarge, "\(what) refused: the body is larger than this call takes; nothing written")
        case let e as DecodingError: return Self.error(.badRequest, "\(what) refused: the body is not valid JSON for this call (\(Self.decodingProblem(e)))")
        default: return internalError(error, what)
        }
    }

    static func decodingProblem(_ e: DecodingError) -> String {
        switch e {
        case .keyNotFound(let key, _): return "\(key.stringValue) is missing"
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
            return c.codingPath.map(\.stringValue).joined(separator: ".").isEmpty ? c.debugDescription : "\(c.codingPath.map(\.stringValue).joined(separator: ".")): \(c.debugDescription)"
        @unknown default: return "\(e)"
        }
    }

    func addCentralRoutes(_ v1: RouterGroup<HubRequestContext>) {
        let server = self, store = self.store
        @Sendable func read<T: Encodable & Sendable>(_ what: String, _ context: HubRequestContext, _ work: @escaping @Sendable () throws -> T) async -> Response {
            do {
                if case .system = try context.requireIdentity() {
                    throw HTTPError(.forbidden, message: "an external system's token calls the transfer API only")
                }
                return Self.json(try await offload(work))
            } catch { return server.centralFailure(error, what) }
        }
        @Sendable func write<T: Encodable & Sendable>(_ what: String, _ context: HubRequestContext, status: HTTPResponse.Status = .created,
                                           _ work: @escaping @Sendable () async throws -> T) async -> Response {
            do {
                _ = try context.operatorName
                return Self.json(try await work(), status: status)
            } catch { return server.centralFailure(error, what) }
        }
        v1.get("central/categories") { _, context in await read("category list", context) { try store.customerCategories() } }
        v1.post("central/categories") { request, context in
            await write("category", context) {
                let b = try await Self.decode(request, as: CategoryBody.self)
                guard let code = b.code else { throw FieldError(field: "code", reason: "is mandatory") }
                guard let name = b.name else { throw FieldError(field: "name", reason: "is mandatory") }
                return try await offload { try store.addCustomerCategory(code: code, name: name, isDefault: b.isDefault ?? false) }
            }
        }
        v1.patch("central/categories/:code") { request, context in
            let code = PathSegment.decoded(context.parameters.get("code"))
            return await write("category \(code)", context, status: .ok) {
                let b = try await Self.decode(request, as: CategoryBody.self)
                return try await offload { try store.updateCustomerCategory(code: code, name: b.name, active: b.active, isDefault: b.isDefault) }
            }
        }
        v1.get("central/offer-categories") { _, context in await read("offer category list", context) { try store.offerCategories() } }
        v1.post("central/offer-categories") { request, context in
            await write("offer category", context) {
                let b = try await Self.decode(request, as: CategoryBody.self)
                guard let code = b.code else { throw FieldError(field: "code", reason: "is mandatory") }
                guard let name = b.name else { throw FieldError(field: "name", reason: "is mandatory") }
                return try await offload { try store.addOfferCategory(code: code, name: name) }
            }
        }
        v1.patch("central/offer-categories/:code") { request, context in
            let code = PathSegment.decoded(context.parameters.get("code"))
            return await write("offer category \(code)", context, status: .ok) {
                let b = try await Self.decode(request, as: CategoryBody.self)
                return try await offload { try store.updateOfferCategory(code: code, name: b.name, active: b.active) }
            }
        }
        v1.get("central/offers") { _, context in await read("offer list", context) { try store.offers() } }
        v1.post("central/offers") { request, context in
            await write("offer", context) {
                let b = try await Self.decode(request, as: OfferBody.self)
                return try await offload {
                    try store.addOffer(code: b.code, name: b.name, offerCategory: b.offerCategory, priceMinor: b.priceMinor,
                                       currency: b.currency, articleCode: b.articleCode)
                }
            }
        }
        v1.patch("central/offers/:code") { request, context in
            let code = PathSegment.decoded(context.parameters.get("code"))
            return await write("offer \(code)", context, status: .ok) {
                let b = try await Self.decode(request, as: OfferUpdateBody.self)
                return try await offload {
                    try store.updateOffer(code: code, name: b.name, priceMinor: b.priceMinor, articleCode: b.articleCode, active: b.active)
                }
            }
        }
        v1.patch("central/institutions/:code") { request, context in
            let code = PathSegment.decoded(context.parameters.get("code"))
            return await write("institution \(code)", context, status: .ok) {
                let b = try await Self.decode(request, as: InstitutionUpdateBody.self)
                let discount = try b.discount.map { try CustomerModule.parseDiscount($0) }
                return try await offload { try store.updateInstitution(code: code, discount: discount, active: b.active) }
            }
        }
        v1.get("central/prices") { _, context in await read("price list", context) { try store.priceCells() } }
        v1.put("central/prices") { request, context in
            await write("price", context, status: .ok) {
                let b = try await Self.decode(request, as: PriceCellInput.self)
                return try await offload {
                    try store.setPrice(customerCategory: b.customerCategory, offerCategory: b.offerCategory, amountMinor: b.amountMinor, currency: b.currency)
                }
            }
        }
        v1.post("central/prices/import") { request, context in
            await write("price list", context, status: .ok) {
                let cells = try await Self.decode(request, as: [PriceCellInput].self, upTo: Self.maxPriceListBody)
                let count = try await offload { try store.setPrices(cells) }
                return PriceImportReply(cells: count, priceVersion: try await offload { try store.priceTableVersion() })
            }
        }
        v1.get("institutions") { _, context in
            do {
                _ = try context.operatorName
                return Self.json(try await offload { try store.institutions() })
            } catch { return server.centralFailure(error, "institution list") }
        }
        v1.get("institutions/:code") { _, context in
            let code = PathSegment.decoded(context.parameters.get("code"))
            do {
                _ = try context.operatorName
                return Self.json(try await offload { try store.institutionListing(code: code) })
            } catch { return server.centralFailure(error, "institution \(code)") }
        }
        v1.get("customers/:code") { _, context in
            let code = PathSegment.decoded(context.parameters.get("code"))
            do {
                _ = try context.operatorName
                return Self.json(try await offload { try store.customerListing(code: code) })
            } catch { return server.centralFailure(error, "customer \(code)") }
        }
    }
}

/// `PATCH /v1/central/institutions/{code}`: the discount (decimal text, `12.5`) and the active flag.
struct InstitutionUpdateBody: Decodable {
    var discount: String?
    var active: Bool?
}
