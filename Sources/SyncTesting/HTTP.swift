import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A small HTTP helper for tests and the harness: loopback requests with JSON or raw bodies.
public struct TestHTTP: Sendable {
    public struct Reply: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: [UInt8]
        public init(status: Int, headers: [String: String], body: [UInt8]) { self.status = status; self.headers = headers; self.body = body }
        public var text: String { String(decoding: body, as: UTF8.self) }
        public func json() throws -> Any { try JSONSerialization.jsonObject(with: Data(body)) }
        public func decode<T: Decodable>(_ type: T.Type) throws -> T { try JSONDecoder().decode(T.self, from: Data(body)) }
    }

    /// Sent as `Authorization: Bearer` with every request that names no `Authorization` itself
    /// (a node's local API token).
    public var token: String?

    /// false: a redirect is answered as it is (a login's 303 and its cookie), not followed.
    public var followsRedirects: Bool

    public init(token: String? = nil, followsRedirects: Bool = true) { self.token = token; self.followsRedirects = followsRedirects }

    /// The client of requests that do not follow redirects.
    static let noRedirects: HTTPClient = {
        var config = HTTPClient.Configuration()
        config.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: config)
    }()

    public func request(_ method: HTTPMethod, _ url: String, body: [UInt8]? = nil, json: Any? = nil,
                        headers: [(String, String)] = [], timeout: TimeAmount = .seconds(30)) async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (k, v) in headers { request.headers.add(name: k, value: v) }
        if let token, !headers.contains(where: { $0.0.lowercased() == "authorization" }) {
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
        }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json)))
        } else if let body {
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await (followsRedirects ? HTTPClient.shared : Self.noRedirects).execute(request, timeout: timeout)
        let buffer = try await response.body.collect(upTo: 256 << 20)
        var hdrs: [String: String] = [:]
        for h in response.headers { hdrs[h.name.lowercased()] = h.value }
        return Reply(status: Int(response.status.code), headers: hdrs, body: Array(buffer.readableBytesView))
    }

    public func get(_ url: String, token: String? = nil) async throws -> Reply {
        try await request(.GET, url, headers: token.map { [("Authorization", "Bearer \($0)")] } ?? [])
    }

    public func post(_ url: String, json: Any) async throws -> Reply {
        try await request(.POST, url, json: json)
    }
}
