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

    /// The largest millisecond value the 48 bits hold (the year 10889).
    public static let maxMillis: UInt64 = (1 << 48) - 1

    /// How far a clock value from another process may lead this one's wall clock and still
    /// count: 5 minutes. Far more than tills drift between NTP corrections, even over weeks
    /// offline, and far less than the whole hours of a clock set to local time instead of
    /// UTC or to the wrong day, which are the leads this bound exists for: such a value would
    /// win every concurrent edit for hours and drag every clock that saw it along.
    public static let defaultMaxLeadMillis: UInt64 = 5 * 60 * 1000

    /// The next timestamp after `last` for a local event at wall time `nowMillis`. Never wraps:
    /// at the largest value it stays there.
    public static func tick(last: HLC, nowMillis: UInt64) -> HLC {
        let now = Swift.min(nowMillis, maxMillis)
        if now > last.millis { return HLC(millis: now, counter: 0) }
        if last.counter < UInt16.max { return HLC(millis: last.millis, counter: last.counter + 1) }
        if last.millis < maxMillis { return HLC(millis: last.millis + 1, counter: 0) }
        return last
    }

    /// Whether `value` leads wall time `nowMillis` by more than `maxLead` milliseconds.
    public static func isBeyondBound(_ value: HLC, nowMillis: UInt64, maxLead: UInt64 = defaultMaxLeadMillis) -> Bool {
        let (bound, overflow) = nowMillis.addingReportingOverflow(maxLead)
        return !overflow && value.millis > bound
    }

    /// The next timestamp after receiving `remote` (keeps local clocks ahead of what they
    /// saw). A `remote` beyond `maxLead` of the wall clock is not followed: one wrong clock
    /// must not drag every other along.
    public static func receive(last: HLC, remote: HLC, nowMillis: UInt64, maxLead: UInt64 = defaultMaxLeadMillis) -> HLC {
        let base = isBeyondBound(remote, nowMillis: nowMillis, maxLead: maxLead) ? last : Swift.max(last, remote)
        return tick(last: base, nowMillis: nowMillis)
    }

    public static var nowMillis: UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }
}
