import Foundation

/// Locates the package's built executables (posnode, poshub) for process tests.
public enum BuiltProducts {
    /// The folder holding the built executables: `POSNODE_BIN_DIR`, else next to the test bundle.
    public static var directory: String {
        if let dir = ProcessInfo.processInfo.environment["POSNODE_BIN_DIR"] { return dir }
        var url = Bundle.main.bundleURL
        for _ in 0..<4 {
            if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("posnode").path) { return url.path }
            url = url.deletingLastPathComponent()
        }
        // Fallback: .build/debug relative to the working directory.
        return FileManager.default.currentDirectoryPath + "/.build/debug"
    }

    public static func path(_ name: String) -> String { "\(directory)/\(name)" }
}

/// The result of a finished command.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    public var succeeded: Bool { status == 0 }
}

/// Runs an executable to completion and captures its output.
@discardableResult
public func runCommand(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> CommandResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    if let environment { p.environment = environment }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = FileHandle.nullDevice
    try p.run()
    // Read both pipes concurrently so a chatty child cannot block on a full pipe.
    let group = DispatchGroup()
    nonisolated(unsafe) var errData = Data()
    group.enter()
    DispatchQueue.global().async { errData = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    p.waitUntilExit()
    return CommandResult(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
}

/// A long-running child (poshub serve, posnode serve) that announces `listening on HOST:PORT`
/// on stdout. Stopped with `stop()` or `kill()`; tests stop it in `defer`.
public final class ServerProcess: @unchecked Sendable {
    public let process: Process
    public private(set) var port: Int = 0
    private let lock = NSLock()
    private var output = ""
    private var errors = ""

    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, timeout: TimeInterval = 30) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        out.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self, !d.isEmpty else { return }
            self.lock.lock(); self.output += String(decoding: d, as: UTF8.self); self.lock.unlock()
        }
        err.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self, !d.isEmpty else { return }
            self.lock.lock(); self.errors += String(decoding: d, as: UTF8.self); self.lock.unlock()
        }
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let port = parsePort() { self.port = port; return }
            if !process.isRunning { break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        let log = stderrText
        kill()
        throw ChildProcessError.noHandshake(executable: executable, stderr: log)
    }

    private func parsePort() -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard let range = output.range(of: "listening on ") else { return nil }
        let rest = output[range.upperBound...]
        guard let line = rest.split(separator: "\n", maxSplits: 1).first, rest.contains("\n"),
              let colon = line.lastIndex(of: ":") else { return nil }
        return Int(line[line.index(after: colon)...])
    }

    public var baseURL: String { "http://127.0.0.1:\(port)" }
    public var stdoutText: String { lock.lock(); defer { lock.unlock() }; return output }
    public var stderrText: String { lock.lock(); defer { lock.unlock() }; return errors }

    /// SIGTERM, then wait (SIGKILL after 5 s).
    public func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning { kill() }
    }

    /// SIGKILL: the crash case.
    public func kill() {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { if process.isRunning { kill() } }
}

public enum ChildProcessError: Error, CustomStringConvertible {
    case noHandshake(executable: String, stderr: String)
    public var description: String {
        switch self {
        case .noHandshake(let e, let err): return "\(e) did not print 'listening on HOST:PORT'; stderr: \(err)"
        }
    }
}
