import Hummingbird
import HummingbirdAuth
import NIOCore
import SyncModel
import SyncStore

/// Who called: a store node (its token syncs and reads the central data) or an operator (its
/// token writes the central master data, `poshub operator add`; it cannot push or pull).
public enum HubCaller: Sendable {
    case node(HubNode)
    case `operator`(String)
    /// An external system (`poshub system add`): its token calls the transfer API only.
    case system(String)
}

/// The context of a hub request: after `HubAuthenticator`, the caller whose token came with
/// it; and the address it came from (`/metrics` answers callers on this machine without a token).
public struct HubRequestContext: AuthRequestContext, RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var identity: HubCaller?
    public let remoteAddress: SocketAddress?
    /// The connection, so a request that passes the token check takes it out of the
    /// unauthenticated ones (`UnauthenticatedConnections`).
    let connection: ObjectIdentifier?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        identity = nil
        remoteAddress = source.channel.remoteAddress
        connection = ObjectIdentifier(source.channel)
    }
}

/// Authenticates every `/v1` request by its bearer token (the scheme name in any case, RFC
/// 6750) before a route runs: a missing, unknown or revoked token gets 401 with the hub's
/// error object; a known one puts its node into the context (`context.identity`).
struct HubAuthenticator: AuthenticatorMiddleware {
    typealias Context = HubRequestContext
    typealias Identity = HubCaller

    let store: HubStore
    let metrics: HubMetrics
    var connections: UnauthenticatedConnections?

    func authenticate(request: Request, context: Context) async throws -> HubCaller? {
        guard let token = BearerToken.parse(request.headers[.authorization]) else { return nil }
        return await node(token: token)
    }

    /// The caller of `token`, nil for an unknown or revoked one.
    private func node(token: String) async -> HubCaller? {
        let store = self.store
        return try? await offload { try store.caller(token: token) }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let token = BearerToken.parse(request.headers[.authorization])
        guard let token, let node = await node(token: token) else {
            metrics.authFailures.increment()
            return HubServer.error(.unauthorized, token == nil ? "missing bearer token" : "unknown or revoked token")
        }
        if let id = context.connection { connections?.authenticated(id) }
        var context = context
        context.identity = node
        return try await next(request, context)
    }
}

extension HubRequestContext {
    /// The authenticated node (every `/v1` route runs behind `HubAuthenticator`); an
    /// operator's token is refused (403) on the routes of nodes.
    var node: HubNode {
        get throws {
            guard case .node(let node) = try requireIdentity() else {
                throw HTTPError(.forbidden, message: "an operator's or an external system's token cannot sync or read a node's data; use the node's token")
            }
            return node
        }
    }

    /// The authenticated external system, or 403 for any other token.
    var systemName: String {
        get throws {
            guard case .system(let name) = try requireIdentity() else {
                throw HTTPError(.forbidden, message: "the transfer API is called with an external system's token (poshub system add)")
            }
            return name
        }
    }

    /// The authenticated operator, or 403 for a node's token.
    var operatorName: String {
        get throws {
            guard case .operator(let name) = try requireIdentity() else {
                throw HTTPError(.forbidden, message: "central master data is written with an operator token (poshub operator add); a node's token reads it only")
            }
            return name
        }
    }
}

/// Counts push requests (`poshub_push_requests_total`) and those refused, whatever refused them
/// (`poshub_push_refused_total`: every reply but 2xx and the 503 of a hub that sheds a push,
/// which `poshub_push_shed_total` counts): placed before the authenticator on the push route.
struct PushCounter: RouterMiddleware {
    typealias Context = HubRequestContext
    let metrics: HubMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        metrics.pushRequests.increment()
        do {
            let response = try await next(request, context)
            let code = response.status.code
            if !(200..<300).contains(code) && code != 503 { metrics.pushRefused.increment() }
            return response
        } catch {
            metrics.pushRefused.increment()
            throw error
        }
    }
}
