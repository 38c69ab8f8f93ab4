import Foundation
import Hummingbird
import Logging
import NIOCore
import SyncModel
import SyncStore

/// An error reply of the node's local API: which field, and why; every problem of a refused
/// record in `problems`.
public struct NodeAPIError: Codable, Sendable {
    public var error: String
    /// The refusal's machine code (`RefusalCode`, as the hub's: docs/sync-protocol.md).
    public var code: String?
    public var field: String?
    public var problems: [Problem]?

    public init(error: String, code: RefusalCode? = nil, field: String? = nil, problems: [Problem]? = nil) {
        self.error = error; self.code = code?.rawValue; self.field = field; self.problems = problems
    }

    /// One problem: the field by its column name, the message in the form's words.
    public struct Problem: Codable, Sendable, Hashable {
        public var field: String
        public var label: String
        public var message: String
        public var overridable: Bool?

        init(_ e: FieldError) {
            field = e.field; label = e.label; message = e.message; overridable = e.overridable ? true : nil
        }
    }
}

/// A receipt or other document as posted to the local API: by `lines` (priced now from the
/// store's price table; `partner` left out: an anonymous receipt), or by `amount`.
public struct DocumentRequest: Codable, Sendable {
    enum CodingKeys: String, CodingKey {
        case kind, partner, seq, amount, currency, lines
        case invoiceStatus = "invoice_status", paymentMethod = "payment_method", paymentTerms = "payment_terms", installments, salesperson
        case billToSeq = "bill_to_seq", paymentStatus = "payment_status"
    }
    public var kind: DocumentKind?
    public var partner: String?
    /// The partner's address at this site (an address at an institution gets its discount).
    public var seq: Int?
    public var amount: String?
    public var currency: String?
    public var lines: [LineRequest]?
    /// The invoicing fields of an invoice, receivable or order (docs/rules.md, "Invoicing").
    public var invoiceStatus: String?
    public var paymentMethod: String?
    public var paymentTerms: String?
    public var installments: Int?
    public var salesperson: String?
    public var billToSeq: Int?
    public var paymentStatus: String?

    /// The invoicing fields given, by column.
    var invoicing: Fields {
        Document.invoicingFields(invoiceStatus: invoiceStatus, paymentMethod: paymentMethod, paymentTerms: paymentTerms, installments: installments,
                                 salesperson: salesperson, billToSeq: billToSeq, paymentStatus: paymentStatus)
    }

    public struct LineRequest: Codable, Sendable {
        public var offer: String
        public var quantity: Int?
    }
}

/// A membership as posted to the local API.
public struct MembershipRequest: Codable, Sendable {
    public var partner: String
    public var institution: String
}

/// The node's local HTTP API for the POS front end (loopback only). Writes go to the local
/// store and journal whether or not the hub is reachable.
public struct NodeServer: Sendable {
    public var store: NodeStore
    public var sync: SyncService?
    /// Who may call (host, origin, token, body type); checked before every route.
    public var access: NodeAPIAccess<BasicRequestContext>

    public init(store: NodeStore, sync: SyncService?, access: NodeAPIAccess<BasicRequestContext>) {
        self.store = store
        self.sync = sync
        self.access = access
    }

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// An error reply: the error with its code (by the status when it names none).
    static func apiError(_ error: NodeAPIError, status: HTTPResponse.Status) -> Response {
        var error = error
        if error.code == nil { error.code = RefusalCode.forStatus(status.code).rawValue }
        return json(error, status: status)
    }

