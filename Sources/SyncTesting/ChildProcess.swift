import Foundation
#if canImport(Glibc)
import Glibc
#endif

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
    /// The exit code, or 128 + the signal number for a child a signal ended (as a shell reports it).
    public var status: Int32
    public var stdout: String
    public var stderr: String
    public var succeeded: Bool { status == 0 }
}

/// Runs an executable to completion and captures its output.
@discardableResult
public func runCommand(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> CommandResult {
    let child = try ChildProcess(executable, arguments, environment: environment)
    let status = child.waitUntilExit().status
    child.waitForOutput()
    return CommandResult(status: status, stdout: child.stdoutText, stderr: child.stderrText)
}

/// How a child process ended.
public enum ChildExit: Sendable, Equatable {
    case exited(Int32)
    case signalled(Int32)

    /// The exit code, or 128 + the signal number.
    public var status: Int32 {
        switch self {
        case .exited(let code): return code
        case .signalled(let signal): return 128 + signal
        }
    }
}

public enum ChildProcessError: Error, CustomStringConvertible {
    case noHandshake(executable: String, stderr: String)
    case spawnFailed(executable: String, errno: Int32)
    public var description: String {
        switch self {
        case .noHandshake(let e, let err): return "\(e) did not print 'listening on HOST:PORT'; stderr: \(err)"
        case .spawnFailed(let e, let code): return "could not start \(e): \(String(cString: strerror(code)))"
        }
    }
}

/// A child process with its output captured and its peak resident memory readable from /proc.
///
/// Started with `posix_spawn`; one thread per output pipe reads it with blocking `read` until
/// end of file, and one thread waits for the exit with `waitpid`. Foundation's `Process` is
/// not used: its exit monitoring and `FileHandle.readabilityHandler` run on libdispatch event
/// sources, and test processes that started and stopped many children in parallel with NIO
/// sockets crashed inside libdispatch's event loop (SIGSEGV in `_dispatch_event_loop_drain`,
/// with and without the read handlers removed before the pipes closed). swift-subprocess reads
/// on the Swift concurrency pool, which the synchronous waits of these tests would hold up.
/// Plain threads and blocking calls have neither problem.
public class ChildProcess: @unchecked Sendable {
    /// The child's process id.
    public let pid: pid_t
    public let executable: String
    /// What the reader and waiter threads fill in; they hold this, not the `ChildProcess`, so
    /// that dropping the last reference still kills a child a test left running.
    private let state = ChildState()

    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws {
        self.executable = executable
        // Pipes are made close-on-exec before any other child starts, so that no child holds
        // another child's pipe open (its reader would then never see end of file); `pipe2`
        // is not imported, so the lock makes `pipe` and `fcntl` one step for every spawn here.
        Self.spawnLock.lock()
        defer { Self.spawnLock.unlock() }
        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        guard pipe(&outPipe) == 0 else { throw ChildProcessError.spawnFailed(executable: executable, errno: errno) }
        guard pipe(&errPipe) == 0 else {
            let code = errno
            close(outPipe[0]); close(outPipe[1])
            throw ChildProcessError.spawnFailed(executable: executable, errno: code)
        }
        for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let spawned = Self.spawn(executable, arguments, environment: environment, stdout: outPipe[1], stderr: errPipe[1])
        close(outPipe[1]); close(errPipe[1])
        switch spawned {
        case .success(let pid): self.pid = pid
        case .failure(let error):
            close(outPipe[0]); close(errPipe[0])
            throw error
        }
        state.read(outPipe[0], stdout: true)
        state.read(errPipe[0], stdout: false)
        state.wait(for: pid)
    }

    private static let spawnLock = NSLock()

    private static func spawn(_ executable: String, _ arguments: [String], environment: [String: String]?,
                              stdout: Int32, stderr: Int32) -> Result<pid_t, ChildProcessError> {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Default dispositions and an empty mask: the test process's ignored SIGPIPE and any
        // blocked signal must not carry over into the child.
        var all = sigset_t(), none = sigset_t()
        sigfillset(&all); sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let env = environment ?? ProcessInfo.processInfo.environment
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in argv + envp { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        return rc == 0 ? .success(pid) : .failure(.spawnFailed(executable: executable, errno: rc))
    }

    public var stdoutText: String { state.locked { String(decoding: $0.output, as: UTF8.self) } }
    public var stderrText: String { state.locked { String(decoding: $0.errors, as: UTF8.self) } }

    /// Whether the child has not been seen to exit yet.
    public var isRunning: Bool { state.locked { $0.exit == nil } }

    /// Waits for the exit, up to `timeout`; nil if the child is still running then.
    public func waitUntilExit(timeout: TimeInterval) -> ChildExit? {
        state.await(until: Date().addingTimeInterval(timeout)) { $0.exit }
    }

    /// Waits for the exit.
    @discardableResult
    public func waitUntilExit() -> ChildExit {
        state.await(until: nil) { $0.exit }!
    }

    /// Waits until both output pipes reached end of file (every process holding them exited).
    public func waitForOutput() {
        _ = state.await(until: nil) { $0.openPipes == 0 ? true : nil }
    }

    /// Sends `signal` unless the child has already been reaped (its pid may be reused then).
    public func send(_ signal: Int32) {
        state.locked { if $0.exit == nil { _ = Glibc.kill(pid, signal) } }
    }

    /// Peak resident memory (VmHWM) in KiB, as last sampled while the process ran.
    @discardableResult
    public func peakResidentKiB() -> Int {
        if let s = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) {
            for line in s.split(separator: "\n") where line.hasPrefix("VmHWM:") {
                if let v = Int(line.split(separator: " ").dropFirst().first { !$0.isEmpty } ?? "") {
                    state.locked { $0.peak = max($0.peak, v) }
                }
            }
        }
        return state.locked { $0.peak }
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
            if !isRunning { break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw ChildProcessError.noHandshake(executable: executable, stderr: stderrText)
    }

    /// Waits for the process to exit, sampling its peak memory every 20 ms; returns the exit
    /// status as soon as it has exited (a benchmark times it: a sleep between samples would add
    /// up to 20 ms to every measured run).
    public func waitWhileSampling() -> Int32 {
        peakResidentKiB()
        while true {
            if let ended = waitUntilExit(timeout: 0.02) { return ended.status }
            peakResidentKiB()
        }
    }

    /// SIGTERM, then wait (SIGKILL after 5 s).
    public func stop() {
        guard isRunning else { return }
        send(SIGTERM)
        if waitUntilExit(timeout: 5) == nil { kill() }
    }

    /// SIGKILL: the crash case.
    public func kill() {
        send(SIGKILL)
        waitUntilExit()
    }

    deinit {
        if isRunning { kill() }
    }
}

/// The output, exit and memory peak of one child, filled in by its reader and waiter threads.
private final class ChildState: @unchecked Sendable {
    private let condition = NSCondition()
    var output: [UInt8] = []
    var errors: [UInt8] = []
    var openPipes = 2
    var exit: ChildExit?
    var peak = 0

    func locked<T>(_ body: (ChildState) -> T) -> T {
        condition.lock(); defer { condition.unlock() }
        return body(self)
    }

    /// Waits until `value` gives non-nil, or `deadline` passes (nil: no deadline;
    /// `NSCondition.wait(until: .distantFuture)` traps converting the date).
    func await<T>(until deadline: Date?, _ value: (ChildState) -> T?) -> T? {
        condition.lock(); defer { condition.unlock() }
        while true {
            if let v = value(self) { return v }
            if let deadline {
                if !condition.wait(until: deadline) { return value(self) }
            } else {
                condition.wait()
            }
        }
    }

    private func update(_ body: (ChildState) -> Void) {
        condition.lock(); body(self); condition.broadcast(); condition.unlock()
    }

    /// Reads `fd` to end of file on a thread of its own, then closes it.
    func read(_ fd: Int32, stdout: Bool) {
        Thread { [self] in
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    update { if stdout { $0.output += chunk[0..<n] } else { $0.errors += chunk[0..<n] } }
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            close(fd)
            update { $0.openPipes -= 1 }
        }.start()
    }

    /// Waits for `pid` to exit on a thread of its own.
    func wait(for pid: pid_t) {
        Thread { [self] in
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import as functions.
            let ended: ChildExit = (status & 0x7f) == 0 ? .exited((status >> 8) & 0xff) : .signalled(status & 0x7f)
            update { $0.exit = ended }
        }.start()
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
