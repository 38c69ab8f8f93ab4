import Foundation

/// The simulated wall clock shared by hub and nodes: advanced by the simulation, never by real time.
public final class SimClock: @unchecked Sendable {
    private let lock = NSLock()
    private var millis: UInt64

    public init(start: UInt64 = 1_790_000_000_000) { millis = start }

    public func now() -> UInt64 { lock.lock(); defer { lock.unlock() }; return millis }
    public func advance(by ms: UInt64) { lock.lock(); millis += ms; lock.unlock() }
}
