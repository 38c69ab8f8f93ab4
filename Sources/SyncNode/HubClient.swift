import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SyncModel
import SyncStore
import SyncWire

/// A failure talking to the hub, with what the operator needs to act on it.
public enum HubClientError: Error, Sendable, CustomStringConvertible {
    case notConfigured
    case unreachable(url: String, underlying: String)
    case refused(status: Int, message: String, nextExpected: Int64?)
    /// A batch refused for holding more entries than the hub takes (`maxEntries`).
    case batchTooLarge(maxEntries: Int, message: String)
    case badReply(String)
    /// The CA file configured for an `https://` hub cannot be used.
    case badCAFile(path: String, reason: String)
    /// A plain `http://` hub on another machine, not allowed (`--insecure-plaintext`).
    case plaintextRefused(url: String)
    /// The hub is busy (503, 429) and named when to come back (`Retry-After`, seconds).
    case busy(status: Int, message: String, retryAfterSeconds: Int)

    public var description: String {
        switch self {
        case .plaintextRefused(let url):
            return "hub \(url) is plain http:// on another machine: this node's token and customer data would cross the network readable; use https:// (with --ca-file), or allow it with 'posnode config set-hub --insecure-plaintext'"
        case .badCAFile(let path, let reason):
            return "CA file \(path) cannot be used: \(reason); set a PEM file of the chain's certificate authorities with 'posnode config set-hub --ca-file FILE'"
        case .notConfigured:
            return "no hub configured for this node; set it with 'posnode init ... --hub URL --token TOKEN'"
        case .unreachable(let url, let reason):
            return "hub \(url) is not reachable: \(reason); the node keeps working offline and sends its changes when the hub answers again"
        case .refused(let status, let message, _):
            return "hub refused the request (HTTP \(status)): \(message)"
        case .busy(let status, let message, let seconds):
            return "hub is busy (HTTP \(status)): \(message); the node tries again in \(seconds) s or later"
        case .batchTooLarge(_, let message):
            return "hub refused the batch (HTTP 400): \(message)"
        case .badReply(let what):
            return "hub sent an unreadable reply: \(what)"
        }
    }

    /// True when retrying later may succeed (hub down, network, 5xx).
    public var isTransient: Bool {
        switch self {
        case .unreachable, .busy: return true
        case .refused(let status, _, _): return status >= 500 || status == 429
        default: return false
        }
    }
}

/// The node's HTTP client for the hub's sync API (docs/sync-protocol.md).
public struct HubClient: Sendable {
    public var baseURL: String
    public var token: String
    public var http: HTTPClient
    /// Largest reply body accepted.
    public var maxReplyBytes: Int
    /// For an `https://` hub: whom its certificate must chain to (nil: the system's trust store).
    public var tls: TLSConfiguration?

