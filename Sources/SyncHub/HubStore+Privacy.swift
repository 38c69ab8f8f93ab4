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
    /// How the person was named: `partner`, `email`, `national_id` or `vat_id`.
    public var identifierKind: String
    public var identifier: String
    /// The partner codes of the person at the hub when the case was opened.
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
    case partner, email, nationalID = "national_id", vatID = "vat_id"
}

/// The privacy team's statement for one category of data: why it is processed, on which legal
/// basis and for how long (Art. 15(1)(a), (d)). The chain keeps its own in a JSON file
/// (`poshub access-request report --policy FILE`); `PrivacyPolicy.standard` is the default.
public struct PrivacyPolicyEntry: Sendable, Codable, Hashable {
    enum CodingKeys: String, CodingKey { case category, data, purposes, legalBasis = "legal_basis", storagePeriod = "storage_period" }
    public var category: String
    public var data: String
    public var purposes: String
    public var legalBasis: String
    public var storagePeriod: String

    public init(category: String, data: String, purposes: String, legalBasis: String, storagePeriod: String) {
        self.category = category; self.data = data; self.purposes = purposes; self.legalBasis = legalBasis; self.storagePeriod = storagePeriod
    }
}

public enum PrivacyPolicy {
    /// The categories of personal data the system holds and the default statement for each
    /// (docs/privacy.md lists them; a chain replaces them with its own file).
    public static let standard: [PrivacyPolicyEntry] = [
        .init(category: "identity", data: "salutation, first and last name, company name, birth date",
              purposes: "identifying the customer at the till and on documents", legalBasis: "Art. 6(1)(b) GDPR (contract)",
              storagePeriod: "while the customer relationship lasts, then 3 years (limitation period)"),
        .init(category: "identifiers", data: "national ID (PESEL), VAT ID (NIP), identity document, trade register",
              purposes: "invoices and the national checks the tax law asks for", legalBasis: "Art. 6(1)(c) GDPR (legal obligation)",
              storagePeriod: "5 years after the end of the tax year of the last invoice"),
        .init(category: "contact", data: "phone, e-mail", purposes: "contacting the customer about orders and pick-ups",
              legalBasis: "Art. 6(1)(b) GDPR (contract)", storagePeriod: "while the customer relationship lasts"),
        .init(category: "addresses", data: "bill-to and ship-to addresses, addresses at institutions",
              purposes: "delivery, invoicing, institution discounts", legalBasis: "Art. 6(1)(b) GDPR (contract)",
              storagePeriod: "while the customer relationship lasts, then 3 years"),
        .init(category: "documents", data: "receipts, invoices, orders, receivables with their lines and amounts",
              purposes: "sales, accounting, tax", legalBasis: "Art. 6(1)(c) GDPR (legal obligation: tax retention)",
              storagePeriod: "5 years after the end of the tax year; kept after an erasure without personal data"),
        .init(category: "consents", data: "marketing and other consents with their dates", purposes: "proof of consent",
              legalBasis: "Art. 6(1)(a), Art. 7(1) GDPR", storagePeriod: "until withdrawn, then 3 years as proof"),
        .init(category: "attributes", data: "free attributes the chain records", purposes: "as the chain defines them",
              legalBasis: "Art. 6(1)(f) GDPR (legitimate interest)", storagePeriod: "while the customer relationship lasts"),
        .init(category: "memberships", data: "customer category, memberships of institutions", purposes: "prices and discounts",
              legalBasis: "Art. 6(1)(b) GDPR (contract)", storagePeriod: "while the customer relationship lasts"),
    ]

    /// A policy file: a JSON array of entries (`category`, `data`, `purposes`, `legal_basis`,
    /// `storage_period`); every category the system holds must be there.
    public static func load(_ path: String) throws -> [PrivacyPolicyEntry] {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw FieldError(field: "policy", reason: "cannot read \(path): \(error.localizedDescription)")
        }
        let entries: [PrivacyPolicyEntry]
        do { entries = try JSONDecoder().decode([PrivacyPolicyEntry].self, from: data) } catch {
            throw FieldError(field: "policy", reason: "\(path) is not a JSON array of {category, data, purposes, legal_basis, storage_period}")
        }
        let missing = standard.map(\.category).filter { c in !entries.contains { $0.category == c } }
        guard missing.isEmpty else { throw FieldError(field: "policy", reason: "\(path) has no entry for \(missing.joined(separator: ", "))") }
        return entries
    }
}

