import Foundation
import GRDB
import SyncModel
import SyncReconcile
import SyncStore

/// A data-subject request: a case of the chain's privacy team (docs/privacy.md). Access
/// requests (GDPR Art. 15) are answered by a report; the same case can then be erased (Art. 17).
public struct AccessCase: Sendable, Codable, Hashable {
    enum CodingKeys: String, CodingKey {
        case id = "case", received, due, extendedMonths = "extended_months", extensionReason = "extension_reason"
        case identifierKind = "identifier_kind", identifier, partners, note, status, closedAt = "closed_at", answer
        case erasedAt = "erased_at", daysLeft = "days_left"
    }

    public var id: String
    /// The day the request was received (`YYYY-MM-DD`, UTC).
    public var received: String
    /// The day the answer is due: one month after receipt, plus the extension.
    public var due: String
    /// Months the answer was extended by (Art. 12(3): two at most).
    public var extendedMonths: Int
    public var extensionReason: String?
    /// How the person was named: `partner`, `record`, `email`, `national_id` or `vat_id`.
    public var identifierKind: String
    public var identifier: String
    /// The person's records at the hub, named when the case was opened. A hub code names one
    /// record for good (`PersonRecords`); the report and the erasure add the records customer
    /// moves linked to these since.
    public var partners: [String]
    public var note: String?
    /// `open` or `closed`.
    public var status: String
    public var closedAt: String?
    /// How the request was answered (`close --answer`).
    public var answer: String?
    /// When the person's data was erased under this case.
    public var erasedAt: String?
    /// Days until `due` (negative: overdue); listings only.
    public var daysLeft: Int?
}

/// How a data subject is named in a request.
public enum AccessIdentifier: String, Sendable, CaseIterable, Codable {
    /// A code the person's record holds now or held at a store before a rename; refused when
    /// it is or was more than one person's.
    case partner
    /// The record that holds this code now, nothing else.
    case record
    case email, nationalID = "national_id", vatID = "vat_id"
}

extension HubStore {
    // MARK: Cases

    static let caseColumns = "id, received, due, extended_months, extension_reason, identifier_kind, identifier, partners, note, status, closed_at, answer, erased_at"

