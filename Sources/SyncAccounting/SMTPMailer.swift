import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One e-mail: plain text in UTF-8.
public struct MailMessage: Sendable, Hashable {
    public var from: String
    public var to: [String]
    public var subject: String
    public var body: String
    public init(from: String, to: [String], subject: String, body: String) {
        self.from = from; self.to = to; self.subject = subject; self.body = body
    }

    /// The message as SMTP's DATA carries it (RFC 5322): headers, a blank line, the body in
    /// base64 lines (any UTF-8 passes every server), CRLF line ends.
    func rendered(date: Date = Date()) -> String {
        var lines = [
            "From: \(from)",
            "To: \(to.joined(separator: ", "))",
            "Subject: \(Self.encodedWord(subject))",
            "Date: \(Self.rfc5322(date))",
            "Message-ID: <\(UUID().uuidString.lowercased())@poshub>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: base64",
            "",
        ]
        let b64 = Data(body.utf8).base64EncodedString()
        var i = b64.startIndex
        while i < b64.endIndex {
            let j = b64.index(i, offsetBy: 76, limitedBy: b64.endIndex) ?? b64.endIndex
            lines.append(String(b64[i..<j])); i = j
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    /// A header text outside ASCII as an RFC 2047 encoded word.
    static func encodedWord(_ s: String) -> String {
        s.utf8.allSatisfy({ $0 >= 32 && $0 < 127 }) ? s : "=?utf-8?B?\(Data(s.utf8).base64EncodedString())?="
    }

    static func rfc5322(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return f.string(from: date)
    }
}

/// Sends mail over SMTP (RFC 5321: EHLO, MAIL FROM, RCPT TO, DATA, QUIT) to a relay on the
/// chain's network, without authentication or TLS.
///
/// Written by hand: none of the packages this project may depend on speaks SMTP, and the
/// dialogue the connector needs is these five commands. Blocking socket calls on a thread of
/// their own, 30 s timeout per reply.
public struct SMTPMailer: Sendable {
    public var host: String
    public var port: Int
    public var heloName: String = "poshub"
    public var timeoutSeconds: Int = 30

    /// `hostPort`: `host:port`.
    public init(_ hostPort: String) throws {
        let parts = hostPort.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]), (1...65535).contains(port), !parts[0].isEmpty else {
            throw ERPSystemError(.configuration, "'\(hostPort)' is not host:port of an SMTP server (such as 127.0.0.1:25)")
        }
        host = String(parts[0]); self.port = port
    }

    public func send(_ message: MailMessage) async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in
            Thread.detachNewThread {
                do { try self.sendBlocking(message); c.resume() } catch { c.resume(throwing: error) }
            }
        }
    }

    struct Failure: Error, CustomStringConvertible { var description: String }

    func sendBlocking(_ message: MailMessage) throws {
        let fd = try connect()
        defer { close(fd) }
        var reader = LineReader(fd: fd)
        func expect(_ code: Int, after what: String) throws {
            let (got, text) = try reader.reply()
            guard got == code else { throw Failure(description: "SMTP server answered \(got) \(text) to \(what)") }
        }
        func command(_ line: String, expect code: Int) throws {
            try write(fd, line + "\r\n")
            try expect(code, after: line.hasPrefix("RCPT") || line.hasPrefix("MAIL") ? line : String(line.prefix(4)))
        }
        try expect(220, after: "connecting")
        try command("EHLO \(heloName)", expect: 250)
        try command("MAIL FROM:<\(message.from)>", expect: 250)
        for to in message.to { try command("RCPT TO:<\(to)>", expect: 250) }
        try command("DATA", expect: 354)
        let data = message.rendered().split(separator: "\r\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix(".") ? "." + $0 : String($0) }.joined(separator: "\r\n")
        try write(fd, data + ".\r\n")
        try expect(250, after: "the message")
        try? write(fd, "QUIT\r\n")
    }

    func connect() throws -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let first = result else {
            throw Failure(description: "cannot resolve SMTP host \(host)")
        }
        defer { freeaddrinfo(result) }
        var info: UnsafeMutablePointer<addrinfo>? = first
        var lastError = "no address"
        while let a = info {
            let fd = socket(a.pointee.ai_family, a.pointee.ai_socktype, a.pointee.ai_protocol)
            if fd >= 0 {
                var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                if Glibc.connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0 { return fd }
                lastError = String(cString: strerror(errno))
                close(fd)
            }
            info = a.pointee.ai_next
        }
        throw Failure(description: "cannot connect to SMTP server \(host):\(port): \(lastError)")
    }

    func write(_ fd: Int32, _ text: String) throws {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure(description: "SMTP connection lost while sending: \(String(cString: strerror(errno)))") }
            bytes = bytes.dropFirst(n)
        }
    }

    struct LineReader {
        let fd: Int32
        var buffer: [UInt8] = []

        mutating func line() throws -> String {
            while true {
                if let i = buffer.firstIndex(of: 10) {
                    let line = String(decoding: buffer[..<i], as: UTF8.self).trimmingCharacters(in: .newlines)
                    buffer.removeFirst(i + 1)
                    return line
                }
                var chunk = [UInt8](repeating: 0, count: 4096)
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard n > 0 else { throw Failure(description: "SMTP server closed the connection or did not answer in time") }
                buffer += chunk[..<n]
            }
        }

        /// A reply: its code and text; multi-line replies (`250-...`) read to their last line.
        mutating func reply() throws -> (Int, String) {
            while true {
                let l = try line()
                guard l.count >= 3, let code = Int(l.prefix(3)) else { throw Failure(description: "SMTP server sent '\(l)'") }
                if l.count == 3 || l[l.index(l.startIndex, offsetBy: 3)] == " " { return (code, String(l.dropFirst(4))) }
            }
        }
    }
}