/// The answer to an access request (Art. 15(1)–(3)), as `poshub access-request report` prints
/// it (JSON) or renders it (`AccessReportHTML`).
public struct AccessReport: Sendable, Codable {
    enum CodingKeys: String, CodingKey {
        case accessCase = "case", generatedAt = "generated_at", found, subjects, policy, categories, recipients
        case externalSystems = "external_systems", stores, notes
    }
    public var accessCase: AccessCase
    public var generatedAt: String
    /// Whether any record of the person was found.
    public var found: Bool
    public var subjects: [AccessSubject]
    /// Purposes, legal basis and storage period of each category of data held.
    public var policy: [PrivacyPolicyEntry]
    /// The categories of personal data held about the person.
    public var categories: [String]
    /// The stores that received the person's records.
    public var recipients: [AccessRecipient]
    /// External systems that sent the person's data (the back-office transfer's mappings).
    public var externalSystems: [String]
    /// Which stores have answered the case with their local extract.
    public var stores: [AccessStoreAnswer]
    public var notes: [String]
}

/// One customer record of the person, with everything held about it.
public struct AccessSubject: Sendable, Codable {
    enum CodingKeys: String, CodingKey {
        case code, formerCodes = "former_codes", region, source, data, addresses, documents, memberships, history
    }
    public var code: String
    /// Codes the record had before (store-prefix renames, customer moves).
    public var formerCodes: [String]
    public var region: String
    /// Which store collected the record, and when.
    public var source: AccessSource
    /// Every personal field held, with the store that wrote its value and when.
    public var data: [AccessDatum]
    public var addresses: [Address]
    public var documents: [Document]
    public var memberships: [String]
    /// Older values still held: audit entries of the record.
    public var history: [AuditRecord]
}

public struct AccessSource: Sendable, Codable {
    public var node: String
    public var site: String?
    public var at: String?
}

public struct AccessDatum: Sendable, Codable {
    enum CodingKeys: String, CodingKey { case field, label, category, value, node, at }
    public var field: String
    public var label: String
    public var category: String
    public var value: String
    /// The store that wrote this value, and when.
    public var node: String?
    public var at: String?
}

public struct AccessRecipient: Sendable, Codable {
    enum CodingKeys: String, CodingKey { case node, site, region, lastPullAt = "last_pull_at" }
    public var node: String
    public var site: String
    public var region: String
    public var lastPullAt: String?
}

public struct AccessStoreAnswer: Sendable, Codable {
    enum CodingKeys: String, CodingKey { case node, site, answeredAt = "answered_at", lastContact = "last_contact", extract }
    public var node: String
    public var site: String
    /// When the store sent its local extract (nil: pending).
    public var answeredAt: String?
    public var lastContact: String?
    /// The store's extract (`posnode access-request export`), as JSON text.
    public var extract: String?
}

/// What an erasure did.
public struct ErasureResult: Sendable, Codable {
    enum CodingKeys: String, CodingKey { case accessCase = "case", partners, addresses, openDocuments = "open_documents", scrubbed }
    public var accessCase: String
    public var partners: [String]
    public var addresses: Int
    /// Documents still open (unpaid orders, invoices): kept, without personal data.
    public var openDocuments: [String]
    /// Older copies scrubbed (audit entries, refusal reasons, store extracts).
    public var scrubbed: Int
}

extension HubStore {
    // MARK: Cases

    static let caseColumns = "id, received, due, extended_months, extension_reason, identifier_kind, identifier, partners, note, status, closed_at, answer, erased_at"