    static func failure(_ error: Error) -> Response {
        switch error {
        case let e as FieldError:
            let status: HTTPResponse.Status = e.code == .conflict ? .conflict : e.code == .notFound ? .notFound : .badRequest
            return apiError(NodeAPIError(error: e.description, code: e.refusalCode, field: e.field, problems: [.init(e)]), status: status)
        case let e as InvalidFields:
            return apiError(NodeAPIError(error: e.oneLine, code: e.problems.first?.refusalCode, field: e.problems.first?.field,
                                         problems: e.problems.map(NodeAPIError.Problem.init)), status: .badRequest)
        case let e as StoreError:
            let status: HTTPResponse.Status
            switch e {
            case .notFound: status = .notFound
            case .renameTargetTaken, .alreadyInitialized: status = .conflict
            case .invalid(let field): return failure(field)
            case .badKey, .unknownKind: status = .badRequest
            case .notWritable: status = .forbidden
            case .notInitialized, .unexpectedReply: status = .internalServerError
            }
            return apiError(NodeAPIError(error: e.description), status: status)
        case let e as HTTPError:
            // A body over the limit (413) and the like: the status the error carries.
            return apiError(NodeAPIError(error: e.body ?? "\(e.status.code) \(e.status.reasonPhrase)"), status: e.status)
        case is DecodingError:
            return apiError(NodeAPIError(error: "request body is not valid JSON for this call: \(error)"), status: .badRequest)
        default:
            return apiError(NodeAPIError(error: String(describing: error)), status: .internalServerError)
        }
    }

    /// The largest request body the local API reads (a partner is a few hundred bytes).
    public static let maxBodyBytes = 1 << 20

    static func body<T: Decodable>(_ request: Request, as: T.Type) async throws -> T {
        let tooLarge = HTTPError(.contentTooLarge, message: "the request body is larger than \(maxBodyBytes >> 20) MiB")
        // Refused by its announced length before a byte is read, else when reading passes the limit.
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBodyBytes { throw tooLarge }
        let buffer: ByteBuffer
        do { buffer = try await request.body.collect(upTo: maxBodyBytes) } catch is NIOTooManyBytesError { throw tooLarge }
        return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
    }

