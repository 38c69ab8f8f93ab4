import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ServiceLifecycle
import HummingbirdCore
import HummingbirdTLS
import NIOCore
import NIOSSL
import Prometheus
import SyncModel
import SyncReconcile
import SyncStore
import SyncWire

/// The hub's HTTP API (docs/sync-protocol.md). Every `/v1` call needs the node's bearer token.
public struct HubServer: Sendable {
    public var store: HubStore
    public var limits: BatchLimits
    public var metrics: HubMetrics
    /// Largest feed page served by one pull.
    public var maxPullEntries: Int
    /// Orders a node's overlapping pushes (see `PushReply.window`).
    let gate = PushGate()
    /// Bounds the pushes held at once, of all nodes (see `PushAdmission`).
    let admission = PushAdmission()

    /// What one connection may hold, and for how long (see `HubConnectionLimits`).
    public var connectionLimits: HubConnectionLimits
    /// Bytes of push bodies held at once (`HubConnectionLimits.maxReceivingBytes`).
    let receiving: ReceiveBudget
    /// Connections that have not yet shown a valid token (see `UnauthenticatedConnections`).
    let unauthenticated: UnauthenticatedConnections

    /// Where errors that replies do not describe go (`internalError`).
    public var logger: Logger
    /// Each store's syncing as the console shows it (flushed by `NodeActivityFlusher`).
    public let activity = NodeActivity()
    /// A store not seen for longer than this (seconds) counts as not seen (`poshub serve
    /// --not-seen-after`): in `/metrics`, the console and `poshub node status`.
    public var notSeenAfter: Int = 3600
    /// Routes other modules add (the operator console), after the hub's own.
    public var routeExtensions: [@Sendable (Router<HubRequestContext>) -> Void] = []

