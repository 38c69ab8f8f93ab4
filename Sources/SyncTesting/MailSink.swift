import Foundation

/// The package's folder (where `Scripts/` is), found from the built products' folder.
public enum PackageRoot {
    public static var path: String {
        let bin = BuiltProducts.directory
        if let range = bin.range(of: "/.build") { return String(bin[..<range.lowerBound]) }
        return FileManager.default.currentDirectoryPath
    }
}

/// A real SMTP server (aiosmtpd, `Scripts/smtp-sink.py`) on a free loopback port, writing each
/// message it receives into a folder. Python comes from `POS_PYTHON`, else the virtual
/// environment `Scripts/test.sh` makes (`.build-venv`). `stop()` in `defer`.
public final class MailSink: @unchecked Sendable {
    public let folder: String
    public let server: ServerProcess
    public var address: String { "127.0.0.1:\(server.port)" }

    public static var python: String {
        ProcessInfo.processInfo.environment["POS_PYTHON"] ?? PackageRoot.path + "/.build-venv/bin/python"
    }

    public init(folder: String) throws {
        self.folder = folder
        guard FileManager.default.isExecutableFile(atPath: Self.python) else {
            throw ClusterError.commandFailed("no Python with aiosmtpd at \(Self.python): run Scripts/test.sh (it makes .build-venv) or set POS_PYTHON")
        }
        server = try ServerProcess(Self.python, [PackageRoot.path + "/Scripts/smtp-sink.py", folder])
    }

    public func stop() { server.stop() }

    /// One received message: envelope recipients, headers, the decoded body.
    public struct Message: Sendable {
        public var file: String
        public var envelopeTo: [String]
        public var headers: [String: String]
        public var body: String
        public var subject: String { headers["subject"] ?? "" }
    }

    /// The messages received so far, in order.
    public func messages() -> [Message] {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".eml") }.sorted()
        return files.compactMap { f in
            guard let data = FileManager.default.contents(atPath: "\(folder)/\(f)") else { return nil }
            return Self.parse(String(decoding: data, as: UTF8.self), file: f)
        }
    }

    /// Waits until at least `count` messages arrived (at most `timeout` seconds).
    public func waitForMessages(_ count: Int, timeout: TimeInterval = 20) -> [Message] {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let m = messages()
            if m.count >= count || Date() > deadline { return m }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    static func parse(_ text: String, file: String) -> Message {
        let normalized = text.replacingOccurrences(of: "\r\n", with: "\n")
        let parts = normalized.components(separatedBy: "\n\n")
        var headers: [String: String] = [:]
        var last = ""
        for line in (parts.first ?? "").split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix(" ") || line.hasPrefix("\t") { headers[last, default: ""] += " " + line.trimmingCharacters(in: .whitespaces); continue }
            guard let colon = line.firstIndex(of: ":") else { continue }
            last = line[..<colon].lowercased()
            headers[last] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        if let s = headers["subject"], s.hasPrefix("=?utf-8?B?"), s.hasSuffix("?=") {
            let b64 = s.dropFirst("=?utf-8?B?".count).dropLast(2)
            headers["subject"] = Data(base64Encoded: String(b64)).map { String(decoding: $0, as: UTF8.self) } ?? s
        }
        var body = parts.dropFirst().joined(separator: "\n\n")
        if headers["content-transfer-encoding"]?.lowercased() == "base64",
           let data = Data(base64Encoded: body.replacingOccurrences(of: "\n", with: "")) {
            body = String(decoding: data, as: UTF8.self)
        }
        let to = (headers["x-envelope-to"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        return Message(file: file, envelopeTo: to, headers: headers, body: body)
    }
}
