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

/// A child process with its output captured and its peak resident memory readable from /proc.
public class ChildProcess: @unchecked Sendable {
    public let process = Process()
    private let lock = NSLock()
    private var output = Data()
    private var errors = Data()
    private var peak = 0
    /// Signalled when the process exits (`waitWhileSampling` notices at once, not at its next sample).
    private let exited = DispatchSemaphore(value: 0)
    /// The read ends of stdout and stderr, whose handlers `deinit` removes.
    private var readEnds: [FileHandle] = []

    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws {
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
            self.lock.lock(); self.output += d; self.lock.unlock()
        }
        err.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self, !d.isEmpty else { return }
            self.lock.lock(); self.errors += d; self.lock.unlock()
        }
        readEnds = [out.fileHandleForReading, err.fileHandleForReading]
        let exited = self.exited
        process.terminationHandler = { _ in exited.signal() }
        try process.run()
    }

    public var stdoutText: String { lock.lock(); defer { lock.unlock() }; return String(decoding: output, as: UTF8.self) }
    public var stderrText: String { lock.lock(); defer { lock.unlock() }; return String(decoding: errors, as: UTF8.self) }

    /// Peak resident memory (VmHWM) in KiB, as last sampled while the process ran.
    @discardableResult
    public func peakResidentKiB() -> Int {
        if let s = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8) {
            for line in s.split(separator: "\n") where line.hasPrefix("VmHWM:") {
                if let v = Int(line.split(separator: " ").dropFirst().first { !$0.isEmpty } ?? "") {
                    lock.lock(); peak = max(peak, v); lock.unlock()
                }
            }
        }
        lock.lock(); defer { lock.unlock() }
        return peak
    }

    /// The port of the first `listening on HOST:PORT` line, waiting for it up to `timeout`.
    public func waitForPort(timeout: TimeInterval = 30) throws -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let text = stdoutText
            if let range = text.range(of: "listening on ") {
                let rest = text[range.upperBound...]
                if rest.contains("\n"), let line = rest.split(separator: "\n", maxSplits: 1).first,
                   let colon = line.lastIndex(of: ":"), let port = Int(line[line.index(after: colon)...]) {
                    return port
                }
            }
            if !process.isRunning { break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw ChildProcessError.noHandshake(executable: process.executableURL?.path ?? "", stderr: stderrText)
    }

    /// Waits for the process to exit, sampling its peak memory every 20 ms; returns the exit
    /// status as soon as it has exited (a benchmark times it: a sleep between samples would add
    /// up to 20 ms to every measured run).
    public func waitWhileSampling() -> Int32 {
        peakResidentKiB()
        while exited.wait(timeout: .now() + .milliseconds(20)) == .timedOut {
            peakResidentKiB()
        }
        exited.signal()  // for a later call
        process.waitUntilExit()
        return process.terminationStatus
    }

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

    /// A read handler left in place keeps its dispatch source registered while the handle
    /// closes its descriptor; when another test's socket reuses the number, libdispatch's event
    /// loop crashed the test process (`_dispatch_event_loop_drain`). Removing the handlers
    /// cancels the sources first.
    deinit {
        if process.isRunning { kill() }
        for end in readEnds { end.readabilityHandler = nil }
    }
}

/// A long-running child (poshub serve, posnode serve) that announces `listening on HOST:PORT`
/// on stdout; constructed once it has. Tests stop it in `defer`.
public final class ServerProcess: ChildProcess, @unchecked Sendable {
    public private(set) var port: Int = 0

    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, timeout: TimeInterval = 30) throws {
        try super.init(executable, arguments, environment: environment)
        do {
            port = try waitForPort(timeout: timeout)
        } catch {
            kill()
            throw error
        }
    }

    public var baseURL: String { "http://127.0.0.1:\(port)" }
    /// A node's local API token, set by `Cluster.serveNode`.
    public var apiToken: String?
    /// Requests with this server's API token.
    public var api: TestHTTP { TestHTTP(token: apiToken) }
}

public enum ChildProcessError: Error, CustomStringConvertible {
    case noHandshake(executable: String, stderr: String)
    public var description: String {
        switch self {
        case .noHandshake(let e, let err): return "\(e) did not print 'listening on HOST:PORT'; stderr: \(err)"
        }
    }
}
