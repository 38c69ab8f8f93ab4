import Foundation

/// A client that holds `connections` connections to the hub, each sending a header byte every
/// second and opened again when the hub closes it: an idle attacker (docs/security.md), for
/// tests and the load benchmark.
public final class IdleClient: @unchecked Sendable {
    public let port: Int, connections: Int
    private let lock = NSLock()
    private var stopped = false, started = false, openedCount = 0
    private let done = DispatchSemaphore(value: 0)

    public init(port: Int, connections: Int) { self.port = port; self.connections = connections }

    private var isStopped: Bool { lock.withLock { stopped } }

    /// Connections opened so far.
    public var opened: Int { lock.withLock { openedCount } }

    /// Starts holding them, on a thread of its own.
    public func start() {
        guard lock.withLock({ () -> Bool in defer { started = true }; return !started }) else { return }
        Thread.detachNewThread { [self] in
            var held: [RawConnection?] = Array(repeating: nil, count: connections)
            while !isStopped {
                for i in held.indices {
                    if held[i] == nil || held[i]!.send("G") == false || held[i]!.read(timeout: 0) == .closed {
                        held[i]?.close()
                        held[i] = try? RawConnection(port: port)
                        if held[i] != nil { lock.withLock { openedCount += 1 } }
                    }
                }
                usleep(1_000_000)
            }
            for c in held { c?.close() }
            done.signal()
        }
    }

    /// Stops and closes every connection (once; later calls return at once); how many were
    /// opened in all.
    @discardableResult
    public func stop() -> Int {
        let wait = lock.withLock { () -> Bool in defer { stopped = true }; return started && !stopped }
        if wait { done.wait() }
        return lock.withLock { openedCount }
    }
}