    public init(store: HubStore, limits: BatchLimits = .default, metrics: HubMetrics = HubMetrics(), maxPullEntries: Int = 5000,
                connectionLimits: HubConnectionLimits = .default, logger: Logger = Logger(label: "poshub")) {
        self.store = store
        self.logger = logger
        self.connectionLimits = connectionLimits
        self.receiving = ReceiveBudget(limit: connectionLimits.maxReceivingBytes)
        self.unauthenticated = UnauthenticatedConnections(total: connectionLimits.maxUnauthenticated,
                                                         perAddress: connectionLimits.maxUnauthenticatedPerAddress)
        var limits = limits
        // A batch names the kinds this hub replicates.
        limits.kinds = store.kinds
        self.limits = limits
        self.metrics = metrics
        self.maxPullEntries = maxPullEntries
    }

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, userInfo: [CodingUserInfoKey: any Sendable] = [:]) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.userInfo = userInfo
        return jsonBody((try? encoder.encode(value)) ?? Data("{}".utf8), status: status)
    }

    /// A response of JSON already encoded.
    static func jsonBody(_ bytes: some Sequence<UInt8>, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// Every error reply of the hub: the sentence and its machine code (`RefusalCode`; by the
    /// status when the caller names none).
    static func error(_ status: HTTPResponse.Status, _ message: String, code: RefusalCode? = nil, nextExpected: Int64? = nil, maxEntries: Int? = nil) -> Response {
        json(HubErrorReply(error: message, code: code ?? .forStatus(status.code), nextExpected: nextExpected, maxEntries: maxEntries), status: status)
    }

    static func batchResponse(_ bytes: [UInt8], headers: [(String, String)]) -> Response {
        var fields: HTTPFields = [.contentType: "application/x-posnode-batch"]
        for (k, v) in headers { if let name = HTTPField.Name(k) { fields[name] = v } }
        return Response(status: .ok, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    public func buildRouter() -> Router<HubRequestContext> {
        let router = Router(context: HubRequestContext.self)
        // HTTP requests by route and status (swift-metrics; `poshub serve` bootstraps it with
        // this hub's registry).
        router.add(middleware: MetricsMiddleware())
        let server = self
        let health = HealthProbe(store: store)
        router.get("/health") { _, _ in
            guard let problem = await health.problem() else {
                return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
            }
            return Self.error(.serviceUnavailable, problem, code: .unavailable)
        }
        router.get("/metrics") { request, context in
            // Node names, backlogs and clock offsets: for this machine's scraper, or a caller
            // with a node's or an operator's token (docs/security.md).
            if !Self.isLocal(context.remoteAddress) {
                let store = server.store
                let token = BearerToken.parse(request.headers[.authorization])
                let caller = try? await offload { try token.flatMap { try store.caller(token: $0) } }
                if let refusal = Self.metricsRefusal(caller) { return Self.error(refusal.status, refusal.message) }
            }
            let held = server.receiving.bytesHeld
            server.metrics.receivingBytes.set(Double(held.now))
            // Stores by state: the query the console and `poshub node status` show.
            try? server.activity.flush(server.store)
            if let stores = try? server.store.storeOverview(notSeenAfter: server.notSeenAfter) {
                for state in StoreStatus.State.allCases {
                    server.metrics.stores(state: state.rawValue).set(Double(stores.filter { $0.state == state }.count))
                }
            }
            server.metrics.receivingBytesPeak.set(Double(held.peak))
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(string: server.metrics.text())))
        }
        // Every /v1 route runs for an authenticated node only; pushes are counted first, so a
        // push refused for its token counts as a refused push.
        let authenticator = HubAuthenticator(store: store, metrics: metrics, connections: unauthenticated)
        router.group("v1/push").add(middleware: PushCounter(metrics: metrics)).add(middleware: authenticator).post { request, context in
            await server.handlePush(request, node: try context.node)
        }
        let v1 = router.group("v1").add(middleware: authenticator)
        addCentralRoutes(v1)
        addPrivacyRoutes(v1)
        addTransferRoutes(v1)
        v1.get("pull") { request, context in await server.handleFeedPage(request, node: try context.node, snapshot: false) }
        v1.get("snapshot") { request, context in await server.handleFeedPage(request, node: try context.node, snapshot: true) }
        v1.get("epoch") { request, context in
            // What the hub still has of the node (a hub restored to an earlier point).
            let node = try context.node
            let query = request.uri.queryParameters
            let epoch = query.get("epoch").flatMap { $0.isEmpty ? nil : $0 }
            var cursor: Int64 = 0
            if let text = query.get("cursor") {
                guard let n = Int64(text), n >= 0 else { return Self.error(.badRequest, "cursor: '\(text)' is not a feed position (a whole number from 0)") }
                cursor = n
            }
            if let epoch, epoch.count > 64 || !epoch.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) {
                return Self.error(.badRequest, "epoch: not an epoch of this hub (at most 64 letters and digits)")
            }
            let store = server.store, position = cursor
            do { return Self.json(try await offload { try store.epochCheck(node: node.node, epoch: epoch, cursor: position) }) } catch {
                return server.internalError(error, "epoch check")
            }
        }
        v1.get("partners/:code") { request, context in
            // A store's question (and an operator's): an external system's token may not probe
            // which customer codes exist.
            if case .system = try context.requireIdentity() {
                return Self.error(.forbidden, "an external system's token calls the transfer API only")
            }
            let code = PathSegment.decoded(context.parameters.get("code"))
            let store = server.store
            let exists = (try? await offload { try store.partnerExists(code: code) }) ?? false
            return exists ? Self.json(PartnerCodeReply(code: PartnerCode.normalized(code))) : Self.error(.notFound, "partner \(code) does not exist")
        }
        v1.get("partner-check") { request, context in
            if case .system = try context.requireIdentity() {
                return Self.error(.forbidden, "an external system's token calls the transfer API only")
            }
            let query = request.uri.queryParameters
            guard let code = query.get("code"), !code.isEmpty else { return Self.error(.badRequest, "code: is mandatory") }
            let vat = query.get("vat_id"), country = query.get("country")
            let store = server.store
            do { return Self.json(try await offload { try store.partnerCheck(code: code, vatID: vat, country: country) }) } catch {
                return server.internalError(error, "partner check")
            }
        }
        v1.get("audit") { request, context in
            // The records of the caller's region only: audit entries carry customers' old and new values.
            let node = try context.node
            let kindText = request.uri.queryParameters.get("kind")
            let kind = kindText.flatMap(AuditKind.init(rawValue:))
            if let kindText, kind == nil { return Self.error(.badRequest, "kind: '\(kindText)' is not an audit kind (\(AuditKind.list))") }
            let store = server.store
            do { return Self.json(try await offload { try store.audit(kind: kind, region: node.region) }) } catch {
                return server.internalError(error, "audit")
            }
        }
        v1.get("state-hash") { _, context in
            // The digest of what this node replicates: its region's records.
            let node = try context.node
            let store = server.store
            do { return Self.json(StateHashReply(stateHash: try await offload { try store.stateHash(region: node.region) })) } catch {
                return server.internalError(error, "state hash")
            }
        }
        v1.post("moves") { request, context in
            let node = try context.node
            do {
                let body = try await request.body.collect(upTo: 64 << 10)
                var move = try JSONDecoder().decode(MoveRequest.self, from: Data(body.readableBytesView))
                // A node moves customers at its own site only.
                move.site = node.site
                move.currentCode = PartnerCode.normalized(move.currentCode)
                move.newCode = PartnerCode.normalized(move.newCode)
                let store = server.store
                let request = move
                try await offload { try store.move(request) }
                return Self.json(MoveReply())
            } catch let refused as MoveRefused {
                return Self.error(.conflict, refused.description, code: .moveRefused)
            } catch let e as FieldError {
                return Self.error(.badRequest, "move request refused: \(e)", code: e.refusalCode)
            } catch is DecodingError {
                return Self.error(.badRequest, "move request refused: the body is not a move request (current_code, current_seq, new_code, new_seq, from_site)")
            } catch let e as HubError {
                return Self.error(e.status == .conflict || e.status == .serviceUnavailable ? e.status : .badRequest, "move request refused: \(e)", code: e.code)
            } catch {
                return server.internalError(error, "move from node \(node.node)", prefix: "move not carried out")
            }
        }
        for extend in routeExtensions { extend(router) }
        return router
    }

    /// The reply to an error the caller cannot correct: the error itself, with any SQL text,
    /// goes to the hub's log under an id; the reply names the id only.
    func internalError(_ error: Error, _ what: String, prefix: String = "internal error") -> Response {
        let id = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        logger.error("\(what) failed", metadata: ["error_id": "\(id)", "error": "\(error)"])
        return Self.error(.internalServerError, "\(prefix): internal error \(id) (details in the hub's log)")
    }

    /// `offload(work)` (or on `threads`), its time recorded in `histogram` (done or failed).
    /// Seconds since `start` (`DispatchTime.now().uptimeNanoseconds`).
    static func seconds(since start: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds &- start) / 1e9 }

    func timed<T: Sendable>(_ histogram: DurationHistogram, on threads: BackgroundThreads? = nil, _ work: @escaping @Sendable () throws -> T) async throws -> T {
        let timedWork: @Sendable () throws -> T = {
            let start = DispatchTime.now().uptimeNanoseconds
            defer { histogram.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - start)) }
            return try work()
        }
        if let threads { return try await threads.run(timedWork) }
        return try await offload(timedWork)
    }

    func handlePush(_ request: Request, node: HubNode) async -> Response {
        // The body's bytes are reserved before they are read: a hub that holds as many as it
        // takes asks the node to come back (the node retries a 503 at its next round).
        let most = limits.maxCompressedBytes + 4096
        let announced = request.headers[.contentLength].flatMap { Int($0) }.map { min(max($0, 0), most) } ?? most
        guard receiving.reserve(announced) else {
            metrics.pushShed.increment()
            var reply = Self.error(.serviceUnavailable, "hub busy: it is receiving as many batch bytes as it holds at once; nothing applied, send again later", code: .busy)
            reply.headers[.retryAfter] = "5"
            return reply
        }
        defer { receiving.release(announced) }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: most)
        } catch is NIOTooManyBytesError {
            return Self.error(.contentTooLarge, "batch refused: body larger than \(limits.maxCompressedBytes) bytes; nothing applied", code: .tooLarge)
        } catch {
            logger.debug("push body incomplete", metadata: ["node": "\(node.node)", "error": "\(error)"])
            return Self.error(.badRequest, "batch refused: request body incomplete (\(error)); nothing applied", code: .incompleteBody)
        }
        metrics.bytesReceived.increment(by: Int64(body.readableBytes))
        let bytes = Array(body.readableBytesView)
        // A node may send its next push before this one's reply: registered by the range its
        // header names now, so the two are applied in order whichever is decoded first.
        // (A header that names no sensible range goes ungated; the decoder or the store refuses it.)
        let range = (try? BatchCodec.peekHeader(bytes, limits: limits)).flatMap { h in
            h.firstSeq >= 1 && h.firstSeq <= h.lastSeq ? h.firstSeq...h.lastSeq : nil
        }
        // A place among the pushes the hub holds at once, before the push is registered and
        // decoded: a waiting push holds only its compressed body, and a body still arriving
        // (a slow or dead link) holds no place.
        if await admission.enter() { metrics.pushAdmissionWaits.increment() }
        defer { admission.leave() }
        if let range { gate.register(node: node.node, range: range) }
        defer { if let range { gate.leave(node: node.node, range: range) } }
        let header: BatchHeader, entries: PushEntries
        let limits = self.limits
        do {
            // Decoded and prepared here, beside the push that is applying.
            // On the lower-priority decoding threads: under CPU contention the writer goes first.
            (header, entries) = try await timed(metrics.pushDecode, on: .decoding) {
                try HubStore.decodePush(bytes, limits: limits, node: node.node)
            }
        } catch {
            // A batch larger than the hub takes: the reply says how many it takes, so the node sends smaller ones.
            var most: Int?
            var code = RefusalCode.batchCorrupt
            if case BatchError.limitExceeded(let what, _, let limit)? = error as? BatchError {
                code = .tooLarge
                if what == .entries { most = limit }
            }
            return Self.error(.badRequest, String(describing: error), code: code, maxEntries: most)
        }
        guard header.node == node.node else {
            metrics.authFailures.increment()
            return HubError.nodeMismatch(tokenNode: node.node, batchNode: header.node).reply
        }
        let renamesApplied = request.headers[HTTPField.Name(SyncHeader.renamesApplied)!].flatMap { Int64($0) } ?? 0
        var offsetMillis: Int64?
        if let nodeClock = request.headers[HTTPField.Name(SyncHeader.nodeClock)!].flatMap({ Int64($0) }) {
            offsetMillis = nodeClock &- Int64(clamping: HLC.nowMillis)
            metrics.nodeClockOffset(node: node.node).set(Double(offsetMillis!) / 1000)
        }
        let started = DispatchTime.now().uptimeNanoseconds
        let store = self.store
        if let range { await gate.turn(node: node.node, range: range) }
        do {
            var reply = try await timed(metrics.pushApply) {
                try store.push(node: node, entries: entries, renamesApplied: renamesApplied)
            }
            reply.window = PushGate.window
            reply.maxEntries = limits.maxEntries
            // Counted by a switch: a dictionary keyed by outcome hashed its text 5,000 times a push.
            var applied: Int64 = 0, renamed: Int64 = 0, duplicate: Int64 = 0, rejected: Int64 = 0
            for r in reply.results {
                switch r.outcome {
                case .applied: applied += 1
                case .renamed: renamed += 1
                case .duplicate: duplicate += 1
                case .rejected: rejected += 1
                }
            }
            metrics.entriesApplied.increment(by: applied + renamed)
            metrics.entriesRenamed.increment(by: renamed)
            metrics.entriesDuplicate.increment(by: duplicate)
            metrics.entriesRejected.increment(by: rejected)
            let pending = request.headers[HTTPField.Name(SyncHeader.pendingEntries)!].flatMap({ Int64($0) }).flatMap { $0 >= 0 ? $0 : nil }
            if let pending { metrics.nodePendingEntries(node: node.node).set(Double(pending)) }
            activity.pushed(node: node.node, pending: pending, clockOffsetMillis: offsetMillis, refused: rejected,
                            seconds: Self.seconds(since: started))
            // The compact reply form for nodes that ask for it; the full form for first-release nodes.
            let compact = request.headers[HTTPField.Name(SyncHeader.pushReply)!] == "compact"
            return Self.json(reply, userInfo: compact ? [PushReply.compactForm: true] : [:])
        } catch let e as HubError {
            activity.failed(node: node.node, error: e.description)
            return e.reply
        } catch {
            activity.failed(node: node.node, error: "batch not applied: \(error)")
            return internalError(error, "push from node \(node.node)", prefix: "batch not applied")
        }
    }

    /// A page of the feed after `cursor`: a pull, or (from cursor 0) a page of a new node's
    /// snapshot — the feed gives each record once, so both read the same pages.
    func handleFeedPage(_ request: Request, node: HubNode, snapshot: Bool) async -> Response {
        (snapshot ? metrics.snapshotRequests : metrics.pullRequests).increment()
        let cursor = request.uri.queryParameters.get("cursor", as: Int64.self) ?? 0
        let limit = min(max(request.uri.queryParameters.get("limit", as: Int.self) ?? maxPullEntries, 1), maxPullEntries, limits.maxEntries)
        // A pull names the last journal sequence the node holds; a snapshot gets every row.
        let own = snapshot ? nil : request.uri.queryParameters.get("own", as: Int64.self)
        // The newest batch format the node reads; a node that does not say reads version 1.
        let version = BatchFormat.negotiated(request.uri.queryParameters.get("format", as: Int.self))
        let store = self.store
        let started = DispatchTime.now().uptimeNanoseconds
        do {
            let page = try await timed(snapshot ? metrics.snapshot : metrics.pull) { () -> (batch: [UInt8], nextCursor: Int64, more: Bool) in
                let page = try store.feedBatch(after: cursor, limit: limit, own: own.map { (node.node, $0) }, region: node.region, version: version)
                try store.markPulled(node: node.node)
                return page
            }
            metrics.bytesSent.increment(by: Int64(page.batch.count))
            activity.pulled(node: node.node, cursor: page.nextCursor, seconds: Self.seconds(since: started))
            return Self.batchResponse(page.batch, headers: [(SyncHeader.nextCursor, String(page.nextCursor)), (SyncHeader.more, page.more ? "1" : "0")])
        } catch {
            return internalError(error, "\(snapshot ? "snapshot" : "pull") of node \(node.node)", prefix: "\(snapshot ? "snapshot" : "pull") failed")
        }
    }

    /// Builds the application bound to `host`:`port` (0 picks a free port), over TLS when `tls` is
    /// given, with the `connectionLimits`; `onRunning` gets the bound port.
    /// `services` run beside the server and stop after it on shutdown (in reverse order).
    public func application(host: String = "127.0.0.1", port: Int, tls: TLSConfiguration? = nil, services: [any Service] = [],
                            logger: Logger, onRunning: @escaping @Sendable (Int) async -> Void) throws -> some ApplicationProtocol {
        let limits = connectionLimits
        let metrics = self.metrics
        let unauthenticated = self.unauthenticated
        let http = HTTPServerBuilder.http1(configuration: .init(
            additionalChannelHandlers: [
                ConnectionGuard(registry: unauthenticated, headTimeout: limits.headTimeout) { refused in
                    (refused ? metrics.unauthenticatedRefused : metrics.unauthenticatedClosed).increment()
                },
                RequestReadDeadline(timeout: limits.requestTimeout) { metrics.slowRequestsClosed.increment() },
            ],
            idleTimeout: limits.idleTimeout))
        let server = try tls.map { try HTTPServerBuilder.tls(http, tlsConfiguration: $0) } ?? http
        let configuration = ApplicationConfiguration(address: .hostname(host, port: port), serverName: "poshub",
                                                     availableConnectionsDelegate: MaximumAvailableConnections(limits.maxConnections))
        return Application(router: buildRouter(), server: server, configuration: configuration, services: services,
                           onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) }, logger: logger)
    }
}

