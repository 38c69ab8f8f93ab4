import Foundation
import HTTPTypes
import Hummingbird
import SyncModel

/// The local API's token: made when a store is initialised, kept in a file beside the store
/// (`<db>.api-token`) that only the node's user can read, sent by the POS front end as
/// `Authorization: Bearer TOKEN`. `posnode api-token --db DB` prints it.
public enum NodeAPIToken {
    /// The token file of the store at `db`.
    public static func path(forStore db: String) -> String { db + ".api-token" }

    /// The token of the store at `db`, made (and its file written, mode 0600) when there is none.
    public static func load(forStore db: String) throws -> String {
        let file = path(forStore: db)
        if let text = try? String(contentsOfFile: file, encoding: .utf8) {
            let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if !token.isEmpty { return token }
        }
        return try make(forStore: db)
    }

    /// Writes a new token for the store at `db` (replacing any earlier one) and returns it.
    @discardableResult
    public static func make(forStore db: String) throws -> String {
        var generator = SystemRandomNumberGenerator()  // getrandom(2) on Linux
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let token = "posapi_" + bytes.map { String(format: "%02x", $0) }.joined()
        try OwnerOnlyFile.write(token + "\n", to: path(forStore: db))
        return token
    }
}

/// Files only their owner may read: the stores and the token files.
public enum OwnerOnlyFile {
    /// Writes `text` to `path` through a new file of mode 0600, renamed into place.
    public static func write(_ text: String, to path: String) throws {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_CREAT | O_EXCL | O_WRONLY | O_TRUNC, 0o600)
        guard fd >= 0 else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: temporary]) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        close(fd)
        guard written == bytes.count, synced == 0, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
    }
}

/// Who may call the node's local API, checked before any route runs (docs/security.md):
///
/// - the `Host` must be a loopback name (`127.0.0.1`, `localhost`, `[::1]`, with any port), so a
///   page that rebinds its own DNS name to 127.0.0.1 gets 421, not the store's data;
/// - a request that carries an `Origin` must come from a configured origin (`--allow-origin`),
///   which also gets the CORS headers and its preflight answered; any other origin gets 403;
/// - every route but `/health` needs `Authorization: Bearer TOKEN` (scheme case-insensitive)
///   with the store's token (`NodeAPIToken`), else 401;
/// - a body must be `application/json`, else 415: a cross-origin "simple" request
///   (`text/plain`) is refused before it is read.
public struct NodeAPIAccess<Context: RequestContext>: RouterMiddleware {
    let token: [UInt8]
    let allowedOrigins: Set<String>

    public init(token: String, allowedOrigins: [String] = []) {
        self.token = Array(token.utf8)
        self.allowedOrigins = Set(allowedOrigins.map { $0.lowercased() })
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let host = request.head.authority, Self.isLoopbackHost(host) else {
            return NodeServer.apiError(NodeAPIError(error: "the local API answers loopback host names only (127.0.0.1, localhost, [::1])"),
                                   status: .misdirectedRequest)
        }
        let origin = request.headers[.origin]
        if let origin, !allowedOrigins.contains(origin.lowercased()) {
            return NodeServer.apiError(NodeAPIError(error: "requests from origin \(origin) are not allowed (posnode serve --allow-origin)"),
                                   status: .forbidden)
        }
        if request.method == .options, let origin {
            // A preflight of an allowed front end.
            var response = Response(status: .noContent)
            Self.addCORS(&response, origin: origin)
            response.headers[.accessControlAllowMethods] = "GET, POST, PATCH, DELETE"
            response.headers[.accessControlAllowHeaders] = "Authorization, Content-Type"
            response.headers[.accessControlMaxAge] = "600"
            return response
        }
        if request.uri.path != "/health" {
            guard let presented = BearerToken.parse(request.headers[.authorization]), Self.equalInConstantTime(Array(presented.utf8), token) else {
                var response = NodeServer.apiError(NodeAPIError(error: "missing or wrong API token: send Authorization: Bearer TOKEN (posnode api-token --db DB prints it)"),
                                               status: .unauthorized)
                response.headers[.wwwAuthenticate] = "Bearer"
                if let origin { Self.addCORS(&response, origin: origin) }
                return response
            }
        }
        if [.post, .patch, .put].contains(request.method), Self.hasBody(request.headers),
           !Self.isJSON(request.headers[.contentType]) {
            return NodeServer.apiError(NodeAPIError(error: "request bodies must be application/json"), status: .unsupportedMediaType)
        }
        var response = try await next(request, context)
        if let origin { Self.addCORS(&response, origin: origin) }
        return response
    }

    static func addCORS(_ response: inout Response, origin: String) {
        response.headers[.accessControlAllowOrigin] = origin
        response.headers[.vary] = "Origin"
    }

    /// A loopback name (`Loopback.isLoopback`; IPv6 in brackets), with or without a port.
    static func isLoopbackHost(_ authority: String) -> Bool {
        var host = authority.lowercased()
        if host.hasPrefix("[") {
            guard let end = host.firstIndex(of: "]") else { return false }
            let rest = host[host.index(after: end)...]
            guard rest.isEmpty || (rest.hasPrefix(":") && rest.dropFirst().allSatisfy(\.isNumber)) else { return false }
            return Loopback.isLoopback(host: String(host[host.index(after: host.startIndex)..<end]))
        }
        if let colon = host.lastIndex(of: ":") {
            guard host[host.index(after: colon)...].allSatisfy(\.isNumber) else { return false }
            host = String(host[..<colon])
        }
        return Loopback.isLoopback(host: host)
    }

    /// Compares without stopping at the first difference, so the time does not tell how much matched.
    static func equalInConstantTime(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<a.count { difference |= a[i] ^ b[i] }
        return difference == 0
    }

    static func hasBody(_ headers: HTTPFields) -> Bool {
        if headers[.transferEncoding] != nil { return true }
        if let length = headers[.contentLength] { return length != "0" }
        return false
    }

    static func isJSON(_ contentType: String?) -> Bool {
        guard let type = contentType?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() else { return false }
        return type == "application/json"
    }
}