    /// Opens a case for the person named by `values` of `identifier` (one e-mail, national ID
    /// or VAT ID, or one or more codes), received on `received` (`YYYY-MM-DD`, default today;
    /// not in the future). An e-mail or ID that matches several people, or a code that is or
    /// was more than one person's, is refused with the candidates: the operator names the
    /// person's records by `record` (`PersonRecords`).
    public func addAccessRequest(_ identifier: AccessIdentifier, values: [String], received: String? = nil, note: String? = nil) throws -> AccessCase {
        guard !values.isEmpty, values.allSatisfy({ !$0.trimmingCharacters(in: .whitespaces).isEmpty }) else {
            throw HubError.invalid(FieldError(field: identifier.rawValue, reason: "is empty"))
        }
        if ![.partner, .record].contains(identifier), values.count > 1 {
            throw HubError.invalid(FieldError(field: identifier.rawValue, reason: "give one \(identifier.rawValue), or the person's records by --record"))
        }
        let today = Self.today(clock())
        let day = try received.map { try Self.day($0, field: "received") } ?? today
        guard day <= today else { throw HubError.invalid(FieldError(field: "received", reason: "\(day) is in the future (today is \(today))")) }
        if let note, note.count > 500 { throw HubError.invalid(FieldError(field: "note", reason: "is longer than 500 characters")) }
        return try pool.write { db in
            var codes: [String] = []
            for value in values {
                let found: [String]
                switch identifier {
                case .partner: found = try PersonRecords.resolve(db, code: value)
                case .record:
                    found = try PersonRecords.exact(db, code: value)
                    guard !found.isEmpty else { throw HubError.invalid(FieldError(field: "record", reason: "no customer holds code \(PartnerCode.normalized(value))", code: .notFound)) }
                default:
                    found = try PersonRecords.matching(db, identifier, value)
                    let people = try PersonRecords.people(db, found)
                    if people.count > 1 {
                        let listed = try found.map { code -> String in
                            let p = try ReplicatedTable.partner.fetch(db, key: code).map(Partner.init(fields:))
                            return "\(code) (\(p?.displayName ?? "?"), \(p?.originNode ?? "?"))"
                        }
                        throw HubError.invalid(FieldError(field: identifier.rawValue, reason: "'\(value)' matches \(people.count) customers: \(listed.joined(separator: ", ")); give the person's records by --record CODE"))
                    }
                }
                codes += found.filter { !codes.contains($0) }
            }
            let number = (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM hub_access_request") ?? 0) + 1
            let id = "AR-\(String(format: "%04d", number))"
            let c = AccessCase(id: id, received: day, due: try Self.addMonths(day, 1), extendedMonths: 0, extensionReason: nil,
                               identifierKind: identifier.rawValue, identifier: values.joined(separator: ","), partners: codes, note: note,
                               status: "open", closedAt: nil, answer: nil, erasedAt: nil, daysLeft: nil)
            try db.execute(sql: "INSERT INTO hub_access_request (\(Self.caseColumns)) VALUES (?, ?, ?, 0, NULL, ?, ?, ?, ?, 'open', NULL, NULL, NULL)",
                           arguments: [c.id, c.received, c.due, c.identifierKind, c.identifier, Self.json(codes), note])
            return c
        }
    }

    /// Every case, open ones first by due date (the overdue first), with days left.
    public func accessRequests(includeClosed: Bool = false) throws -> [AccessCase] {
        let today = Self.today(clock())
        return try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.caseColumns) FROM hub_access_request \(includeClosed ? "" : "WHERE status = 'open'") ORDER BY status DESC, due, id")
                .map { row in
                    var c = Self.accessCase(row)
                    if c.status == "open" { c.daysLeft = Self.days(from: today, to: c.due) }
                    return c
                }
        }
    }

    public func accessRequest(_ id: String) throws -> AccessCase {
        try pool.read { try Self.accessCase(db: $0, id) }
    }

    /// Extends the answer's due date by `months` (Art. 12(3): by two months at most in all,
    /// decided within the first month after receipt: an overdue case is not extended).
    public func extendAccessRequest(_ id: String, months: Int, reason: String) throws -> AccessCase {
        guard (1...2).contains(months) else { throw HubError.invalid(FieldError(field: "months", reason: "must be 1 or 2")) }
        guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw HubError.invalid(FieldError(field: "reason", reason: "is mandatory: the person is told why the answer takes longer"))
        }
        return try pool.write { db in
            let c = try Self.openCase(db, id)
            let today = Self.today(clock()), firstMonth = try Self.addMonths(c.received, 1)
            guard today <= firstMonth else {
                throw HubError.invalid(FieldError(field: "case", reason: "case \(id) was received on \(c.received): an extension is decided within the first month (by \(firstMonth)), Art. 12(3); it is \(today)"))
            }
            guard c.extendedMonths + months <= 2 else {
                throw HubError.invalid(FieldError(field: "months", reason: "case \(id) is extended by \(c.extendedMonths) month(s) already; two in all at most (Art. 12(3))"))
            }
            let due = try Self.addMonths(c.received, 1 + c.extendedMonths + months)
            try db.execute(sql: "UPDATE hub_access_request SET due = ?, extended_months = ?, extension_reason = ? WHERE id = ?",
                           arguments: [due, c.extendedMonths + months, reason, id])
            return try Self.accessCase(db: db, id)
        }
    }

    /// Closes a case, recording how it was answered.
    public func closeAccessRequest(_ id: String, answer: String) throws -> AccessCase {
        guard !answer.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw HubError.invalid(FieldError(field: "answer", reason: "is mandatory: how the request was answered"))
        }
        return try pool.write { db in
            _ = try Self.openCase(db, id)
            try db.execute(sql: "UPDATE hub_access_request SET status = 'closed', closed_at = ?, answer = ? WHERE id = ?",
                           arguments: [AuditRecord.iso(millis: clock()), answer, id])
            return try Self.accessCase(db: db, id)
        }
    }

    static func accessCase(db: Database, _ id: String) throws -> AccessCase {
        guard let row = try Row.fetchOne(db, sql: "SELECT \(caseColumns) FROM hub_access_request WHERE id = ?", arguments: [id]) else {
            throw HubError.invalid(FieldError(field: "case", reason: "no case \(id) exists", code: .notFound))
        }
        return accessCase(row)
    }

    static func openCase(_ db: Database, _ id: String) throws -> AccessCase {
        let c = try accessCase(db: db, id)
        guard c.status == "open" else {
            throw HubError.invalid(FieldError(field: "case", reason: "case \(id) was closed on \(c.closedAt ?? "?") (\(c.answer ?? "")); open a new case", code: .conflict))
        }
        return c
    }

    static func accessCase(_ row: Row) -> AccessCase {
        let partners = (try? JSONDecoder().decode([String].self, from: Data((row["partners"] as String? ?? "[]").utf8))) ?? []
        return AccessCase(id: row["id"], received: row["received"], due: row["due"], extendedMonths: row["extended_months"],
                          extensionReason: row["extension_reason"], identifierKind: row["identifier_kind"], identifier: row["identifier"],
                          partners: partners, note: row["note"], status: row["status"], closedAt: row["closed_at"], answer: row["answer"],
                          erasedAt: row["erased_at"], daysLeft: nil)
    }

    // MARK: Dates

    static func day(_ text: String, field: String) throws -> String {
        guard let date = dayFormatter.date(from: text), dayFormatter.string(from: date) == text else {
            throw HubError.invalid(FieldError(field: field, reason: "'\(text)' is not a date YYYY-MM-DD"))
        }
        return text
    }

    static func today(_ millis: UInt64) -> String { String(AuditRecord.iso(millis: millis).prefix(10)) }

    static func addMonths(_ day: String, _ months: Int) throws -> String {
        guard let date = dayFormatter.date(from: day), let later = utcCalendar.date(byAdding: .month, value: months, to: date) else {
            throw HubError.invalid(FieldError(field: "received", reason: "'\(day)' is not a date YYYY-MM-DD"))
        }
        return dayFormatter.string(from: later)
    }

    static func days(from a: String, to b: String) -> Int {
        guard let x = dayFormatter.date(from: a), let y = dayFormatter.date(from: b) else { return 0 }
        return utcCalendar.dateComponents([.day], from: x, to: y).day ?? 0
    }

    static var utcCalendar: Calendar {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        return c
    }

    static var dayFormatter: DateFormatter {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd"
        return f
    }

    static func json(_ codes: [String]) -> String {
        String(decoding: (try? JSONEncoder().encode(codes)) ?? Data("[]".utf8), as: UTF8.self)
    }
}
