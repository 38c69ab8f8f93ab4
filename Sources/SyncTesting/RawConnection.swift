#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A plain TCP connection to a loopback port, for tests that play a client sending bytes as
/// slowly, or as incompletely, as it likes.
public final class RawConnection: @unchecked Sendable {
    private let lock = NSLock()
    private var fd: Int32

    public enum ReadResult: Equatable, Sendable {
        case data(String)
        /// The other side closed the connection (or reset it).
        case closed
        case timeout
    }

    public init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawConnectionError("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw RawConnectionError("connect to 127.0.0.1:\(port): \(reason)")
        }
    }

    /// Sends `text`; false once the connection is closed.
    @discardableResult
    public func send(_ text: String) -> Bool {
        lock.lock(); defer { lock.unlock() }
        guard fd >= 0 else { return false }
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    /// What arrives within `timeout`: data, the end of the connection, or nothing.
    public func read(timeout: TimeInterval) -> ReadResult {
        lock.lock(); let fd = self.fd; lock.unlock()
        guard fd >= 0 else { return .closed }
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&pfd, 1, Int32(timeout * 1000))
        guard ready > 0 else { return .timeout }
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { return .closed }
        return .data(String(decoding: buffer[0..<n], as: UTF8.self))
    }

    /// Reads until the other side closes the connection or `timeout` passes; true when it closed.
    public func waitForClose(timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            switch read(timeout: max(0.01, deadline.timeIntervalSinceNow)) {
            case .closed: return true
            case .data, .timeout: continue
            }
        }
        return false
    }

    public func close() {
        lock.lock(); defer { lock.unlock() }
        if fd >= 0 { Glibc.close(fd); fd = -1 }
    }

    deinit { close() }
}

public struct RawConnectionError: Error, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}
