import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TCP relay on 127.0.0.1 in front of a server, for fault injection: it can cut a
/// connection after N bytes (in either direction), delay each chunk, or flip one byte of
/// a request body. A fault is armed for the next `requests` HTTP requests that pass through
/// (on any connection, also a kept-alive one), so a retry goes through cleanly.
public final class FaultyRelay: @unchecked Sendable {
    public enum Fault: Sendable {
        case none
        /// Close both sides after this many bytes from the client (request cut mid-way).
        case cutRequestAfter(Int)
        /// Close both sides after this many bytes from the server (the hub applied, the reply is lost).
        case cutResponseAfter(Int)
        /// Sleep before forwarding each chunk.
        case delay(milliseconds: Int)
        /// XOR 0x01 into the request byte this far past the end of the HTTP headers.
        case flipBodyByte(offset: Int)
    }

    public private(set) var port: Int = 0
    private let upstreamPort: Int
    private let listener: Int32
    private let lock = NSLock()
    private var fault: Fault = .none
    private var faultyLeft = 0
    /// Only requests whose first bytes are these take the armed fault (nil: any request).
    private var matching: [UInt8]?
    private var stopped = false
    public private(set) var connections = 0

    public init(upstreamPort: Int) throws {
        self.upstreamPort = upstreamPort
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw RelayError.socket("socket") }
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var addr = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(listener, 64) == 0 else { throw RelayError.socket("bind/listen") }
        var out = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &out) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &len) } }
        port = Int(UInt16(bigEndian: out.sin_port))
        let t = Thread { [weak self] in self?.acceptLoop() }
        t.start()
    }

    /// Arms `fault` for the next `requests` requests, of those that start with `matching`
    /// (`"POST /v1/push"`) when given.
    public func setFault(_ fault: Fault, requests: Int = 1, matching: String? = nil) {
        lock.lock(); self.fault = fault; faultyLeft = requests; self.matching = matching.map { Array($0.utf8) }; lock.unlock()
    }

    /// The fault for a request that starts now with `chunk` (consumes one armed request).
    func takeFault(_ chunk: [UInt8]) -> Fault {
        lock.lock(); defer { lock.unlock() }
        guard faultyLeft > 0 else { return .none }
        if let matching, !chunk.starts(with: matching) { return .none }
        faultyLeft -= 1
        return fault
    }

    public func stop() {
        lock.lock(); stopped = true; lock.unlock()
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    deinit { stop() }

    static func loopback(port: Int) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = in_port_t(UInt16(port).bigEndian)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        return a
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 { return }
            lock.lock()
            if stopped { lock.unlock(); close(client); return }
            connections += 1
            lock.unlock()
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = Self.loopback(port: upstreamPort)
            let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            if ok != 0 { close(client); close(upstream); continue }
            let pair = SocketPair(client: client, upstream: upstream)
            Thread { [self] in pump(from: client, to: upstream, request: true, pair: pair) }.start()
            Thread { [self] in pump(from: upstream, to: client, request: false, pair: pair) }.start()
        }
    }

    final class SocketPair: @unchecked Sendable {
        let client: Int32, upstream: Int32
        private let lock = NSLock()
        private var closed = 0
        private var _fault: Fault = .none
        private var _responseBytes = 0
        /// The fault of the request in flight on this connection.
        var fault: Fault {
            get { lock.lock(); defer { lock.unlock() }; return _fault }
            set { lock.lock(); _fault = newValue; _responseBytes = 0; lock.unlock() }
        }
        /// Adds to the response bytes of the current request; returns the total before.
        func addResponse(_ n: Int) -> Int {
            lock.lock(); defer { lock.unlock() }
            let before = _responseBytes
            _responseBytes += n
            return before
        }
        init(client: Int32, upstream: Int32) { self.client = client; self.upstream = upstream }
        func cut() {
            shutdown(client, Int32(SHUT_RDWR)); shutdown(upstream, Int32(SHUT_RDWR))
        }
        func finished() {
            lock.lock(); closed += 1; let both = closed == 2; lock.unlock()
            if both { close(client); close(upstream) }
        }
    }

    private static let methods = ["GET ", "POST ", "PUT ", "PATCH ", "DELETE ", "HEAD "].map { Array($0.utf8) }

    private func pump(from: Int32, to: Int32, request: Bool, pair: SocketPair) {
        var buffer = [UInt8](repeating: 0, count: 16 << 10)
        var total = 0
        var seen: [UInt8] = []
        var bodyStart: Int?
        var flipped = false
        defer { pair.finished() }
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(from, $0.baseAddress, $0.count, 0) }
            if n <= 0 { shutdown(to, Int32(SHUT_WR)); return }
            var chunk = Array(buffer[0..<n])
            if request, Self.methods.contains(where: { chunk.starts(with: $0) }) {
                // A new request on this connection: arm the next fault and reset the counters.
                pair.fault = takeFault(chunk)
                total = 0; seen = []; bodyStart = nil; flipped = false
            }
            let fault = pair.fault
            let before = request ? total : pair.addResponse(n)
            switch fault {
            case .cutRequestAfter(let limit) where request, .cutResponseAfter(let limit) where !request:
                if before + n >= limit {
                    let keep = max(0, limit - before)
                    _ = send(to, chunk, keep, Int32(MSG_NOSIGNAL))
                    pair.cut()
                    return
                }
            case .delay(let ms):
                usleep(useconds_t(ms * 1000))
            case .flipBodyByte(let offset) where request && !flipped:
                if bodyStart == nil {
                    seen += chunk
                    if let r = Self.findHeaderEnd(seen) { bodyStart = r }
                }
                if let start = bodyStart {
                    let target = start + offset - total
                    if target >= 0 && target < chunk.count { chunk[target] ^= 0x01; flipped = true }
                }
            default:
                break
            }
            total += n
            var sent = 0
            while sent < chunk.count {
                let m = chunk[sent...].withUnsafeBytes { send(to, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if m <= 0 { return }
                sent += m
            }
        }
    }

    static func findHeaderEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
            return i + 4
        }
        return nil
    }
}

public enum RelayError: Error { case socket(String) }
