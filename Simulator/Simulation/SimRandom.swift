import Foundation

/// SplitMix64: small, fast and reproducible across platforms (the standard generator is not seedable).
public struct SimRandom: RandomNumberGenerator, Sendable {
    var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self) < p }
}

/// The simulated wall clock shared by hub and nodes: advanced by the simulation, never by real time.
public final class SimClock: @unchecked Sendable {
    private let lock = NSLock()
    private var millis: UInt64

    public init(start: UInt64 = 1_790_000_000_000) { millis = start }

    public func now() -> UInt64 { lock.lock(); defer { lock.unlock() }; return millis }
    public func advance(by ms: UInt64) { lock.lock(); millis += ms; lock.unlock() }
}