    /// Opens a case for the person named by `values` of `identifier` (one e-mail, national ID
    /// or VAT ID, or one or more partner codes), received on `received` (`YYYY-MM-DD`, default
    /// today). An e-mail or ID that matches several customers is refused with the list: the
    /// operator names the person's records by code.
    public func addAccessRequest(_ identifier: AccessIdentifier, values: [String], received: String? = nil, note: String? = nil) throws -> AccessCase {
        guard !values.isEmpty, values.allSatisfy({ !$0.trimmingCharacters(in: .whitespaces).isEmpty }) else {
            throw HubError.invalid(FieldError(field: identifier.rawValue, reason: "is empty"))
        }
        if identifier != .partner, values.count > 1 {
            throw HubError.invalid(FieldError(field: identifier.rawValue, reason: "give one \(identifier.rawValue), or the person's records by --partner"))
        }
        let day = try received.map { try Self.day($0, field: "received") } ?? Self.today(clock())
        if let note, note.count > 500 { throw HubError.invalid(FieldError(field: "note", reason: "is longer than 500 characters")) }
        return try pool.write { db in
            var codes: [String] = []
            for value in values {
                let found = try Self.matchPartners(db, identifier, value)
                if identifier != .partner, found.count > 1 {
                    let listed = try found.map { code -> String in
                        let p = try ReplicatedTable.partner.fetch(db, key: code).map(Partner.init(fields:))
                        return "\(code) (\(p?.displayName ?? "?"), \(p?.originNode ?? "?"))"
                    }
                    throw HubError.invalid(FieldError(field: identifier.rawValue, reason: "'\(value)' matches \(found.count) customers: \(listed.joined(separator: ", ")); give the person's records by --partner CODE"))
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

    /// Extends the answer's due date by `months` (Art. 12(3): by two months at most in all).
    public func extendAccessRequest(_ id: String, months: Int, reason: String) throws -> AccessCase {
        guard (1...2).contains(months) else { throw HubError.invalid(FieldError(field: "months", reason: "must be 1 or 2")) }
        guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw HubError.invalid(FieldError(field: "reason", reason: "is mandatory: the person is told why the answer takes longer"))
        }
        return try pool.write { db in
            let c = try Self.openCase(db, id)
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

    // MARK: Finding the person

    /// The partner codes `value` names: a code (or a code it had before a rename or a move), or
    /// every partner with that e-mail (any case), national ID or VAT ID (as the NIP check
    /// compares it).
    static func matchPartners(_ db: Database, _ identifier: AccessIdentifier, _ value: String) throws -> [String] {
        switch identifier {
        case .partner:
            let code = PartnerCode.normalized(value)
            if try ReplicatedTable.partner.exists(db, key: code) { return [code] }
            return try laterCodes(db, code)
        case .email:
            return try String.fetchAll(db, sql: "SELECT code FROM partner WHERE email = ? COLLATE NOCASE ORDER BY code", arguments: [value])
        case .nationalID:
            return try String.fetchAll(db, sql: "SELECT code FROM partner WHERE national_id = ? ORDER BY code", arguments: [value])
        case .vatID:
            return try String.fetchAll(db, sql: "SELECT code FROM partner WHERE vat_id = ? ORDER BY code", arguments: [value])
        }
    }

    /// The codes a former code became (renames, moves), that exist.
    static func laterCodes(_ db: Database, _ code: String) throws -> [String] {
        try renames(db, from: code, later: true).filter { try ReplicatedTable.partner.exists(db, key: $0) }
    }

    /// The codes `code` had before: renamed by the store-prefix rule or moved from.
    static func formerCodes(_ db: Database, _ code: String) throws -> [String] {
        try renames(db, from: code, later: false)
    }

    /// Every code reached from `code` through renames and moves (`hub_alias`, `move_alias`),
    /// forwards (`later`: the codes it became) or backwards (the codes it had), sorted.
    static func renames(_ db: Database, from code: String, later: Bool) throws -> [String] {
        let (to, from) = later ? ("new_code", "old_code") : ("old_code", "new_code")
        let sql = "SELECT \(to) FROM hub_alias WHERE \(from) = ? UNION SELECT \(to) FROM move_alias WHERE \(from) = ?"
        var found: [String] = [], queue = [code], seen: Set<String> = [code]
        while let c = queue.popLast() {
            for n in try String.fetchAll(db, sql: sql, arguments: [c, c]) where seen.insert(n).inserted { found.append(n); queue.append(n) }
        }
        return found.sorted()
    }

    // MARK: The report

    /// The report of a case: every record of the person with its source, older values,
    /// recipients and the stores' answers, and the policy's statement for each category held.
    public func accessReport(_ id: String, policy: [PrivacyPolicyEntry] = PrivacyPolicy.standard) throws -> AccessReport {
        try pool.read { db in
            let c = try Self.accessCase(db: db, id)
            var subjects: [AccessSubject] = [], categories: Set<String> = []
            var regions: Set<String> = []
            for code in c.partners {
                guard let fields = try ReplicatedTable.partner.fetch(db, key: code) else { continue }
                let subject = try Self.subject(db, code: code, fields: fields, kinds: kinds)
                categories.formUnion(subject.data.map(\.category))
                if !subject.addresses.isEmpty { categories.insert("addresses") }
                if !subject.documents.isEmpty { categories.insert("documents") }
                if !subject.memberships.isEmpty || fields["category"]?.text != nil { categories.insert("memberships") }
                regions.insert(subject.region)
                subjects.append(subject)
            }
            let nodes = try Row.fetchAll(db, sql: "SELECT node_id, site, region, last_pull_at, last_push_at FROM hub_node ORDER BY node_id")
            let inRegion = nodes.filter { regions.contains($0["region"] as String) || regions.contains("") }
            let recipients = inRegion.compactMap { row -> AccessRecipient? in
                guard let pulled: String = row["last_pull_at"] else { return nil }
                return AccessRecipient(node: row["node_id"], site: row["site"], region: row["region"], lastPullAt: pulled)
            }
            let answers = Dictionary(try Row.fetchAll(db, sql: "SELECT node, at, extract FROM hub_access_extract WHERE case_id = ?", arguments: [id])
                .map { ($0["node"] as String, (at: $0["at"] as String, extract: $0["extract"] as String)) }) { a, _ in a }
            let stores = inRegion.map { row -> AccessStoreAnswer in
                let node: String = row["node_id"]
                let contact = [row["last_pull_at"] as String?, row["last_push_at"] as String?].compactMap { $0 }.max()
                return AccessStoreAnswer(node: node, site: row["site"], answeredAt: answers[node]?.at, lastContact: contact, extract: answers[node]?.extract)
            }
            var notes: [String] = []
            if subjects.isEmpty { notes.append("No record of the person was found (identifier \(c.identifierKind) \(c.identifier)).") }
            if c.erasedAt != nil { notes.append("The person's data was erased on \(c.erasedAt!); fiscal documents are kept without personal data (tax retention).") }
            notes.append("Fiscal documents (receipts, invoices) are kept for the tax retention period; an erasure removes the personal data from them, not the documents.")
            var systems: Set<String> = []
            for s in subjects {
                for code in [s.code] + s.formerCodes {
                    systems.formUnion(try String.fetchAll(db, sql: "SELECT system FROM hub_external_mapping WHERE code = ?", arguments: [code]))
                }
            }
            let held = policy.filter { categories.contains($0.category) }
            return AccessReport(accessCase: c, generatedAt: AuditRecord.iso(millis: clock()), found: !subjects.isEmpty, subjects: subjects,
                                policy: held, categories: policy.map(\.category).filter { categories.contains($0) }, recipients: recipients,
                                externalSystems: systems.sorted(), stores: stores, notes: notes)
        }
    }

    /// The category of a partner column (`PrivacyPolicy.standard`'s), nil for columns that are
    /// not personal data.
    static func category(_ column: String) -> String? {
        switch column {
        case "salutation", "first_name", "last_name", "name", "birth_date": return "identity"
        case "national_id", "vat_id", "id_document", "trade_register", "issued_by", "corporate_customer": return "identifiers"
        case "phone", "email": return "contact"
        case "consents": return "consents"
        case "attributes": return "attributes"
        default: return nil
        }
    }

    static func subject(_ db: Database, code: String, fields: Fields, kinds: RecordKinds) throws -> AccessSubject {
        let clocks = try Row.fetchOne(db, sql: "SELECT clock_hlc, clock_node, clock_fields FROM partner WHERE code = ?", arguments: [code])
        let created: (node: String, at: String?) = (clocks?["clock_node"] ?? fields["origin_node"]?.text ?? "?",
                                                    (clocks?["clock_hlc"] as Int64?).map { AuditRecord.iso(millis: HLC(rawValue: UInt64(bitPattern: $0)).millis) })
        var stamps: [String: (node: String, at: String)] = [:]
        for entry in (clocks?["clock_fields"] as String? ?? "").split(separator: ";") {
            let parts = entry.split(separator: ":")
            guard parts.count >= 3, let hlc = UInt64(parts[1]) else { continue }
            stamps[String(parts[0])] = (parts[2...].joined(separator: ":"), AuditRecord.iso(millis: HLC(rawValue: hlc).millis))
        }
        var data: [AccessDatum] = []
        for column in Partner.columns {
            guard let category = category(column), let value = fields[column]?.auditText, !value.isEmpty else { continue }
            let stamp = stamps[column]
            data.append(AccessDatum(field: column, label: FieldError.label(column), category: category, value: value,
                                    node: stamp?.node ?? created.node, at: stamp?.at ?? created.at))
        }
        let originSite = try String.fetchOne(db, sql: "SELECT site FROM hub_node WHERE node_id = ?", arguments: [fields["origin_node"]?.text ?? created.node])
        let addresses = try db.addresses(ofPartner: code)
        let documents = try db.documents(ofPartner: code)
        let memberships = kinds.table(.membership) == nil ? [] :
            try String.fetchAll(db, sql: "SELECT institution_code FROM membership WHERE partner_code = ? ORDER BY 1", arguments: [code])
        let former = try formerCodes(db, code)
        var history: [AuditRecord] = []
        for key in [code] + former {
            history += try Row.fetchAll(db, sql: "SELECT * FROM audit WHERE \(Database.keyOfRecord) ORDER BY id",
                                        arguments: StatementArguments(Database.keyArguments(key))).map(AuditRecord.init(row:))
        }
        let region = try Self.region(db, entity: .partner, key: code, kinds: kinds) ?? ""
        return AccessSubject(code: code, formerCodes: former, region: region,
                             source: AccessSource(node: fields["origin_node"]?.text ?? created.node, site: originSite, at: created.at),
                             data: data, addresses: addresses, documents: documents, memberships: memberships,
                             history: history.sorted { ($0.id ?? 0) < ($1.id ?? 0) })
    }

    // MARK: The stores' extracts

    /// The open cases a store has not answered yet, with the person's codes (the store adds
    /// its extract at its next sync, `SyncRound`).
    public func openAccessRequests(node: String) throws -> [AccessCase] {
        try pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT \(Self.caseColumns) FROM hub_access_request
                WHERE status = 'open' AND erased_at IS NULL AND id NOT IN (SELECT case_id FROM hub_access_extract WHERE node = ?) ORDER BY id
                """, arguments: [node]).map(Self.accessCase)
        }
    }

    /// Records a store's local extract for a case (its rows, pending journal entries and local
    /// audit of the person, `NodeStore.accessExtract`); a second one replaces the first.
    public func recordAccessExtract(case id: String, node: String, extract: String) throws {
        guard extract.utf8.count <= 4 << 20 else { throw HubError.invalid(FieldError(field: "extract", reason: "is larger than 4 MiB")) }
        try pool.write { db in
            let c = try Self.accessCase(db: db, id)
            guard c.erasedAt == nil else { throw HubError.invalid(FieldError(field: "case", reason: "case \(id) was erased", code: .conflict)) }
            try db.execute(sql: "INSERT OR REPLACE INTO hub_access_extract (case_id, node, at, extract) VALUES (?, ?, ?, ?)",
                           arguments: [id, node, AuditRecord.iso(millis: clock()), extract])
        }
    }

    // MARK: Erasure

    /// Erases the person of case `id` (Art. 17): the personal fields of each of their partner
    /// records (and of the records under their former codes) and of their addresses are
    /// replaced at the hub and, through the feed, at every store; documents stay with their
    /// amounts and codes (tax retention), open ones too (listed in the result). Older copies at
    /// the hub are scrubbed (audit entries, refusal reasons, the stores' extracts, the case's
    /// identifier); an `erasure` record per code tells the stores to scrub theirs and refuse
    /// edits that would bring the data back. Then the database is rebuilt (`VACUUM`) and its
    /// write-ahead log emptied, so no file holds the old values. A closed case is refused.
    public func erase(case id: String, reason: String? = nil) throws -> ErasureResult {
        var result = ErasureResult(accessCase: id, partners: [], addresses: 0, openDocuments: [], scrubbed: 0)
        let at = AuditRecord.iso(millis: clock())
        var values: [String] = []
        try write(storeRecords: true, { db in
            let c = try Self.openCase(db, id)
            guard c.erasedAt == nil else { throw HubError.invalid(FieldError(field: "case", reason: "case \(id) was erased on \(c.erasedAt!)", code: .conflict)) }
            guard !c.partners.isEmpty else { throw HubError.invalid(FieldError(field: "case", reason: "case \(id) names no customer record; nothing to erase")) }
            var codes: [String] = []
            for code in c.partners { for k in [code] + (try Self.formerCodes(db, code)) where !codes.contains(k) { codes.append(k) } }
            var changes: [CentralChange] = []
            for code in codes {
                guard let fields = try ReplicatedTable.partner.fetch(db, key: code) else { continue }
                values += Erasure.personalValues(fields)
                let kind = PartnerKind(rawValue: fields["kind"]?.text ?? "") ?? .consumer
                changes.append(CentralChange(.partner, .update, key: code, fields: Erasure.partnerFields(kind: kind)))
                for a in try db.addresses(ofPartner: code) {
                    var address = a.fields
                    values += Erasure.personalValues(address)
                    for (column, value) in Erasure.addressFields { address[column] = value }
                    changes.append(CentralChange(.address, .update, fields: address))
                    result.addresses += 1
                }
                result.openDocuments += try String.fetchAll(db, sql: "SELECT id FROM document WHERE partner_code = ? AND status = 'open' ORDER BY id", arguments: [code])
                changes.append(CentralChange(.erasure, .insert, fields: ["partner_code": .text(code), "case_id": .text(id), "at": .text(at)]))
                result.partners.append(code)
            }
            return changes
        }, after: { db in
            result.scrubbed = try Self.scrub(db, codes: result.partners, values: values, caseID: id)
            let c = try Self.accessCase(db: db, id)
            let identifier = ["email", "national_id", "vat_id"].contains(c.identifierKind) ? Erasure.placeholder : c.identifier
            try db.execute(sql: "UPDATE hub_access_request SET erased_at = ?, identifier = ?, note = NULL WHERE id = ?", arguments: [at, identifier, id])
            try db.appendAudit(AuditRecord(at: at, node: Self.hubNode, kind: .erasure, entity: "case", key: id,
                                           reason: "personal data of \(result.partners.joined(separator: ", ")) erased under case \(id)\(reason.map { ": \($0)" } ?? "")"))
        })
        try compact()
        return result
    }

    /// Removes erased values from older copies at the hub: audit entries of the codes or
    /// naming a value, refusal reasons naming a value, the stores' extracts holding one.
    /// Returns how many rows were scrubbed.
    static func scrub(_ db: Database, codes: [String], values: [String], caseID: String) throws -> Int {
        let mark = "[erased under case \(caseID)]"
        var count = try db.scrubAudit(codes: codes, values: values, mark: mark)
        for value in Set(values) where value.count >= 3 {
            try db.execute(sql: "UPDATE hub_outcome SET reason = ? WHERE instr(reason, ?) > 0", arguments: [mark, value])
            count += db.changesCount
            try db.execute(sql: "DELETE FROM hub_access_extract WHERE instr(extract, ?) > 0", arguments: [value])
            count += db.changesCount
        }
        try db.execute(sql: "DELETE FROM hub_access_extract WHERE case_id = ?", arguments: [caseID])
        return count + db.changesCount
    }

    /// Rebuilds the database file and empties its write-ahead log, so that no page, free or
    /// in the log, still holds a value an erasure replaced (SQLite keeps old content in free
    /// pages and in the log until they are overwritten).
    public func compact() throws {
        guard try pool.rebuildEmptyingLog() else {
            throw HubError.refused("the write-ahead log could not be emptied: a reader kept old pages for 5 s; run the erasure's compaction again")
        }
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
