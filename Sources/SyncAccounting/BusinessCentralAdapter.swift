import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// The connector's ERP adapter for Microsoft Dynamics 365 Business Central's API v2.0:
/// `{base}/companies({company})/customers`, `salespeoplePurchasers`, `paymentTerms`,
/// `paymentMethods`, `items`, `salesInvoices` (created with their `salesInvoiceLines` in one
/// request), and the reminder levels of `invoiceReminders`. HTTP Basic authentication; OData
/// `$filter` and `@odata.nextLink` paging; `If-Match` with the `@odata.etag` on a change;
/// errors read from `{"error": {"code", "message"}}`.
///
/// Retries: a read is retried after a 429 (waiting its `Retry-After`), a 5xx or a broken
/// connection, a few times. A creation is retried after a 429 only (the ERP refused it without
/// acting on it); after a 5xx or a lost reply it is not sent again here: the run looks for the
/// invoice by its external document number first. AsyncHTTPClient resends nothing by itself.
public final class BusinessCentralAdapter: ERPAdapter {
    let base: String
    let authorization: String
    let http: HTTPClient
    let pacer: RequestPacer
    /// The longest wait for one read or creation (the ERP can be slow under load).
    let timeout: TimeAmount
    /// Waits after a 5xx or a broken connection before a read is tried again.
    let backoff: [Double]
    /// How often a 429 is waited out for one request before it is a system error.
    let maxThrottled: Int

    /// `baseURL`: the API root (`https://api.businesscentral.dynamics.com/v2.0/TENANT/ENV/api/v2.0`).
    /// `requestsPer5Minutes` per `windowSeconds` (300) is the ERP's limit the adapter keeps to.
    public init(baseURL: String, company: String, user: String, password: String, requestsPer5Minutes: Int = 6000, windowSeconds: Double = 300,
                http: HTTPClient = BusinessCentralAdapter.sharedHTTP, timeout: TimeAmount = .seconds(60), backoff: [Double] = [0.5, 2, 5], maxThrottled: Int = 20) {
        var root = baseURL
        while root.hasSuffix("/") { root.removeLast() }
        base = "\(root)/companies(\(company))"
        authorization = "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
        self.http = http
        pacer = RequestPacer(limit: requestsPer5Minutes, window: windowSeconds)
        self.timeout = timeout
        self.backoff = backoff
        self.maxThrottled = maxThrottled
    }

