import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// A stand-in for Business Central's API v2.0 on loopback, for the connector's tests, the
/// demo and the benchmark (docs/accounting.md, "The test ERP"): `companies({id})/customers`,
/// `salespeoplePurchasers`, `paymentTerms`, `paymentMethods`, `items`, `salesInvoices` (with
/// `salesInvoiceLines` created in the same request), `salesInvoices({id})/Microsoft.NAV.post`,
/// and the extension `invoiceReminders`; OData `$filter` (`field eq 'value'` joined by `and`),
/// server-driven paging with `@odata.nextLink`, `@odata.etag`/`If-Match`, errors as
/// `{"error": {"code", "message"}}`, HTTP Basic, a request limit answered with 429 and
/// `Retry-After`.
///
/// `/_control/...` (no authentication) seeds its lists, advances invoices (post, remind, pay,
/// cancel) and switches faults on: 429s, 500s, slow replies, and creations whose reply is
/// dropped (the invoice is created, then the connection closes without an answer).
public final class ERPTestServer: Sendable {
    public struct Faults: Sendable {
        /// The next this many API requests are answered 429 (with `Retry-After: retryAfter`).
        public var status429 = 0
        /// The next this many API requests are answered 500.
        public var status500 = 0
        /// The next this many invoice creations create the invoice and close the connection unanswered.
        public var dropInvoiceReplies = 0
        /// Every API request waits this long before its answer.
        public var delayMs = 0
        public var retryAfter = 1
        /// Customers the ERP refuses to invoice (400, "blocked"), as a real ERP does for a
        /// customer blocked for invoicing.
        public var blockedCustomers: [String] = []
    }

    struct Customer {
        var id: String, number: String, displayName: String, type: String
        var taxRegistrationNumber: String?, email: String?, phoneNumber: String?, addressLine1: String?, city: String?
        var postalCode: String?, country: String?, currencyCode: String?, paymentMethodId: String?, version = 1
    }

    struct Invoice {
        var id: String, number: String, externalDocumentNumber: String, customerNumber: String, invoiceDate: String
        var postingDate: String?, status: String, salesperson: String?, paymentTermsId: String?, currencyCode: String
        var totalMinor: Int64, lines: [Line], reminderLevel = 0, version = 1
    }

    struct Line {
        var lineType: String, lineObjectNumber: String, description: String, quantity: Int, unitPrice: Double, discountAmount: Double
        var rendered: [String: Any] {
            ["lineType": lineType, "lineObjectNumber": lineObjectNumber, "description": description, "quantity": quantity,
             "unitPrice": unitPrice, "discountAmount": discountAmount]
        }
    }

    struct State {
        var customers: [Customer] = []
        var salespeople: [(id: String, code: String, name: String)] = []
        var paymentTerms: [(id: String, code: String)] = []
        var paymentMethods: [(id: String, code: String)] = []
        var items: [(id: String, number: String, name: String)] = []
        var invoices: [Invoice] = []
        var faults = Faults()
        var window: [Double] = []
        var requests = 0, throttled = 0, creations = 0, failedByFault = 0
        var nextDraft = 1001, nextPosted = 5001
    }

    let state = Mutex<State>(State())
    public let company: String
    let authorization: String
    let limit: Int
    let window: Double
    let pageSize: Int

    /// `requestsPer5Minutes`: the limit beyond which requests are answered 429 (Business
    /// Central: 6,000 per user).
    public init(company: String = "CRONUS", user: String = "erp", password: String = "secret",
                requestsPer5Minutes: Int = 6000, windowSeconds: Double = 300, pageSize: Int = 100) {
        self.company = company
        authorization = "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
        limit = requestsPer5Minutes
        window = windowSeconds
        self.pageSize = pageSize
    }

    // MARK: Serving

    public struct Context: RequestContext {
        public var coreContext: CoreRequestContextStorage
        let channel: any Channel
        public init(source: ApplicationRequestContextSource) {
            coreContext = .init(source: source); channel = source.channel
        }
    }