    public func buildRouter() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: access)
        let store = self.store
        let sync = self.sync
        router.get("/health") { _, _ in "ok\n" }
        router.get("/status") { _, _ in
            do { return Self.json(try await offload { try store.status() }) } catch { return Self.failure(error) }
        }
        router.get("/state-hash") { _, _ in
            do { return Self.json(StateHashReply(stateHash: try await offload { try store.stateHash() })) } catch { return Self.failure(error) }
        }
        router.get("/partners") { _, _ in
            do { return Self.json(try await offload { try store.partners() }) } catch { return Self.failure(error) }
        }
        router.get("/partners/:code") { _, context in
            let code = PathSegment.decoded(context.parameters.get("code"))
            do {
                guard let p = try await offload({ try store.partner(code: code) }) else { throw StoreError.notFound(entity: .partner, key: code) }
                return Self.json(p)
            } catch { return Self.failure(error) }
        }
        router.post("/partners") { request, _ in
            do {
                var fields = try await Self.body(request, as: Fields.self)
                let allowDup = fields.removeValue(forKey: "allow_duplicate_vat")?.bool ?? false
                let refused = fields.keys.sorted().compactMap { name -> FieldError? in
                    if ["lowest_price", "deleted", "origin_node"].contains(name) {
                        return FieldError(field: name, reason: "is set by the system, not by a request (lowest_price comes from the center parameters)")
                    }
                    return Partner.columns.contains(name) ? nil : FieldError(field: name, reason: "is not a partner field")
                }
                // Wrong types and sizes too: a number sent for the phone would read as no phone.
                let problems = refused + ColumnRules.problems(.partner, fields)
                if !problems.isEmpty { throw InvalidFields(problems) }
                let partner = try Partner(fields: fields)
                _ = try await CodeCheck.checkOnline(store: store, partner: partner, allowDuplicateVat: allowDup)
                return Self.json(try await offload { try store.addPartner(partner, allowDuplicateVat: allowDup) }, status: .created)
            } catch { return Self.failure(error) }
        }
        router.patch("/partners/:code") { request, context in
            let code = PathSegment.decoded(context.parameters.get("code"))
            do {
                var fields = try await Self.body(request, as: Fields.self)
                let allowDup = fields.removeValue(forKey: "allow_duplicate_vat")?.bool ?? false
                let changes = fields
                return Self.json(try await offload { try store.updatePartner(code: code, changes: changes, allowDuplicateVat: allowDup) })
            } catch { return Self.failure(error) }
        }
        router.delete("/partners/:code") { _, context in
            let code = PathSegment.decoded(context.parameters.get("code"))
            do {
                try await offload { try store.deletePartner(code: code) }
                return Self.json(DeletedReply(deleted: code))
            } catch { return Self.failure(error) }
        }
        router.post("/addresses") { request, _ in
            do {
                var fields = try await Self.body(request, as: Fields.self)
                if fields["site"] == nil { fields["site"] = .text("") }
                try ColumnRules.check(.address, fields)
                let address = try Address(fields: fields)
                return Self.json(try await offload { try store.addAddress(address) }, status: .created)
            } catch { return Self.failure(error) }
        }
        let addDocument: @Sendable (Request, DocumentKind?) async -> Response = { request, fixedKind in
            do {
                let r = try await Self.body(request, as: DocumentRequest.self)
                guard let kind = fixedKind ?? r.kind else { throw FieldError(field: "kind", reason: "is mandatory") }
                let doc: Document
                if let lines = r.lines {
                    if r.amount != nil { throw FieldError(field: "amount", reason: "a document with lines takes its amount from them") }
                    let requested = lines.map { (offer: $0.offer, quantity: $0.quantity ?? 1) }
                    let invoicing = r.invoicing
                    doc = try await offload { try store.addDocument(kind: kind, partnerCode: r.partner, addressSeq: r.seq, lines: requested, invoicing: invoicing) }
                } else {
                    guard let amount = r.amount else { throw FieldError(field: "lines", reason: "a document needs lines or an amount") }
                    guard let partner = r.partner else { throw FieldError(field: "partner", reason: "is mandatory for a document by amount") }
                    let minor = try Document.parseAmount(amount)
                    let invoicing = r.invoicing
                    doc = try await offload {
                        try store.addDocument(kind: kind, partnerCode: partner, addressSeq: r.seq ?? 0, amountMinor: minor,
                                              currency: r.currency?.uppercased(), invoicing: invoicing)
                    }
                }
                return Self.json(doc, status: .created)
            } catch { return Self.failure(error) }
        }
        router.post("/receipts") { request, _ in await addDocument(request, .receipt) }
        router.post("/documents") { request, _ in await addDocument(request, nil) }
        router.get("/documents/:id") { _, context in
            let id = PathSegment.decoded(context.parameters.get("id"))
            do {
                guard let doc = try await offload({ try store.document(id: id) }) else {
                    throw FieldError(field: "id", reason: "document \(id) does not exist at this store", code: .notFound)
                }
                return Self.json(doc)
            } catch { return Self.failure(error) }
        }
        // Sets or clears (null) invoicing fields of one of this store's documents.
        router.patch("/documents/:id") { request, context in
            let id = PathSegment.decoded(context.parameters.get("id"))
            do {
                let changes = try await Self.body(request, as: Fields.self)
                guard !changes.isEmpty else { throw FieldError(field: "invoice_status", reason: "nothing to change: give an invoicing field") }
                return Self.json(try await offload { try store.updateDocumentInvoicing(id: id, changes: changes) })
            } catch { return Self.failure(error) }
        }
        addCustomerRoutes(router)
        router.post("/sync") { _, _ in
            guard let sync else { return Self.apiError(NodeAPIError(error: "no hub configured"), status: .serviceUnavailable) }
            do { return Self.json(try await sync.syncNow()) } catch {
                return Self.apiError(NodeAPIError(error: String(describing: error)), status: .badGateway)
            }
        }
        return router
    }
}