    /// The client for ERP calls: a refused connection fails the call at once (the run reports
    /// system error 101) instead of retrying until the deadline; 10 s to connect.
    public static let sharedHTTP: HTTPClient = {
        var config = HTTPClient.Configuration()
        config.timeout = .init(connect: .seconds(10), read: .seconds(120))
        config.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: config)
    }()

    public func counters() async -> (requests: Int, throttled: Int) { (await pacer.requests, await pacer.throttled) }

    // MARK: Requests

    struct Reply { var status: Int; var headers: HTTPHeaders; var body: Data }

    /// One exchange, paced; `repeatable`: a 5xx or a broken connection is tried again.
    func exchange(_ method: HTTPMethod, _ url: String, json: Data? = nil, ifMatch: String? = nil, repeatable: Bool) async throws -> Reply {
        var failures = 0, throttles = 0, throttledWait = 0.0
        while true {
            try await pacer.admit()
            var request = HTTPClientRequest(url: url)
            request.method = method
            request.headers.add(name: "Authorization", value: authorization)
            request.headers.add(name: "Accept", value: "application/json")
            if let ifMatch { request.headers.add(name: "If-Match", value: ifMatch) }
            if let json {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(bytes: json))
            }
            let reply: Reply
            do {
                let response = try await http.execute(request, timeout: timeout)
                let body = try await response.body.collect(upTo: 32 << 20)
                reply = Reply(status: Int(response.status.code), headers: response.headers, body: Data(body.readableBytesView))
            } catch {
                let what = "\(method.rawValue) \(url): \(error)"
                if repeatable, failures < backoff.count {
                    try await Task.sleep(for: .milliseconds(Int(backoff[failures] * 1000))); failures += 1; continue
                }
                if method == .POST, !repeatable {
                    throw ERPSystemError(.replyLost, "the connection closed before the ERP answered a creation", detail: what)
                }
                throw ERPSystemError(.unreachable, "the ERP cannot be reached at \(base)", detail: what)
            }
            switch reply.status {
            case 200..<300: return reply
            case 429:
                let wait = min(max(reply.headers.first(name: "Retry-After").flatMap(Double.init) ?? 5, 0.05), 120)
                throttles += 1
                throttledWait += wait
                // At most 5 minutes of waiting for one request: well inside a run's lease.
                if throttles > maxThrottled || throttledWait > 300 {
                    throw ERPSystemError(.throttled, "the ERP kept refusing requests as too many", detail: "\(method.rawValue) \(url): 429 \(throttles) times, \(Int(throttledWait)) s waited")
                }
                await pacer.throttle(seconds: wait)
                continue
            case 401, 403:
                throw ERPSystemError(.authentication, "the ERP refused the connector's user", detail: "\(method.rawValue) \(url): \(reply.status) \(Self.errorText(reply.body))")
            case 500...:
                if repeatable, failures < backoff.count {
                    try await Task.sleep(for: .milliseconds(Int(backoff[failures] * 1000))); failures += 1; continue
                }
                throw ERPSystemError(.serverError, "the ERP answered with a server error", detail: "\(method.rawValue) \(url): \(reply.status) \(Self.errorText(reply.body))")
            default:
                return reply
            }
        }
    }

    /// The ERP's `{"error": {"code", "message"}}` as `code: message`, else the body's start.
    static func errorText(_ body: Data) -> String {
        if let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any], let error = object["error"] as? [String: Any] {
            return "\(error["code"] ?? ""): \(error["message"] ?? "")"
        }
        return String(decoding: body.prefix(300), as: UTF8.self)
    }

    func object(_ reply: Reply, _ url: String) throws -> [String: Any] {
        guard let object = try? JSONSerialization.jsonObject(with: reply.body) as? [String: Any] else {
            throw ERPSystemError(.unreadable, "the ERP's answer is not JSON", detail: "\(url): \(String(decoding: reply.body.prefix(300), as: UTF8.self))")
        }
        return object
    }

    /// Every entity of a collection, following `@odata.nextLink`.
    func list(_ path: String, filter: String? = nil) async throws -> [[String: Any]] {
        var url = "\(base)/\(path)"
        if let filter { url += "?$filter=" + Self.encode(filter) }
        var out: [[String: Any]] = []
        var pages = 0
        while true {
            let reply = try await exchange(.GET, url, repeatable: true)
            guard reply.status == 200 else {
                throw ERPSystemError(.refused, "the ERP refused a query", detail: "GET \(url): \(reply.status) \(Self.errorText(reply.body))")
            }
            let object = try object(reply, url)
            guard let value = object["value"] as? [[String: Any]] else {
                throw ERPSystemError(.unreadable, "the ERP's list has no value", detail: url)
            }
            out += value
            pages += 1
            guard let next = object["@odata.nextLink"] as? String, pages < 10_000 else { return out }
            url = next
        }
    }

    /// One entity by its id (nil: 404).
    func entity(_ path: String) async throws -> [String: Any]? {
        let url = "\(base)/\(path)"
        let reply = try await exchange(.GET, url, repeatable: true)
        if reply.status == 404 { return nil }
        guard reply.status == 200 else {
            throw ERPSystemError(.refused, "the ERP refused a query", detail: "GET \(url): \(reply.status) \(Self.errorText(reply.body))")
        }
        return try object(reply, url)
    }

    /// An OData string literal: `'` doubled.
    static func literal(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "''") + "'" }

    static func encode(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~'()")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }

    static func text(_ o: [String: Any], _ key: String) -> String? {
        (o[key] as? String).flatMap { $0.isEmpty ? nil : $0 }
    }

    static func minor(_ o: [String: Any], _ key: String) -> Int64 {
        if let n = o[key] as? NSNumber { return Int64((n.doubleValue * 100).rounded()) }
        return 0
    }

    static func decimal(_ minor: Int64) -> Double { Double(minor) / 100 }

    func customer(_ o: [String: Any]) throws -> ERPCustomer {
        guard let id = Self.text(o, "id"), let number = Self.text(o, "number") else {
            throw ERPSystemError(.unreadable, "an ERP customer without id or number", detail: "\(o)")
        }
        let method = Self.text(o, "paymentMethodId")
        return ERPCustomer(id: id, number: number, displayName: Self.text(o, "displayName") ?? "",
                           taxRegistrationNumber: Self.text(o, "taxRegistrationNumber"), postalCode: Self.text(o, "postalCode"),
                           paymentMethodId: method == "00000000-0000-0000-0000-000000000000" ? nil : method,
                           etag: Self.text(o, "@odata.etag"))
    }

    func invoice(_ o: [String: Any]) throws -> ERPInvoice {
        guard let id = Self.text(o, "id"), let number = Self.text(o, "number"), let status = Self.text(o, "status") else {
            throw ERPSystemError(.unreadable, "an ERP invoice without id, number or status", detail: "\(o)")
        }
        return ERPInvoice(id: id, number: number, externalNumber: Self.text(o, "externalDocumentNumber"), status: status,
                          postingDate: Self.text(o, "postingDate"), totalMinor: Self.minor(o, "totalAmountIncludingTax"))
    }

    func codes(_ path: String, codeKey: String = "code") async throws -> [ERPCode] {
        try await list(path).compactMap { o in
            guard let id = Self.text(o, "id"), let code = Self.text(o, codeKey) else { return nil }
            return ERPCode(id: id, code: code, name: Self.text(o, "displayName") ?? Self.text(o, "description") ?? "")
        }
    }

    // MARK: ERPAdapter

    public func customer(number: String) async throws -> ERPCustomer? {
        try await list("customers", filter: "number eq \(Self.literal(number))").first.map(customer)
    }

    public func duplicateCandidates(name: String, postalCode: String?, taxRegistrationNumber: String?) async throws -> [ERPCustomer] {
        var found: [String: ERPCustomer] = [:]
        if let vat = taxRegistrationNumber, !vat.isEmpty {
            for o in try await list("customers", filter: "taxRegistrationNumber eq \(Self.literal(vat))") { let c = try customer(o); found[c.id] = c }
        }
        if let postalCode, !postalCode.isEmpty, !name.isEmpty {
            for o in try await list("customers", filter: "displayName eq \(Self.literal(name)) and postalCode eq \(Self.literal(postalCode))") {
                let c = try customer(o); found[c.id] = c
            }
        }
        return found.values.sorted { $0.number < $1.number }
    }

    public func createCustomer(_ d: ERPCustomerDraft) async throws -> ERPCustomer {
        var body: [String: Any] = ["number": d.number, "displayName": d.displayName, "type": d.taxRegistrationNumber == nil ? "Person" : "Company"]
        if let v = d.taxRegistrationNumber { body["taxRegistrationNumber"] = v }
        if let v = d.email { body["email"] = v }
        if let v = d.phone { body["phoneNumber"] = v }
        if let v = d.street { body["addressLine1"] = v }
        if let v = d.city { body["city"] = v }
        if let v = d.postalCode { body["postalCode"] = v }
        if let v = d.country { body["country"] = v }
        if let v = d.currency { body["currencyCode"] = v }
        if let v = d.paymentMethodId { body["paymentMethodId"] = v }
        let url = "\(base)/customers"
        let reply = try await exchange(.POST, url, json: try JSONSerialization.data(withJSONObject: body, options: .sortedKeys), repeatable: false)
        guard reply.status == 201 || reply.status == 200 else {
            throw ERPSystemError(.refused, "the ERP refused to create customer \(d.number)", detail: "POST \(url): \(reply.status) \(Self.errorText(reply.body))")
        }
        return try customer(try object(reply, url))
    }

    public func setPaymentMethod(id: String, of c: ERPCustomer) async throws {
        let url = "\(base)/customers(\(c.id))"
        let body = try JSONSerialization.data(withJSONObject: ["paymentMethodId": id])
        let reply = try await exchange(.PATCH, url, json: body, ifMatch: c.etag ?? "*", repeatable: true)
        guard (200..<300).contains(reply.status) else {
            throw ERPSystemError(.refused, "the ERP refused the payment method of customer \(c.number)", detail: "PATCH \(url): \(reply.status) \(Self.errorText(reply.body))")
        }
    }

    public func salespeople() async throws -> [ERPCode] { try await codes("salespeoplePurchasers") }
    public func paymentTerms() async throws -> [ERPCode] { try await codes("paymentTerms") }
    public func paymentMethods() async throws -> [ERPCode] { try await codes("paymentMethods") }
    public func items() async throws -> [ERPCode] { try await codes("items", codeKey: "number") }

    public func invoice(externalNumber: String) async throws -> ERPInvoice? {
        try await list("salesInvoices", filter: "externalDocumentNumber eq \(Self.literal(externalNumber))").first.map(invoice)
    }

    public func invoice(id: String) async throws -> ERPInvoice? {
        try await entity("salesInvoices(\(id))").map(invoice)
    }

    public func invoice(number: String) async throws -> ERPInvoice? {
        try await list("salesInvoices", filter: "number eq \(Self.literal(number))").first.map(invoice)
    }

    public func createInvoice(_ d: ERPInvoiceDraft) async throws -> ERPInvoice {
        var body: [String: Any] = ["customerNumber": d.customerNumber, "externalDocumentNumber": d.externalNumber,
                                   "invoiceDate": d.invoiceDate, "currencyCode": d.currency]
        if let v = d.salesperson { body["salesperson"] = v }
        if let v = d.paymentTermsId { body["paymentTermsId"] = v }
        if let b = d.billTo {
            body["billToName"] = b.name
            if let v = b.street { body["billToAddressLine1"] = v }
            if let v = b.city { body["billToCity"] = v }
            if let v = b.postalCode { body["billToPostCode"] = v }
            if let v = b.country { body["billToCountry"] = v }
        }
        body["salesInvoiceLines"] = d.lines.map { l -> [String: Any] in
            ["lineType": l.lineType, "lineObjectNumber": l.objectNumber, "description": l.description,
             "quantity": l.quantity, "unitPrice": Self.decimal(l.unitPriceMinor), "discountAmount": Self.decimal(l.discountMinor)]
        }
        let url = "\(base)/salesInvoices"
        let reply = try await exchange(.POST, url, json: try JSONSerialization.data(withJSONObject: body, options: .sortedKeys), repeatable: false)
        guard reply.status == 201 || reply.status == 200 else {
            throw ERPSystemError(.refused, "the ERP refused invoice \(d.externalNumber)", detail: "POST \(url): \(reply.status) \(Self.errorText(reply.body))")
        }
        return try invoice(try object(reply, url))
    }

    public func reminderLevel(invoiceNumber: String) async throws -> Int {
        let rows = try await list("invoiceReminders", filter: "invoiceNumber eq \(Self.literal(invoiceNumber))")
        return rows.compactMap { ($0["level"] as? NSNumber)?.intValue }.max() ?? 0
    }
}
