import Foundation
import Hummingbird
import SyncModel
import SyncStore

/// The customer module's routes of the local API: the catalog as the store holds it,
/// institutions, memberships, a customer's listing and price quotes (docs/openapi/node.yaml).
extension NodeServer {
    func addCustomerRoutes(_ router: Router<BasicRequestContext>) {
        let store = self.store
        router.get("/categories") { _, _ in
            do { return Self.json(try await offload { try store.customerCategories() }) } catch { return Self.failure(error) }
        }
        router.get("/offers") { _, _ in
            do { return Self.json(try await offload { try store.offers() }) } catch { return Self.failure(error) }
        }
        router.get("/prices") { _, _ in
            do { return Self.json(try await offload { try store.priceCells() }) } catch { return Self.failure(error) }
        }
        router.get("/price") { request, _ in
            let query = request.uri.queryParameters
            do {
                guard let offer = query.get("offer"), !offer.isEmpty else { throw FieldError(field: "offer", reason: "is mandatory") }
                let quantity = try query.get("quantity").map { text -> Int in
                    guard let q = Int(text) else { throw FieldError(field: "quantity", reason: "'\(text)' is not a whole number") }
                    return q
                } ?? 1
                let seq = try query.get("address").map { text -> Int in
                    guard let s = Int(text) else { throw FieldError(field: "address", reason: "'\(text)' is not an address number") }
                    return s
                }
                let partner = query.get("partner")
                return Self.json(try await offload { try store.quote(offer: offer, quantity: quantity, partner: partner, addressSeq: seq) })
            } catch { return Self.failure(error) }
        }
        router.get("/institutions") { _, _ in
            do { return Self.json(try await offload { try store.institutions() }) } catch { return Self.failure(error) }
        }
        router.get("/institutions/:code") { _, context in
            let code = PathSegment.decoded(context.parameters.get("code"))
            do { return Self.json(try await offload { try store.institutionListing(code: code) }) } catch { return Self.failure(error) }
        }
        router.post("/institutions") { request, _ in
            do {
                let fields = try await Self.body(request, as: Fields.self)
                let allowed: Set<String> = ["code", "name", "kind", "discount_percent", "street", "city", "postal_code", "country"]
                let refused = fields.keys.sorted().filter { !allowed.contains($0) }.map { FieldError(field: $0, reason: "is not an institution field") }
                let problems = refused + RecordKind.institution.problems(fields)
                if !problems.isEmpty { throw InvalidFields(problems) }
                return Self.json(try await offload { try store.addInstitution(fields) }, status: .created)
            } catch { return Self.failure(error) }
        }
        router.patch("/institutions/:code") { request, context in
            let code = PathSegment.decoded(context.parameters.get("code"))
            do {
                let fields = try await Self.body(request, as: Fields.self)
                let editable = RecordKind.institution.editable ?? []
                let refused = fields.keys.sorted().filter { !editable.contains($0) }.map { FieldError(field: $0, reason: "cannot be changed here") }
                if !refused.isEmpty { throw InvalidFields(refused) }
                return Self.json(try await offload { try store.updateInstitution(code: code, fields) })
            } catch { return Self.failure(error) }
        }
        router.post("/memberships") { request, _ in
            do {
                let r = try await Self.body(request, as: MembershipRequest.self)
                let added = try await offload { try store.addMember(partner: r.partner, institution: r.institution) }
                return Self.json(MembershipReply(partner: PartnerCode.normalized(r.partner), institution: r.institution, added: added != nil),
                                 status: added != nil ? .created : .ok)
            } catch { return Self.failure(error) }
        }
        router.get("/customers/:code") { _, context in
            let code = PathSegment.decoded(context.parameters.get("code"))
            do { return Self.json(try await offload { try store.customerListing(code: code) }) } catch {
                if let e = error as? FieldError { return Self.failure(FieldError(field: e.field, reason: e.reason, code: .notFound)) }
                return Self.failure(error)
            }
        }
    }
}

/// The reply to a membership: whether it was added (false: the customer was a member already).
public struct MembershipReply: Codable, Sendable {
    public var partner: String
    public var institution: String
    public var added: Bool
}