    /// The client for all hub calls: a refused connection fails the call at once instead of
    /// retrying until the deadline, so an offline node notices quickly and backs off.
    public static let sharedHTTP: HTTPClient = {
        var config = HTTPClient.Configuration()
        config.timeout = .init(connect: .seconds(3), read: .seconds(120))
        config.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: config)
    }()

    public init(baseURL: String, token: String, tls: TLSConfiguration? = nil, http: HTTPClient = HubClient.sharedHTTP,
                maxReplyBytes: Int = 64 << 20) {
        var url = baseURL
        while url.hasSuffix("/") { url.removeLast() }
        self.baseURL = url
        self.token = token
        self.tls = tls
        self.http = http
        self.maxReplyBytes = maxReplyBytes
    }

    /// The client for a node's configured hub (URL, token and, for `https://`, its CA file).
    public init(config: NodeConfig) throws {
        guard let url = config.hubURL, let token = config.token else { throw HubClientError.notConfigured }
        if !config.insecurePlaintext, HubURLRule.isPlaintextElsewhere(url) { throw HubClientError.plaintextRefused(url: url) }
        self.init(baseURL: url, token: token, tls: try config.hubCAFile.map(Self.tls(caFile:)))
    }

    /// Client TLS that trusts the certificate authorities in the PEM file at `path` only, and
    /// checks the hub's host name against its certificate. Reads the file now, so a missing or
    /// unreadable file is reported as such and not as a failed connection.
    public static func tls(caFile path: String) throws -> TLSConfiguration {
        let roots: [NIOSSLCertificate]
        do { roots = try NIOSSLCertificate.fromPEMFile(path) } catch {
            let reason = FileManager.default.isReadableFile(atPath: path) ? "not a PEM certificate file (\(error))" : "no readable file there"
            throw HubClientError.badCAFile(path: path, reason: reason)
        }
        guard !roots.isEmpty else { throw HubClientError.badCAFile(path: path, reason: "it holds no certificate") }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(roots)
        tls.certificateVerification = .fullVerification
        tls.minimumTLSVersion = .tlsv12
        return tls
    }

    func send(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, headers: [(String, String)] = [],
              timeout: TimeAmount) async throws -> (status: Int, headers: [String: String], body: [UInt8]) {
        var request = HTTPClientRequest(url: baseURL + path)
        request.tlsConfiguration = tls
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        for (k, v) in headers { request.headers.add(name: k, value: v) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/x-posnode-batch")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        do {
            let response = try await http.execute(request, timeout: timeout)
            let buffer = try await response.body.collect(upTo: maxReplyBytes)
            var hdrs: [String: String] = [:]
            for h in response.headers { hdrs[h.name.lowercased()] = h.value }
            return (Int(response.status.code), hdrs, Array(buffer.readableBytesView))
        } catch let error as HubClientError {
            throw error
        } catch {
            throw HubClientError.unreachable(url: baseURL, underlying: Self.reason(error))
        }
    }

    /// The network failure in a few words ("connection refused"), without the libraries' wrapping.
    static func reason(_ error: Error) -> String {
        if let io = error as? IOError {
            return io.errnoCode == ECONNREFUSED ? "connection refused" : String(cString: strerror(io.errnoCode)).lowercased()
        }
        if let c = error as? NIOConnectionError {
            if let first = c.connectionErrors.first { return reason(first.error) }
            if c.dnsAError != nil || c.dnsAAAAError != nil { return "host \(c.host) not found" }
            return "no connection to \(c.host):\(c.port)"
        }
        if let h = error as? HTTPClientError {
            if h == .connectTimeout { return "no connection within the timeout" }
            if h == .readTimeout || h == .deadlineExceeded { return "no answer within the timeout" }
            if h == .remoteConnectionClosed { return "the connection was closed by the hub" }
            if h == .cancelled { return "the request was cancelled" }
        }
        if error is ChannelError { return "the connection failed" }
        if let ssl = error as? NIOSSLError {
            if case .handshakeFailed = ssl {
                return "TLS handshake failed: the hub's certificate does not verify against the trusted certificate authorities or does not name this host (\(ssl)); nothing was sent"
            }
            return "TLS failed (\(ssl)); nothing was sent"
        }
        if let ssl = error as? NIOSSLExtraError { return "TLS failed: \(ssl); nothing was sent" }
        return String(describing: error)
    }

    func refusal(_ status: Int, _ body: [UInt8], retryAfter: String? = nil) -> HubClientError {
        // The hub is busy and says when to come back (503 or 429 with `Retry-After: SECONDS`).
        if status == 503 || status == 429, let seconds = retryAfter.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }), seconds >= 0 {
            let message = (try? SyncJSON.replyDecoder().decode(HubErrorReply.self, from: Data(body)))?.error ?? "busy"
            return .busy(status: status, message: message, retryAfterSeconds: min(seconds, 3600))
        }
        if let reply = try? SyncJSON.replyDecoder().decode(HubErrorReply.self, from: Data(body)) {
            if let most = reply.maxEntries { return .batchTooLarge(maxEntries: most, message: reply.error) }
            return .refused(status: status, message: reply.error, nextExpected: reply.nextExpected)
        }
        return .refused(status: status, message: String(decoding: body.prefix(300), as: UTF8.self), nextExpected: nil)
    }

    /// Whether a partner code is taken at the hub and which partner already has the Polish
    /// VAT ID (`GET /v1/partner-check`).
    public func partnerCheck(code: String, vatID: String?, country: String?, timeout: TimeAmount = .milliseconds(1500)) async throws -> PartnerCheck {
        var query = URLComponents()
        query.queryItems = [URLQueryItem(name: "code", value: code)]
            + (vatID.map { [URLQueryItem(name: "vat_id", value: $0)] } ?? [])
            + (country.map { [URLQueryItem(name: "country", value: $0)] } ?? [])
        // '+' is a space in a query: send it encoded.
        let encoded = (query.percentEncodedQuery ?? "").replacingOccurrences(of: "+", with: "%2B")
        let r = try await send(.GET, "/v1/partner-check?\(encoded)", timeout: timeout)
        guard r.status == 200 else { throw refusal(r.status, r.body, retryAfter: r.headers["retry-after"]) }
        do { return try SyncJSON.replyDecoder().decode(PartnerCheck.self, from: Data(r.body)) } catch {
            throw HubClientError.badReply("partner check: \(error)")
        }
    }

    /// Pushes one batch; returns the hub's per-entry verdicts.
    public func push(batch: [UInt8], renamesApplied: Int64, pendingAfter: Int? = nil, timeout: TimeAmount = .seconds(60)) async throws -> PushReply {
        var headers = [(SyncHeader.renamesApplied, String(renamesApplied)), (SyncHeader.pushReply, "compact"),
                       (SyncHeader.nodeClock, String(HLC.nowMillis))]
        if let pendingAfter { headers.append((SyncHeader.pendingEntries, String(pendingAfter))) }
        let r = try await send(.POST, "/v1/push", body: batch, headers: headers, timeout: timeout)
        guard r.status == 200 else { throw refusal(r.status, r.body, retryAfter: r.headers["retry-after"]) }
        do { return try SyncJSON.replyDecoder().decode(PushReply.self, from: Data(r.body)) } catch {
            throw HubClientError.badReply("push reply: \(error)")
        }
    }

    /// Pulls the feed after `cursor`; the batch's changes are row images in the hub's order.
    /// `ownThrough` is the last journal sequence this store holds: the hub leaves out rows that
    /// are exactly what this node sent up to there.
    public func pull(cursor: Int64, maxEntries: Int, ownThrough: Int64, timeout: TimeAmount = .seconds(60)) async throws -> (batch: [UInt8], nextCursor: Int64, more: Bool) {
        try await feedPage("pull", "/v1/pull?cursor=\(cursor)&limit=\(maxEntries)&own=\(ownThrough)&format=\(BatchFormat.version)", timeout: timeout)
    }

    /// A page of the hub's snapshot: current images of all records, in bounded pages.
    public func snapshot(cursor: Int64, maxEntries: Int, timeout: TimeAmount = .seconds(120)) async throws -> (batch: [UInt8], nextCursor: Int64, more: Bool) {
        try await feedPage("snapshot", "/v1/snapshot?cursor=\(cursor)&limit=\(maxEntries)&format=\(BatchFormat.version)", timeout: timeout)
    }

    /// The open data-subject cases this node has not answered (`GET /v1/access-requests/open`).
    public func openAccessRequests() async throws -> [AccessRequestNotice] {
        let r = try await send(.GET, "/v1/access-requests/open", timeout: .seconds(30))
        guard r.status == 200 else { throw refusal(r.status, r.body, retryAfter: r.headers["retry-after"]) }
        do { return try SyncJSON.replyDecoder().decode([AccessRequestNotice].self, from: Data(r.body)) } catch {
            throw HubClientError.badReply("open access requests: \(error)")
        }
    }

    /// What the hub still has of this node (`GET /v1/epoch`); nil from a hub without epochs (404).
    public func epochCheck(epoch: String?, cursor: Int64) async throws -> HubEpochCheck? {
        var query = "cursor=\(cursor)"
        if let epoch { query += "&epoch=\(epoch.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? epoch)" }
        let r = try await send(.GET, "/v1/epoch?\(query)", timeout: .seconds(30))
        if r.status == 404 { return nil }
        guard r.status == 200 else { throw refusal(r.status, r.body, retryAfter: r.headers["retry-after"]) }
        do { return try SyncJSON.replyDecoder().decode(HubEpochCheck.self, from: Data(r.body)) } catch {
            throw HubClientError.badReply("epoch check: \(error)")
        }
    }

    /// Sends this node's extract for a case (`POST /v1/access-requests/{case}/extract`).
    public func sendAccessExtract(case id: String, extract: [UInt8]) async throws {
        let path = "/v1/access-requests/\(id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? id)/extract"
        let r = try await send(.POST, path, body: extract, headers: [("Content-Type", "application/json")], timeout: .seconds(60))
        guard r.status == 200 || r.status == 204 else { throw refusal(r.status, r.body, retryAfter: r.headers["retry-after"]) }
    }

    func feedPage(_ what: String, _ path: String, timeout: TimeAmount) async throws -> (batch: [UInt8], nextCursor: Int64, more: Bool) {
        let r = try await send(.GET, path, timeout: timeout)
        guard r.status == 200 else { throw refusal(r.status, r.body, retryAfter: r.headers["retry-after"]) }
        guard let next = r.headers[SyncHeader.nextCursor.lowercased()].flatMap(Int64.init) else {
            throw HubClientError.badReply("\(what) reply without \(SyncHeader.nextCursor)")
        }
        return (r.body, next, r.headers[SyncHeader.more.lowercased()] == "1")
    }
}

/// The rule for a hub's address, one place for the CLI and the sync client: a plain
/// `http://` hub is used on this machine only (loopback) unless the operator allows it.
public enum HubURLRule {
    public static func isPlaintextElsewhere(_ url: String) -> Bool {
        guard let u = URL(string: url), u.scheme?.lowercased() == "http", let host = u.host else { return false }
        return !Loopback.isLoopback(host: host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")))
    }
}

extension HubClientError {
    /// How long the hub asked the node to wait (`Retry-After`), nil when it did not.
    public var retryAfter: Duration? {
        if case .busy(_, _, let seconds) = self { return .seconds(seconds) }
        return nil
    }
}