    /// The application on `127.0.0.1:port` (0: a free port); `onListening` gets the port.
    public func application(port: Int = 0, logLevel: Logger.Level = .warning, onListening: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router(context: Context.self)
        router.post("/_control/:action") { request, context in try await self.control(request, context) }
        router.get("/_control/state") { _, _ in self.json(200, self.snapshot()) }
        for method in [HTTPRequest.Method.get, .post, .patch] {
            router.on("/api/v2.0/**", method: method) { request, context in try await self.api(request, context) }
        }
        var logger = Logger(label: "poserp")
        logger.logLevel = logLevel
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)),
                           onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) }, logger: logger)
    }

    func json(_ status: Int, _ object: Any, headers: [(String, String)] = []) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        var fields = HTTPFields()
        fields[.contentType] = "application/json; odata.metadata=minimal"
        for (k, v) in headers { if let name = HTTPField.Name(k) { fields[name] = v } }
        return Response(status: .init(code: status), headers: fields, body: .init(byteBuffer: ByteBuffer(data: data)))
    }

    func error(_ status: Int, _ code: String, _ message: String) -> Response {
        json(status, ["error": ["code": code, "message": message]])
    }

    // MARK: The API

    func api(_ request: Request, _ context: Context) async throws -> Response {
        guard request.headers[.authorization] == authorization else {
            return error(401, "Authentication_InvalidCredentials", "The server has rejected the client credentials.")
        }
        let body = try await request.body.collect(upTo: 8 << 20)
        let now = Date().timeIntervalSince1970
        enum Gate { case go(delay: Int), limited(Int), fault429(Int), fault500 }
        let gate: Gate = state.withLock { s in
            s.requests += 1
            s.window.removeAll { $0 <= now - window }
            if s.faults.status429 > 0 { s.faults.status429 -= 1; s.throttled += 1; s.failedByFault += 1; return .fault429(s.faults.retryAfter) }
            if s.faults.status500 > 0 { s.faults.status500 -= 1; s.failedByFault += 1; return .fault500 }
            if s.window.count >= limit {
                s.throttled += 1
                return .limited(max(1, Int((s.window[0] + window - now).rounded(.up))))
            }
            s.window.append(now)
            return .go(delay: s.faults.delayMs)
        }
        switch gate {
        case .fault429(let after), .limited(let after):
            return json(429, ["error": ["code": "Application_TooManyRequests", "message": "Too many requests; retry after \(after) seconds."]],
                        headers: [("Retry-After", "\(after)")])
        case .fault500:
            return error(500, "Internal_ServerError", "Something went wrong (fault switched on by the test).")
        case .go(let delay):
            if delay > 0 { try await Task.sleep(for: .milliseconds(delay)) }
        }
        let path = String(request.uri.path.dropFirst("/api/v2.0/".count))
        var segments = path.split(separator: "/").map(String.init)
        guard !segments.isEmpty else { return error(404, "BadRequest_NotFound", "No resource.") }
        if segments == ["companies"] {
            return json(200, ["value": [["id": company, "name": company, "displayName": company]]])
        }
        guard let (name, companyID) = Self.split(segments.removeFirst()), name == "companies", companyID == company else {
            return error(404, "BadRequest_CompanyNotFound", "The company does not exist.")
        }
        guard let first = segments.first, let (entity, key) = Self.split(first) ?? Optional((first, nil)) else {
            return error(404, "BadRequest_NotFound", "No resource.")
        }
        let filter = request.uri.queryParameters.get("$filter")
        let skip = Int(request.uri.queryParameters.get("$skiptoken") ?? "") ?? 0
        let bodyObject = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any]
        let base = "http://\(request.head.authority ?? "127.0.0.1")/api/v2.0/companies(\(company))/\(entity)"
        switch (request.method, entity, key, segments.count) {
        case (.get, _, nil, 1):
            let rows: [[String: Any]]
            switch entity {
            case "customers": rows = state.withLock { $0.customers.map(Self.render) }
            case "salespeoplePurchasers": rows = state.withLock { $0.salespeople.map { ["id": $0.id, "code": $0.code, "displayName": $0.name] } }
            case "paymentTerms": rows = state.withLock { $0.paymentTerms.map { ["id": $0.id, "code": $0.code, "displayName": $0.code] } }
            case "paymentMethods": rows = state.withLock { $0.paymentMethods.map { ["id": $0.id, "code": $0.code, "displayName": $0.code] } }
            case "items": rows = state.withLock { $0.items.map { ["id": $0.id, "number": $0.number, "displayName": $0.name] } }
            case "salesInvoices": rows = state.withLock { $0.invoices.map(Self.render) }
            case "invoiceReminders":
                rows = state.withLock { $0.invoices.filter { $0.status != "Draft" }.map { ["invoiceNumber": $0.number, "level": $0.reminderLevel] } }
            default: return error(404, "BadRequest_NotFound", "The resource \(entity) does not exist.")
            }
            let matching: [[String: Any]]
            do { matching = try Self.filter(rows, filter) } catch {
                return self.error(400, "BadRequest", "Invalid filter: \(filter ?? "")")
            }
            let page = Array(matching.dropFirst(skip).prefix(pageSize))
            var reply: [String: Any] = ["value": page]
            if skip + pageSize < matching.count {
                var next = "\(base)?$skiptoken=\(skip + pageSize)"
                if let filter { next += "&$filter=" + (filter.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? filter) }
                reply["@odata.nextLink"] = next
            }
            return json(200, reply)
        case (.get, "customers", let id?, 1):
            guard let c = state.withLock({ $0.customers.first { $0.id == id } }) else { return error(404, "BadRequest_NotFound", "Customer \(id) does not exist.") }
            return json(200, Self.render(c))
        case (.get, "salesInvoices", let id?, 1):
            guard let i = state.withLock({ $0.invoices.first { $0.id == id } }) else { return error(404, "BadRequest_NotFound", "Sales invoice \(id) does not exist.") }
            return json(200, Self.render(i))
        case (.post, "customers", nil, 1):
            return createCustomer(bodyObject ?? [:])
        case (.patch, "customers", let id?, 1):
            return patchCustomer(id, bodyObject ?? [:], ifMatch: request.headers[.ifMatch])
        case (.post, "salesInvoices", nil, 1):
            return try await createInvoice(bodyObject ?? [:], context)
        case (.post, "salesInvoices", let id?, 2) where segments[1] == "Microsoft.NAV.post":
            let ok = state.withLock { s -> Bool in
                guard let i = s.invoices.firstIndex(where: { $0.id == id && $0.status == "Draft" }) else { return false }
                Self.post(&s, i); return true
            }
            return ok ? Response(status: .noContent) : error(400, "BadRequest", "Sales invoice \(id) is not a draft.")
        default:
            return error(405, "BadRequest_MethodNotAllowed", "\(request.method) \(path) is not supported.")
        }
    }

    /// `customers(abc)` → ("customers", "abc").
    static func split(_ segment: String) -> (String, String?)? {
        guard let open = segment.firstIndex(of: "("), segment.hasSuffix(")") else { return nil }
        var key = String(segment[segment.index(after: open)..<segment.index(before: segment.endIndex)])
        if key.hasPrefix("'"), key.hasSuffix("'"), key.count >= 2 { key = String(key.dropFirst().dropLast()) }
        return (String(segment[..<open]), key)
    }

    struct BadFilter: Error {}

    /// `a eq 'x' and b eq 'y'`: the rows whose fields equal the values.
    static func filter(_ rows: [[String: Any]], _ filter: String?) throws -> [[String: Any]] {
        guard let filter, !filter.isEmpty else { return rows }
        var terms: [(String, String)] = []
        var rest = Substring(filter)
        while !rest.isEmpty {
            rest = rest.drop { $0 == " " }
            guard let space = rest.firstIndex(of: " ") else { throw BadFilter() }
            let field = String(rest[..<space])
            rest = rest[space...].drop { $0 == " " }
            guard rest.hasPrefix("eq '") else { throw BadFilter() }
            rest = rest.dropFirst(4)
            var value = ""
            while true {
                guard let q = rest.firstIndex(of: "'") else { throw BadFilter() }
                value += rest[..<q]
                rest = rest[rest.index(after: q)...]
                if rest.hasPrefix("'") { value += "'"; rest = rest.dropFirst() } else { break }
            }
            terms.append((field, value))
            rest = rest.drop { $0 == " " }
            if rest.hasPrefix("and ") { rest = rest.dropFirst(4) } else if !rest.isEmpty { throw BadFilter() }
        }
        return rows.filter { row in terms.allSatisfy { "\(row[$0.0] ?? "")" == $0.1 } }
    }

    static func render(_ c: Customer) -> [String: Any] {
        var o: [String: Any] = ["id": c.id, "number": c.number, "displayName": c.displayName, "type": c.type,
                                "@odata.etag": "W/\"\(c.version)\"", "paymentMethodId": c.paymentMethodId ?? "00000000-0000-0000-0000-000000000000"]
        for (k, v) in [("taxRegistrationNumber", c.taxRegistrationNumber), ("email", c.email), ("phoneNumber", c.phoneNumber),
                       ("addressLine1", c.addressLine1), ("city", c.city), ("postalCode", c.postalCode), ("country", c.country),
                       ("currencyCode", c.currencyCode)] {
            o[k] = v ?? ""
        }
        return o
    }

    static func render(_ i: Invoice) -> [String: Any] {
        ["id": i.id, "number": i.number, "externalDocumentNumber": i.externalDocumentNumber, "customerNumber": i.customerNumber,
         "invoiceDate": i.invoiceDate, "postingDate": i.postingDate ?? "0001-01-01", "status": i.status, "salesperson": i.salesperson ?? "",
         "currencyCode": i.currencyCode, "totalAmountIncludingTax": Double(i.totalMinor) / 100, "@odata.etag": "W/\"\(i.version)\"",
         "salesInvoiceLines": i.lines.map(\.rendered)]
    }

    static func minor(_ any: Any?) -> Int64 { Int64((((any as? NSNumber)?.doubleValue ?? 0) * 100).rounded()) }

    func createCustomer(_ o: [String: Any]) -> Response {
        guard let number = o["number"] as? String, !number.isEmpty, let name = o["displayName"] as? String else {
            return error(400, "BadRequest", "number and displayName are required.")
        }
        let result: Customer? = state.withLock { s in
            guard !s.customers.contains(where: { $0.number == number }) else { return nil }
            let c = Customer(id: UUID().uuidString.lowercased(), number: number, displayName: name, type: o["type"] as? String ?? "Person",
                             taxRegistrationNumber: o["taxRegistrationNumber"] as? String, email: o["email"] as? String,
                             phoneNumber: o["phoneNumber"] as? String, addressLine1: o["addressLine1"] as? String, city: o["city"] as? String,
                             postalCode: o["postalCode"] as? String, country: o["country"] as? String, currencyCode: o["currencyCode"] as? String,
                             paymentMethodId: o["paymentMethodId"] as? String)
            s.customers.append(c)
            return c
        }
        guard let c = result else { return error(400, "Internal_EntityWithSameKeyExists", "The record already exists: customer \(number).") }
        return json(201, Self.render(c))
    }

    func patchCustomer(_ id: String, _ o: [String: Any], ifMatch: String?) -> Response {
        enum R { case missing, stale, done(Customer) }
        let r: R = state.withLock { s in
            guard let i = s.customers.firstIndex(where: { $0.id == id }) else { return .missing }
            if let ifMatch, ifMatch != "*", ifMatch != "W/\"\(s.customers[i].version)\"" { return .stale }
            if let m = o["paymentMethodId"] as? String { s.customers[i].paymentMethodId = m }
            s.customers[i].version += 1
            return .done(s.customers[i])
        }
        switch r {
        case .missing: return error(404, "BadRequest_NotFound", "Customer \(id) does not exist.")
        case .stale: return error(412, "Request_EntityChanged", "Another user has modified the record.")
        case .done(let c): return json(200, Self.render(c))
        }
    }

    func createInvoice(_ o: [String: Any], _ context: Context) async throws -> Response {
        enum R { case bad(String), done(Invoice, drop: Bool) }
        let r: R = state.withLock { s in
            guard let customer = o["customerNumber"] as? String, s.customers.contains(where: { $0.number == customer }) else {
                return .bad("The customer \(o["customerNumber"] ?? "") does not exist.")
            }
            if s.faults.blockedCustomers.contains(customer) {
                return .bad("Customer \(customer) is blocked for invoicing (Blocked: Invoice).")
            }
            if let sp = o["salesperson"] as? String, !sp.isEmpty, !s.salespeople.contains(where: { $0.code == sp }) {
                return .bad("The field Salesperson Code contains a value (\(sp)) that cannot be found in the related table (Salesperson/Purchaser).")
            }
            let given = o["salesInvoiceLines"] as? [[String: Any]] ?? []
            var total: Int64 = 0
            var lines: [Line] = []
            for l in given {
                lines.append(Line(lineType: l["lineType"] as? String ?? "", lineObjectNumber: l["lineObjectNumber"] as? String ?? "",
                                  description: l["description"] as? String ?? "", quantity: (l["quantity"] as? NSNumber)?.intValue ?? 1,
                                  unitPrice: (l["unitPrice"] as? NSNumber)?.doubleValue ?? 0, discountAmount: (l["discountAmount"] as? NSNumber)?.doubleValue ?? 0))
                if (l["lineType"] as? String) == "Item", let item = l["lineObjectNumber"] as? String, !s.items.contains(where: { $0.number == item }) {
                    return .bad("The Item \(item) does not exist.")
                }
                total += Self.minor(l["unitPrice"]) * Int64((l["quantity"] as? NSNumber)?.intValue ?? 1) - Self.minor(l["discountAmount"])
            }
            let invoice = Invoice(id: UUID().uuidString.lowercased(), number: "PRV-\(s.nextDraft)",
                                  externalDocumentNumber: o["externalDocumentNumber"] as? String ?? "", customerNumber: customer,
                                  invoiceDate: o["invoiceDate"] as? String ?? "", postingDate: nil, status: "Draft",
                                  salesperson: o["salesperson"] as? String, paymentTermsId: o["paymentTermsId"] as? String,
                                  currencyCode: o["currencyCode"] as? String ?? "", totalMinor: total, lines: lines)
            s.nextDraft += 1
            s.invoices.append(invoice)
            s.creations += 1
            var drop = false
            if s.faults.dropInvoiceReplies > 0 { s.faults.dropInvoiceReplies -= 1; drop = true }
            return .done(invoice, drop: drop)
        }
        switch r {
        case .bad(let message): return error(400, "BadRequest", message)
        case .done(let invoice, let drop):
            if drop {
                // Created, and the answer never arrives: the connection closes.
                try? await context.channel.close()
                throw HTTPError(.internalServerError)
            }
            return json(201, Self.render(invoice))
        }
    }

    static func post(_ s: inout State, _ i: Int) {
        s.invoices[i].status = "Open"
        s.invoices[i].number = "INV-\(s.nextPosted)"
        s.nextPosted += 1
        s.invoices[i].postingDate = ISO8601DateFormatter().string(from: Date()).prefix(10).description
        s.invoices[i].version += 1
    }

    // MARK: Control

    func control(_ request: Request, _ context: Context) async throws -> Response {
        let body = try await request.body.collect(upTo: 8 << 20)
        let o = ((try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any]) ?? [:]
        let action = context.parameters.get("action") ?? ""
        func find(_ s: State) -> Int? {
            if let n = o["number"] as? String { return s.invoices.firstIndex { $0.number == n } }
            if let e = o["externalDocumentNumber"] as? String { return s.invoices.firstIndex { $0.externalDocumentNumber == e } }
            return nil
        }
        switch action {
        case "seed":
            state.withLock { s in
                for v in o["salespeople"] as? [[String: Any]] ?? [] {
                    s.salespeople.append((UUID().uuidString.lowercased(), v["code"] as? String ?? "", v["name"] as? String ?? ""))
                }
                for v in o["paymentTerms"] as? [String] ?? [] { s.paymentTerms.append((UUID().uuidString.lowercased(), v)) }
                for v in o["paymentMethods"] as? [String] ?? [] { s.paymentMethods.append((UUID().uuidString.lowercased(), v)) }
                for v in o["items"] as? [[String: Any]] ?? [] {
                    s.items.append((UUID().uuidString.lowercased(), v["number"] as? String ?? "", v["displayName"] as? String ?? ""))
                }
                for v in o["customers"] as? [[String: Any]] ?? [] {
                    s.customers.append(Customer(id: UUID().uuidString.lowercased(), number: v["number"] as? String ?? "",
                                                displayName: v["displayName"] as? String ?? "", type: "Company",
                                                taxRegistrationNumber: v["taxRegistrationNumber"] as? String, postalCode: v["postalCode"] as? String))
                }
            }
            return json(200, snapshot())
        case "faults":
            func n(_ key: String) -> Int { (o[key] as? NSNumber)?.intValue ?? 0 }
            let faults = Faults(status429: n("status429"), status500: n("status500"), dropInvoiceReplies: n("dropInvoiceReplies"),
                                delayMs: n("delayMs"), retryAfter: o["retryAfter"] == nil ? 1 : n("retryAfter"),
                                blockedCustomers: o["blockedCustomers"] as? [String] ?? [])
            state.withLock { $0.faults = faults }
            return json(200, snapshot())
        case "post", "remind", "pay", "cancel":
            let ok: Bool = state.withLock { s in
                if action == "post", o["all"] as? Bool == true {
                    for i in s.invoices.indices where s.invoices[i].status == "Draft" { Self.post(&s, i) }
                    return true
                }
                guard let i = find(s) else { return false }
                switch action {
                case "post": guard s.invoices[i].status == "Draft" else { return false }; Self.post(&s, i)
                case "remind": s.invoices[i].reminderLevel = (o["level"] as? NSNumber)?.intValue ?? 1
                case "pay": s.invoices[i].status = "Paid"
                default: s.invoices[i].status = "Canceled"
                }
                s.invoices[i].version += 1
                return true
            }
            return ok ? json(200, snapshot()) : error(404, "NotFound", "no such invoice: \(o)")
        default:
            return error(404, "NotFound", "no control action \(action)")
        }
    }

    /// Everything the server holds and counts, for the tests.
    func snapshot() -> [String: Any] {
        state.withLock { s in
            ["invoices": s.invoices.map(Self.render), "customers": s.customers.map(Self.render),
             "requests": s.requests, "throttled": s.throttled, "creations": s.creations]
        }
    }
}
