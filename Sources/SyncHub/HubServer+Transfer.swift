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
        v1.get("external/customers/:id") { _, context in
            let id = context.parameters.get("id") ?? ""
            do {
                let system = try context.systemName
                guard let mapping = try await offload({ try store.externalMapping(system: system, externalAddressID: id) }) else {
                    throw FieldError(field: "external_address_id", reason: "\(system) has transferred no address \(id)", code: .notFound)
                }
                return Self.json(mapping)
            } catch { return server.centralFailure(error, "external address \(id)") }
        }
    }
}
