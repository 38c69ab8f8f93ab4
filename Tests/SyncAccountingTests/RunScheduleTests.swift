import Foundation
import SyncAccounting
import SyncHub
import SyncModel
import SyncTesting
import Testing

@Suite("Schedules and the rules without an ERP")
struct RunScheduleTests {
    static func date(_ s: String) -> Date { try! Date(s, strategy: .iso8601) }

    @Test("Mon-Fri 08:00,...,19:00 in Europe/Zurich: the next moments of a week, across the change to winter time")
    func week() throws {
        let s = try RunSchedule(AccountingConfig.defaultSchedule, timeZone: "Europe/Zurich")
        // Friday 2026-10-23 19:30 local: next is Monday 08:00; the clocks went back on Sunday 25 October.
        let friday = Self.date("2026-10-23T17:30:00Z")
        #expect(s.next(after: friday) == Self.date("2026-10-26T07:00:00Z"), "08:00 CET is 07:00 UTC")
        #expect(s.latest(atOrBefore: friday) == Self.date("2026-10-23T17:00:00Z"), "19:00 CEST is 17:00 UTC")
        let week = s.moments(after: Self.date("2026-10-25T00:00:00Z"), through: Self.date("2026-11-01T00:00:00Z"))
        #expect(week.count == 25, "five a day, Monday to Friday")
        #expect(week.first == Self.date("2026-10-26T07:00:00Z") && week.last == Self.date("2026-10-30T18:00:00Z"))
        // Daylight saving in spring: 08:00 CEST is 06:00 UTC.
        #expect(s.next(after: Self.date("2026-03-30T00:00:00Z")) == Self.date("2026-03-30T06:00:00Z"))
    }

    @Test("daily 12:00 runs on weekends too; a time the clock skips runs just after the gap; bad schedules name the part")
    func daily() throws {
        let s = try RunSchedule("daily 12:00", timeZone: "Europe/Zurich")
        #expect(s.next(after: Self.date("2026-12-05T12:00:00Z")) == Self.date("2026-12-06T11:00:00Z"), "Sunday")
        let gap = try RunSchedule("Sun 02:30", timeZone: "Europe/Zurich")
        let spring = try #require(gap.next(after: Self.date("2026-03-28T00:00:00Z")))
        #expect(spring >= Self.date("2026-03-29T01:00:00Z") && spring <= Self.date("2026-03-29T01:30:00Z"), "\(spring)")
        #expect(throws: FieldError.self) { try RunSchedule("Mon-Fri 8h", timeZone: "Europe/Zurich") }
        #expect(throws: FieldError.self) { try RunSchedule("Someday 08:00", timeZone: "Europe/Zurich") }
        #expect(throws: FieldError.self) { try RunSchedule("daily 12:00", timeZone: "Mars/Olympus") }
        let two = try RunSchedule("Mon-Fri 08:00; Sat 09:00", timeZone: "UTC")
        #expect(two.next(after: Self.date("2026-12-05T08:00:00Z")) == Self.date("2026-12-05T09:00:00Z"), "Saturday")
    }

    @Test("installments add up to the amount exactly; the external number fits Business Central's 35 characters")
    func installments() {
        #expect(InvoiceRules.installments(10_000, count: 3) == [3334, 3333, 3333])
        for amount in [1, 99, 100, 12_345, 999_999] as [Int64] {
            for n in 1...12 { #expect(InvoiceRules.installments(amount, count: n).reduce(0, +) == amount) }
        }
        #expect(InvoiceRules.externalNumber(document: "WAW1-I17", installment: 2) == "WAW1-I17/2")
        let long = InvoiceRules.externalNumber(document: String(repeating: "X", count: 40) + "-I1", installment: 12)
        #expect(long.utf8.count <= 35 && long.hasSuffix("/12"))
    }

    @Test("the ERP's states read as invoice and payment status")
    func states() {
        typealias S = InvoiceRules.ERPState
        #expect(InvoiceRules.status(of: [S(stage: .draft)]) == (.provisional, .unpaid))
        #expect(InvoiceRules.status(of: [S(stage: .posted), S(stage: .draft)]) == (.provisional, .unpaid))
        #expect(InvoiceRules.status(of: [S(stage: .posted)]) == (.invoice, .unpaid))
        #expect(InvoiceRules.status(of: [S(stage: .posted, reminderLevel: 1)]) == (.reminder, .unpaid))
        #expect(InvoiceRules.status(of: [S(stage: .posted, reminderLevel: 2), S(stage: .paid)]) == (.dunning1, .unpaid))
        #expect(InvoiceRules.status(of: [S(stage: .posted, reminderLevel: 4)]) == (.dunning3, .unpaid))
        #expect(InvoiceRules.status(of: [S(stage: .paid, reminderLevel: 3), S(stage: .paid)]) == (.dunning2, .paid))
        #expect(InvoiceRules.status(of: [S(stage: .cancelled)]) == (.cancelled, .unpaid))
    }

    @Test("due runs: the latest moment once; moments missed while the hub was down add up to one run")
    func due() throws {
        let world = try World()
        let config = AccountingConfig(baseURL: "http://127.0.0.1:1", company: "C", user: "u", timeZone: "UTC",
                                      schedule: "Mon-Fri 08:00,10:00", articleSchedule: "daily 12:00", smtp: "127.0.0.1:25",
                                      mailFrom: "a@b", mailTo: ["c@d"])
        let monday = Self.date("2026-12-07T10:30:00Z")
        let due = try AccountingSchedule.due(hub: world.hub, config: config, now: monday)
        #expect(due.map(\.job) == [.articles, .invoices])
        #expect(due.last?.slot == Self.date("2026-12-07T10:00:00Z") && due.last?.trigger == "missed")
        let id = try world.hub.beginAccountingRun(job: .invoices, slot: due.last!.slot, trigger: "missed", holder: "t", now: monday)
        try world.hub.finishAccountingRun(id: id, job: .invoices, outcome: "completed", summary: "{}")
        #expect(try AccountingSchedule.due(hub: world.hub, config: config, now: monday).map(\.job) == [.articles])
        let onTime = try AccountingSchedule.due(hub: world.hub, config: config, now: Self.date("2026-12-08T08:00:30Z"))
        #expect(onTime.last?.trigger == "schedule")
    }
}
