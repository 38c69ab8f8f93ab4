import Foundation
import Hummingbird
import SyncModel
import SyncStore

/// The back-office customer transfer (docs/backoffice.md): an external system's token hands
/// customers (with their invoices and pick-ups) to the chain and reads the mapping back.
extension HubServer {
    /// The largest transfer batch body (1,000 items of some 2 KiB with their documents).
    static let maxTransferBody = 4 << 20

    func addTransferRoutes(_ v1: RouterGroup<HubRequestContext>) {
        let server = self, store = self.store
        v1.post("external/customers") { request, context in
            do {
                let system = try context.systemName
                let body = try await request.body.collect(upTo: Self.maxTransferBody)
                let items: [LenientItem<TransferItem>]
                do { items = try body.readableBytesView.withUnsafeBytes { try TransferDecoding.items($0) } } catch {
                    throw FieldError(field: "body", reason: "is not a JSON array of transfer items")
                }
                let results = try await offload { try store.transferCustomers(system: system, items: items) }
                return Self.jsonBody(TransferDecoding.reply(results))
            } catch { return server.centralFailure(error, "transfer") }
        }
        v1.get("external/delivery-notes") { request, context in
            do {
                let system = try context.systemName
                func number(_ name: String) throws -> Int? {
                    guard let text = request.uri.queryParameters.get(name) else { return nil }
                    guard let n = Int(text), n >= 0 else { throw FieldError(field: name, reason: "'\(text)' is not a whole number of 0 or more") }
                    return n
                }
                let after = try number("after"), limit = try number("limit") ?? 100
                let page = try await offload { try store.deliveryNotes(system: system, after: after.map(Int64.init), limit: limit) }
                return Self.json(page)
            } catch { return server.centralFailure(error, "delivery notes") }
        }
        v1.post("external/delivery-notes/ack") { request, context in
            do {
                let system = try context.systemName
                let body = try await request.body.collect(upTo: 4096)
                struct Ack: Decodable { var through: Int64 }
                let ack: Ack
                do { ack = try JSONDecoder().decode(Ack.self, from: Data(buffer: body)) } catch {
                    throw FieldError(field: "through", reason: "give {\"through\": CURSOR}, the last note's cursor stored")
                }
                let acked = try await offload { try store.acknowledgeDeliveryNotes(system: system, through: ack.through) }
                return Self.json(["acknowledged_through": acked])
            } catch { return server.centralFailure(error, "delivery notes") }
        }
        v1.get("external/customers/:id") { _, context in
            let id = PathSegment.decoded(context.parameters.get("id"))
            do {
                let system = try context.systemName
                let normalized = try ExternalID.normalized(id, field: "external_address_id")
                guard let mapping = try await offload({ try store.externalMapping(system: system, externalAddressID: normalized) }) else {
                    throw FieldError(field: "external_address_id", reason: "\(system) has transferred no address \(id)", code: .notFound)
                }
                return Self.json(mapping)
            } catch { return server.centralFailure(error, "external address \(id)") }
        }
    }
}
