import Foundation
import HummingbirdCore
import NIOCore
import NIOHTTPTypes
import NIOSSL
import SyncModel

/// What the hub grants one connection, so that clients that connect and then send slowly, or
/// not at all, cannot hold what honest stores need (docs/security.md, "Limits"):
///
/// - `maxConnections`: connections served at once; further ones wait in the listen backlog
///   until one closes.
/// - `idleTimeout`: a connection that completes no request head within this time, or sends
///   nothing for this long in the middle of a body or between requests, is closed.
/// - `requestTimeout`: a request whose body has not fully arrived this long after its head is
///   closed, however steadily it trickles (`RequestReadDeadline`).
/// - `maxReceivingBytes`: bytes of push bodies being received or waiting to be applied, of all
///   connections together; a push that would go beyond gets 503 with `Retry-After` before its
///   body is read (`ReceiveBudget`).
/// - `maxUnauthenticated`, `maxUnauthenticatedPerAddress`, `headTimeout`: connections that have
///   not yet shown a valid token (`UnauthenticatedConnections`): at most this many in all (the
///   oldest is closed for a new one, so the rest of `maxConnections` stays for stores), at most
///   this many from one address (loopback excepted: the hub's own machine), and each must send
///   its first request head within `headTimeout` (a header sent a byte at a time is closed).
public struct HubConnectionLimits: Sendable, Equatable {
    public var maxConnections: Int
    public var idleTimeout: TimeAmount
    public var requestTimeout: TimeAmount
    public var maxReceivingBytes: Int
    public var maxUnauthenticated: Int
    public var maxUnauthenticatedPerAddress: Int
    public var headTimeout: TimeAmount

    /// 512 connections (a chain's stores, each with one or two at a time, and room for the
    /// operator's tools); 30 s idle (a store's request head is a few hundred bytes); 120 s for a
    /// whole request (a store's push is usually under 200 KB, and the largest batch the hub takes,
    /// 8 MiB, then needs 70 KB/s); 64 MiB of bodies at once (eight largest batches, or hundreds of
    /// stores' usual pushes).
    public static let `default` = HubConnectionLimits(maxConnections: 512, idleTimeout: .seconds(30),
                                                      requestTimeout: .seconds(120), maxReceivingBytes: 64 << 20)

    /// Unauthenticated connections: half of `maxConnections` in all (the other half is the
    /// stores' reserve), 16 from one address, 10 s for the first request head.
    public init(maxConnections: Int, idleTimeout: TimeAmount, requestTimeout: TimeAmount, maxReceivingBytes: Int,
                maxUnauthenticated: Int? = nil, maxUnauthenticatedPerAddress: Int = 16, headTimeout: TimeAmount = .seconds(10)) {
        self.maxConnections = max(1, maxConnections)
        self.idleTimeout = idleTimeout
        self.requestTimeout = requestTimeout
        self.maxReceivingBytes = max(0, maxReceivingBytes)
        self.maxUnauthenticated = max(1, min(maxUnauthenticated ?? self.maxConnections / 2, self.maxConnections))
        self.maxUnauthenticatedPerAddress = max(1, maxUnauthenticatedPerAddress)
        self.headTimeout = headTimeout
    }
}

/// Closes a connection whose request has not been read completely `timeout` after its head
/// arrived. Hummingbird's idle timeout closes a connection that goes quiet; a client that sends
/// one byte a second is never quiet, and would hold its connection (and the body bytes it
/// announced) for as long as it likes.
final class RequestReadDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    let timeout: TimeAmount
    let onClose: @Sendable () -> Void
    private var scheduled: Scheduled<Void>?

    init(timeout: TimeAmount, onClose: @escaping @Sendable () -> Void) {
        self.timeout = timeout
        self.onClose = onClose
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            scheduled?.cancel()
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            let onClose = self.onClose
            scheduled = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
                onClose()
                loopBound.value.close(promise: nil)
            }
        case .end:
            scheduled?.cancel()
            scheduled = nil
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        scheduled?.cancel()
        scheduled = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        scheduled?.cancel()
        scheduled = nil
        context.fireChannelInactive()
    }
}

/// The connections that have not yet shown a valid token, by address: an idle client (one
/// that connects and sends a header byte now and then, and connects again when closed) holds
/// at most `perAddress` of them, and all such clients together at most `total`: a new one
/// beyond it closes the oldest, so they never hold the slots the stores need. A connection
/// leaves the count when a request on it passes the token check (`authenticated`) or it closes.
final class UnauthenticatedConnections: @unchecked Sendable {
    let total: Int, perAddress: Int
    private let lock = NSLock()
    private struct Pending { var address: String; var opened: UInt64; var close: @Sendable () -> Void }
    private var pending: [ObjectIdentifier: Pending] = [:]
    private var byAddress: [String: Int] = [:]
    private var order: UInt64 = 0

    init(total: Int, perAddress: Int) {
        self.total = max(1, total)
        self.perAddress = max(1, perAddress)
    }