extension HubServer {
    /// Whether a request came from this machine (a loopback address; an in-process test has none).
    static func isLocal(_ address: SocketAddress?) -> Bool {
        guard let address else { return true }
        return address.ipAddress.map(Loopback.isLoopback(host:)) ?? true
    }

    /// Why `/metrics` is refused to a caller from another machine with this token's caller
    /// (nil: a node's or an operator's token may read it).
    static func metricsRefusal(_ caller: HubCaller?) -> (status: HTTPResponse.Status, message: String)? {
        switch caller {
        case .node?, .operator?: return nil
        case .system?: return (.forbidden, "an external system's token calls the transfer API only")
        case nil: return (.unauthorized, "/metrics from another machine needs a node's or an operator's token")
        }
    }
}

extension FieldError {
    /// The HTTP status of a field's refusal.
    var status: HTTPResponse.Status { code == .conflict ? .conflict : code == .notFound ? .notFound : .badRequest }
}

/// A hub error renders itself: its status, sentence and machine code, one mapping for every
/// route (Hummingbird's `HTTPResponseError`: a route may throw it as it is).
extension HubError: HTTPResponseError {
    public var status: HTTPResponse.Status {
        switch self {
        case .unknownToken: .unauthorized
        case .nodeMismatch: .forbidden
        case .sequenceGap, .nodeExists, .siteInOtherRegion: .conflict
        case .unknownNode: .badRequest
        case .invalid(let field): field.status
        case .notContiguous, .invalidConfiguration, .refused: .badRequest
        case .storeUnavailable: .serviceUnavailable
        }
    }

    /// The refusal's machine code.
    public var code: RefusalCode {
        switch self {
        case .unknownToken: .unauthorized
        case .nodeMismatch: .nodeMismatch
        case .sequenceGap: .sequenceGap
        case .notContiguous: .notContiguous
        case .nodeExists, .siteInOtherRegion: .conflict
        case .unknownNode: .unknownNode
        case .invalid(let field): field.refusalCode
        case .invalidConfiguration, .refused: .invalidRequest
        case .storeUnavailable: .unavailable
        }
    }

    /// The error reply (a sequence gap names the sequence the hub expects).
    var reply: Response {
        var next: Int64?
        if case .sequenceGap(_, let expected, _) = self { next = expected }
        return HubServer.error(status, description, code: code, nextExpected: next)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response { reply }
}
