import Foundation
import HummingbirdCore
import NIOCore
import NIOHTTPTypes
import NIOSSL

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
public struct HubConnectionLimits: Sendable, Equatable {
    public var maxConnections: Int
    public var idleTimeout: TimeAmount
    public var requestTimeout: TimeAmount
    public var maxReceivingBytes: Int

    /// 512 connections (a chain's stores, each with one or two at a time, and room for the
    /// operator's tools); 30 s idle (a store's request head is a few hundred bytes); 120 s for a
    /// whole request (a store's push is usually under 200 KB, and the largest batch the hub takes,
    /// 8 MiB, then needs 70 KB/s); 64 MiB of bodies at once (eight largest batches, or hundreds of
    /// stores' usual pushes).
    public static let `default` = HubConnectionLimits(maxConnections: 512, idleTimeout: .seconds(30),
                                                      requestTimeout: .seconds(120), maxReceivingBytes: 64 << 20)

    public init(maxConnections: Int, idleTimeout: TimeAmount, requestTimeout: TimeAmount, maxReceivingBytes: Int) {
        self.maxConnections = max(1, maxConnections)
        self.idleTimeout = idleTimeout
        self.requestTimeout = requestTimeout
        self.maxReceivingBytes = max(0, maxReceivingBytes)
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