    enum Admission: Equatable { case admitted, refused, admittedClosingOldest }

    /// A new connection from `address` (`loopback`: not counted per address). Refused when its
    /// address holds `perAddress` already; admitted otherwise, closing the oldest unauthenticated
    /// connection when `total` are open.
    func open(_ id: ObjectIdentifier, address: String, loopback: Bool, close: @escaping @Sendable () -> Void) -> Admission {
        var evict: (@Sendable () -> Void)?
        let admission: Admission = lock.withLock {
            if !loopback, byAddress[address, default: 0] >= perAddress { return .refused }
            if pending.count >= total, let oldest = pending.min(by: { $0.value.opened < $1.value.opened }) {
                remove(oldest.key)
                evict = oldest.value.close
            }
            order += 1
            pending[id] = Pending(address: address, opened: order, close: close)
            if !loopback { byAddress[address, default: 0] += 1 }
            return evict == nil ? .admitted : .admittedClosingOldest
        }
        evict?()
        return admission
    }

    /// A request on the connection passed the token check: it no longer counts.
    func authenticated(_ id: ObjectIdentifier) { lock.withLock { remove(id) } }

    func closed(_ id: ObjectIdentifier) { lock.withLock { remove(id) } }

    /// Unauthenticated connections open now.
    var count: Int { lock.withLock { pending.count } }

    private func remove(_ id: ObjectIdentifier) {
        guard let p = pending.removeValue(forKey: id) else { return }
        if let n = byAddress[p.address] { byAddress[p.address] = n > 1 ? n - 1 : nil }
    }
}

/// Admits each connection through `UnauthenticatedConnections` and closes one whose first
/// request head has not arrived `headTimeout` after it opened.
final class ConnectionGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    let registry: UnauthenticatedConnections
    let headTimeout: TimeAmount
    let onClose: @Sendable (_ refused: Bool) -> Void
    private var deadline: Scheduled<Void>?
    private var registered = false

    init(registry: UnauthenticatedConnections, headTimeout: TimeAmount, onClose: @escaping @Sendable (_ refused: Bool) -> Void) {
        self.registry = registry
        self.headTimeout = headTimeout
        self.onClose = onClose
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { admit(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        admit(context)
        context.fireChannelActive()
    }

    private func admit(_ context: ChannelHandlerContext) {
        guard !registered else { return }
        registered = true
        let channel = context.channel
        let remote = channel.remoteAddress
        let address = remote?.ipAddress ?? "?"
        let loopback = remote.map { Loopback.isLoopback(host: $0.ipAddress ?? "") } ?? true
        let onClose = self.onClose
        let admission = registry.open(ObjectIdentifier(channel), address: address, loopback: loopback) {
            onClose(false)
            channel.close(promise: nil)
        }
        if admission == .refused {
            onClose(true)
            context.close(promise: nil)
            return
        }
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: headTimeout) {
            onClose(false)
            loopBound.value.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) {
            deadline?.cancel()
            deadline = nil
        }
        context.fireChannelRead(data)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        registry.closed(ObjectIdentifier(context.channel))
        context.fireChannelInactive()
    }
}

/// Bytes of request bodies the hub holds at once, of all connections: a push reserves what its
/// `Content-Length` announces (the largest batch when it announces none) before its body is
/// read, and gives it back when its reply is written.
final class ReceiveBudget: @unchecked Sendable {
    let limit: Int
    private let lock = NSLock()
    private var held = 0
    private var peak = 0

    init(limit: Int) { self.limit = limit }

    /// Reserves `bytes`, or returns false when they do not fit beside what is held.
    func reserve(_ bytes: Int) -> Bool {
        lock.lock(); defer { lock.unlock() }
        guard bytes <= limit - held else { return false }
        held += bytes
        peak = max(peak, held)
        return true
    }

    func release(_ bytes: Int) {
        lock.lock(); defer { lock.unlock() }
        held = max(0, held - bytes)
    }

    /// Bytes held now, and the most held at once since the hub started.
    var bytesHeld: (now: Int, peak: Int) {
        lock.lock(); defer { lock.unlock() }
        return (held, peak)
    }
}

/// The hub's TLS from PEM files (`poshub serve --tls-cert --tls-key`).
public enum HubTLS {
    /// Reads the certificate chain and key now, so a bad file stops the start with its name.
    public static func serverConfiguration(certificateFile: String, keyFile: String) throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        do { chain = try NIOSSLCertificate.fromPEMFile(certificateFile) } catch {
            throw HubError.invalidConfiguration("--tls-cert \(certificateFile): not a readable PEM certificate file (\(error))")
        }
        guard !chain.isEmpty else { throw HubError.invalidConfiguration("--tls-cert \(certificateFile): the file holds no certificate") }
        let key: NIOSSLPrivateKey
        do { key = try NIOSSLPrivateKey(file: keyFile, format: .pem) } catch {
            throw HubError.invalidConfiguration("--tls-key \(keyFile): not a readable PEM private key file (\(error))")
        }
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        return tls
    }
}
