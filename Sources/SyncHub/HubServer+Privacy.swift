import Foundation
import Hummingbird
import SyncModel
import SyncStore

/// The stores' part of data-subject requests (docs/privacy.md): a node's token asks which
/// open cases it has not answered and sends its extract of the person for each.
extension HubServer {
    /// The largest extract a store sends for one case.
    static let maxExtractBody = 4 << 20

    struct ExtractReply: Codable, Sendable {
        var `case`: String
        var node: String
    }

    func addPrivacyRoutes(_ v1: RouterGroup<HubRequestContext>) {
        let server = self, store = self.store
        v1.get("access-requests/open") { _, context in
            do {
                let node = try context.node
                let open = try await offload { try store.openAccessRequests(node: node.node) }
                return Self.json(open.map { AccessRequestNotice(id: $0.id, partners: $0.partners) })
            } catch { return server.centralFailure(error, "open access requests") }
        }
        v1.post("access-requests/:case/extract") { request, context in
            let id = PathSegment.decoded(context.parameters.get("case"))
            do {
                let node = try context.node
                let body = try await request.body.collect(upTo: Self.maxExtractBody)
                let text = String(decoding: body.readableBytesView, as: UTF8.self)
                guard (try? JSONSerialization.jsonObject(with: Data(text.utf8))) is [String: Any] else {
                    throw FieldError(field: "extract", reason: "is not a JSON object")
                }
                try await offload { try store.recordAccessExtract(case: id, node: node.node, extract: text) }
                return Self.json(ExtractReply(case: id, node: node.node))
            } catch { return server.centralFailure(error, "extract for case \(id)") }
        }
    }
}
