import Foundation

/// A hybrid logical clock timestamp: milliseconds since 1970 in the high 48 bits and
/// a logical counter in the low 16 bits. Ordered as an integer; ties between nodes are
/// broken by node id (see `MergeOrder` in SyncReconcile).
public struct HLC: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(millis: UInt64, counter: UInt16) { self.rawValue = (millis << 16) | UInt64(counter) }

    public var millis: UInt64 { rawValue >> 16 }
    public var counter: UInt16 { UInt16(truncatingIfNeeded: rawValue) }

    public static func < (lhs: HLC, rhs: HLC) -> Bool { lhs.rawValue < rhs.rawValue }
    public static let zero = HLC(rawValue: 0)

    public var description: String { "\(millis).\(counter)" }

    public init(from decoder: Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(UInt64.self)
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    /// The next timestamp after `last` for a local event at wall time `nowMillis`.
    public static func tick(last: HLC, nowMillis: UInt64) -> HLC {
        if nowMillis > last.millis { return HLC(millis: nowMillis, counter: 0) }
        if last.counter == UInt16.max { return HLC(millis: last.millis + 1, counter: 0) }
        return HLC(millis: last.millis, counter: last.counter + 1)
    }

    /// The next timestamp after receiving `remote` (keeps local clocks ahead of what they saw).
    public static func receive(last: HLC, remote: HLC, nowMillis: UInt64) -> HLC {
        let base = max(last, remote)
        return tick(last: base, nowMillis: nowMillis)
    }

    public static var nowMillis: UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }
}
