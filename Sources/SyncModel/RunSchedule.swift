import Foundation

/// When a recurring job runs: weekdays and times of day in a time zone, written as
/// `Mon-Fri 08:00,10:00,12:00,15:00,19:00` or `daily 12:00`; several groups joined by `;`
/// (`Mon-Fri 08:00,12:00; Sat 09:00`). Times are wall-clock times in the zone, so a run at
/// 08:00 stays at 08:00 across a change of daylight saving time; a time the clock skips (02:30
/// on the night it springs forward) runs at the first moment after the gap, a time that occurs
/// twice runs once, at its first occurrence.
public struct RunSchedule: Sendable, Hashable, CustomStringConvertible {
    public struct Group: Sendable, Hashable {
        /// Weekdays, 1 = Sunday … 7 = Saturday (Foundation's numbering).
        public var weekdays: Set<Int>
        /// Minutes after midnight, sorted.
        public var times: [Int]
    }

    public var groups: [Group]
    public var timeZone: TimeZone
    /// The text it was parsed from, normalised (`description`).
    public let text: String

    static let dayNames = ["sun": 1, "mon": 2, "tue": 3, "wed": 4, "thu": 5, "fri": 6, "sat": 7]

    /// Parses `text` in `timeZone` (an IANA name such as `Europe/Zurich`); the error names the
    /// part it cannot read.
    public init(_ text: String, timeZone zoneName: String, field: String = "schedule") throws {
        guard let zone = TimeZone(identifier: zoneName) else {
            throw FieldError(field: "time_zone", reason: "'\(zoneName)' is not a time zone name such as Europe/Zurich")
        }
        timeZone = zone
        var groups: [Group] = []
        for part in text.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
            let words = part.split(separator: " ", omittingEmptySubsequences: true)
            guard words.count == 2 else {
                throw FieldError(field: field, reason: "'\(part)' is not days and times such as 'Mon-Fri 08:00,10:00' or 'daily 12:00'")
            }
            let days = try Self.days(String(words[0]), field: field)
            let times = try words[1].split(separator: ",").map { try Self.minutes(String($0), field: field) }
            groups.append(Group(weekdays: days, times: Array(Set(times)).sorted()))
        }
        guard !groups.isEmpty else { throw FieldError(field: field, reason: "is empty: give days and times such as 'daily 12:00'") }
        self.groups = groups
        self.text = text.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: "; ")
    }

    public var description: String { "\(text) (\(timeZone.identifier))" }

    static func days(_ word: String, field: String) throws -> Set<Int> {
        if word.lowercased() == "daily" { return Set(1...7) }
        var days = Set<Int>()
        for item in word.split(separator: ",") {
            let ends = item.split(separator: "-").map { $0.lowercased() }
            guard (1...2).contains(ends.count), let from = dayNames[String(ends[0].prefix(3))], ends[0].count >= 3,
                  let to = dayNames[String(ends[ends.count - 1].prefix(3))] else {
                throw FieldError(field: field, reason: "'\(item)' is not a weekday or a range such as Mon-Fri")
            }
            var d = from
            while true { days.insert(d); if d == to { break }; d = d % 7 + 1 }
        }
        return days
    }

    static func minutes(_ word: String, field: String) throws -> Int {
        let parts = word.split(separator: ":")
        guard parts.count == 2, parts[0].count <= 2, parts[1].count == 2, let h = Int(parts[0]), let m = Int(parts[1]),
              (0..<24).contains(h), (0..<60).contains(m) else {
            throw FieldError(field: field, reason: "'\(word)' is not a time of day such as 08:00")
        }
        return h * 60 + m
    }

    private var calendar: Calendar {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = timeZone
        return c
    }

    /// The moments the schedule names on the calendar day of `day` (in the zone), sorted.
    func moments(onDayOf day: Date) -> [Date] {
        let c = calendar
        let weekday = c.component(.weekday, from: day)
        let ymd = c.dateComponents([.year, .month, .day], from: day)
        var found = Set<Date>()
        for g in groups where g.weekdays.contains(weekday) {
            for t in g.times {
                var dc = ymd
                dc.hour = t / 60; dc.minute = t % 60; dc.second = 0
                if let d = c.date(from: dc) { found.insert(d) }
            }
        }
        return found.sorted()
    }

    /// The first moment of the schedule strictly after `date`.
    public func next(after date: Date) -> Date? {
        let c = calendar
        var day = c.startOfDay(for: date)
        for _ in 0..<15 {
            if let d = moments(onDayOf: day).first(where: { $0 > date }) { return d }
            guard let following = c.date(byAdding: .day, value: 1, to: day) else { return nil }
            day = c.startOfDay(for: following.addingTimeInterval(3600 * 3))
        }
        return nil
    }

    /// The last moment of the schedule at or before `date` (the run that is due), looking back
    /// at most a week.
    public func latest(atOrBefore date: Date) -> Date? {
        let c = calendar
        var day = c.startOfDay(for: date)
        for _ in 0..<15 {
            if let d = moments(onDayOf: day).last(where: { $0 <= date }) { return d }
            guard let previous = c.date(byAdding: .day, value: -1, to: day) else { return nil }
            day = c.startOfDay(for: previous.addingTimeInterval(3600 * 3))
        }
        return nil
    }

    /// The moments of the schedule in `(from, through]`, in order.
    public func moments(after from: Date, through end: Date) -> [Date] {
        var out: [Date] = [], at = from
        while let n = next(after: at), n <= end { out.append(n); at = n }
        return out
    }
}
