import Foundation

/// A child process whose peak resident memory is sampled from /proc while it runs.
final class Child: @unchecked Sendable {
    let process = Process()
    private let out = Pipe(), err = Pipe()
    private let lock = NSLock()
    private var output = Data(), errors = Data()
    private(set) var peakKiB = 0

    init(_ executable: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
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
        try process.run()
    }

    var stdout: String { lock.lock(); defer { lock.unlock() }; return String(decoding: output, as: UTF8.self) }
    var stderr: String { lock.lock(); defer { lock.unlock() }; return String(decoding: errors, as: UTF8.self) }

    /// VmHWM (peak resident set) of the running process, in KiB.
    func sampledPeakKiB() -> Int {
        guard let s = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8) else { return peakKiB }
        for line in s.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            if let v = Int(line.split(separator: " ").dropFirst().first { !$0.isEmpty } ?? "") { peakKiB = max(peakKiB, v) }
        }
        return peakKiB
    }

    func waitForPort(timeout: TimeInterval = 30) throws -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let r = stdout.range(of: "listening on "), let line = stdout[r.upperBound...].split(separator: "\n").first,
               stdout[r.upperBound...].contains("\n"), let colon = line.lastIndex(of: ":"), let port = Int(line[line.index(after: colon)...]) {
                return port
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw BenchError("no 'listening on' from \(process.executableURL?.path ?? ""): \(stderr)")
    }

    /// Waits for exit, sampling peak memory every 20 ms; returns the exit status.
    func waitWhileSampling() -> Int32 {
        while process.isRunning {
            _ = sampledPeakKiB()
            Thread.sleep(forTimeInterval: 0.02)
        }
        process.waitUntilExit()
        Thread.sleep(forTimeInterval: 0.05)
        return process.terminationStatus
    }

    func stop() {
        if process.isRunning { process.terminate(); process.waitUntilExit() }
    }
}
