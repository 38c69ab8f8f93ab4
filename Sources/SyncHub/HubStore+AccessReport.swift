import Foundation
import GRDB
import SyncModel
import SyncReconcile
import SyncStore

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
        case code, formerCodes = "former_codes", region, source, data, addresses, documents, memberships, records
        case externalReferences = "external_references", history
    }
    public var code: String
    /// Codes the record had before: the codes a store gave it before a store-prefix rename
    /// (history: another customer may hold such a code now) and the records moved onto it
    /// (each of them a subject of the report too).
    public var formerCodes: [String]
    public var region: String
    /// Which store collected the record, and when.
    public var source: AccessSource
    /// Every personal field held, with the store that wrote its value and when.
    public var data: [AccessDatum]
    public var addresses: [Address]
    public var documents: [Document]
    public var memberships: [String]
    /// The records of every other kind that declares personal data of the customer
    /// (`RecordKind.personal`), by kind.
    public var records: [AccessRecords]
    /// The external systems' references of the record (the back-office transfer): system,
    /// customer id, address id, debtor number (Art. 15(1)(g)).
    public var externalReferences: [ExternalMapping]
    /// Older values still held: audit entries of the record.
    public var history: [AuditRecord]
}

/// The records of one declared kind about the person (`PersonalData`).
public struct AccessRecords: Sendable, Codable {
    public var kind: String
    /// The categories they hold (`PrivacyPolicy`'s).
    public var categories: [String]
    public var rows: [Fields]
}

public struct AccessSource: Sendable, Codable {
    /// The store that collected the record, or `hub` for a record the hub created.
    public var node: String
    public var site: String?
    public var at: String?
    /// The external system the record came from (the back-office transfer), if any.
    public var system: String?
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

extension HubStore {
    // MARK: The report

    /// The report of a case: every record of the person (the case's records and those moves
    /// linked to them, `PersonRecords`) with its source, older values, external references,
    /// recipients and the stores' answers, and the policy's statement for each category held.
    public func accessReport(_ id: String, policy: [PrivacyPolicyEntry] = PrivacyPolicy.standard) throws -> AccessReport {
        try pool.read { db in
            let c = try Self.accessCase(db: db, id)
            var subjects: [AccessSubject] = [], categories: Set<String> = []
            var regions: Set<String> = []
            for code in try PersonRecords.records(db, c.partners) {
                guard let fields = try ReplicatedTable.partner.fetch(db, key: code) else { continue }
                let (subject, held) = try Self.subject(db, code: code, fields: fields, kinds: kinds)
                categories.formUnion(held)
                regions.insert(subject.region)
                subjects.append(subject)
            }
            let nodes = try Row.fetchAll(db, sql: "SELECT node_id, site, region, last_pull_at, last_push_at FROM hub_node ORDER BY node_id")
            let inRegion = nodes.filter { regions.contains($0["region"] as String) || regions.contains("") || regions.contains(Database.everyGroup) }
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
            let systems = Set(subjects.flatMap { $0.externalReferences.map(\.system) })
            let held = policy.filter { categories.contains($0.category) }
            return AccessReport(accessCase: c, generatedAt: AuditRecord.iso(millis: clock()), found: !subjects.isEmpty, subjects: subjects,
                                policy: held, categories: policy.map(\.category).filter { categories.contains($0) }, recipients: recipients,
                                externalSystems: systems.sorted(), stores: stores, notes: notes)
        }
    }

    /// One record of the person and the categories of data it holds: the partner's personal
    /// fields with their stamps, and every record of a kind that declares personal data of
    /// the customer (`RecordKind.personal`), read by that declaration.
    static func subject(_ db: Database, code: String, fields: Fields, kinds: RecordKinds) throws -> (AccessSubject, Set<String>) {
        let clocks = try Row.fetchOne(db, sql: "SELECT clock_hlc, clock_node, clock_fields FROM partner WHERE code = ?", arguments: [code])
        let created: (node: String, at: String?) = (clocks?["clock_node"] ?? fields["origin_node"]?.text ?? "?",
                                                    (clocks?["clock_hlc"] as Int64?).map { AuditRecord.iso(millis: HLC(rawValue: UInt64(bitPattern: $0)).millis) })
        var stamps: [String: (node: String, at: String)] = [:]
        for entry in (clocks?["clock_fields"] as String? ?? "").split(separator: ";") {
            let parts = entry.split(separator: ":")
            guard parts.count >= 3, let hlc = UInt64(parts[1]) else { continue }
            stamps[String(parts[0])] = (parts[2...].joined(separator: ":"), AuditRecord.iso(millis: HLC(rawValue: hlc).millis))
        }
        let references = try Self.liveMappings(db, code: code)
        let system = references.first?.system
        let partnerKind = RecordKind.partner
        var held = partnerKind.personal!.categoriesHeld(fields)
        var data: [AccessDatum] = []
        for column in Partner.columns {
            guard let category = partnerKind.personal!.categories[column], let value = fields[column]?.auditText, !value.isEmpty else { continue }
            let stamp = stamps[column]
            var node = stamp?.node ?? created.node
            if node == hubNode, let system { node = "\(hubNode) (transfer from \(system))" }
            data.append(AccessDatum(field: column, label: FieldError.label(column), category: category, value: value,
                                    node: node, at: stamp?.at ?? created.at))
        }
        let originNode = fields["origin_node"]?.text ?? created.node
        let originSite = try String.fetchOne(db, sql: "SELECT site FROM hub_node WHERE node_id = ?", arguments: [originNode])
        var records: [AccessRecords] = []
        var addresses: [Address] = [], documents: [Document] = [], memberships: [String] = []
        for kind in kinds.personal where kind.entity != .partner {
            let rows = try db.records(of: kind, about: code).map(\.fields)
            guard !rows.isEmpty else { continue }
            var kindHeld = Set<String>()
            for row in rows { kindHeld.formUnion(kind.personal!.categoriesHeld(row)) }
            held.formUnion(kindHeld)
            switch kind.entity {
            // The kinds the report shows in sections of their own.
            case .address: addresses = try db.addresses(ofPartner: code)
            case .document: documents = try db.documents(ofPartner: code)
            case .membership: memberships = rows.compactMap { $0["institution_code"]?.text }.sorted()
            case .externalRef: continue  // `externalReferences`, from the mapping
            default: records.append(AccessRecords(kind: kind.entity.rawValue, categories: kindHeld.sorted(), rows: rows))
            }
        }
        if !references.isEmpty { held.insert("identifiers") }
        // The record's own history: audit entries under its code (a rename's entry is under
        // the new code). Entries under a code a store had before a rename are another
        // customer's.
        let history = try Row.fetchAll(db, sql: "SELECT * FROM audit WHERE \(Database.keyOfRecord) ORDER BY id",
                                       arguments: StatementArguments(Database.keyArguments(code))).map(AuditRecord.init(row:))
        let region = try Self.region(db, entity: .partner, key: code, kinds: kinds) ?? ""
        let subject = AccessSubject(code: code, formerCodes: try PersonRecords.formerCodes(db, code), region: region,
                                    source: AccessSource(node: system == nil ? originNode : hubNode, site: originSite, at: created.at, system: system),
                                    data: data, addresses: addresses, documents: documents, memberships: memberships, records: records,
                                    externalReferences: references, history: history)
        return (subject, held)
    }

    // MARK: The stores' extracts

    /// The open cases a store has not answered yet, each with the person's records of the
    /// store's region (the store adds its extract at its next sync, `SyncRound`). Scoped like
    /// the feed: a store learns only of cases about records it receives.
    public func openAccessRequests(node: String) throws -> [AccessCase] {
        try pool.read { db in
            let region = try String.fetchOne(db, sql: "SELECT region FROM hub_node WHERE node_id = ?", arguments: [node]) ?? ""
            return try Row.fetchAll(db, sql: """
                SELECT \(Self.caseColumns) FROM hub_access_request
                WHERE status = 'open' AND erased_at IS NULL AND id NOT IN (SELECT case_id FROM hub_access_extract WHERE node = ?) ORDER BY id
                """, arguments: [node]).compactMap { row in
                    var c = Self.accessCase(row)
                    c.partners = try Self.records(db, of: c, inRegion: region, kinds: kinds)
                    return c.partners.isEmpty ? nil : c
                }
        }
    }

    /// The records of case `c` (with those moves linked to them) a store of `region` receives.
    static func records(_ db: Database, of c: AccessCase, inRegion region: String, kinds: RecordKinds) throws -> [String] {
        try PersonRecords.records(db, c.partners).filter { code in
            let recordRegion = try Self.region(db, entity: .partner, key: code, kinds: kinds) ?? ""
            return recordRegion == region || recordRegion == Database.everyGroup
        }
    }

    /// Records a store's local extract for a case (its rows, pending journal entries and local
    /// audit of the person, `NodeStore.accessExtract`); a second one replaces the first. A
    /// store outside the region of the case's records has none to give: refused.
    public func recordAccessExtract(case id: String, node: String, extract: String) throws {
        guard extract.utf8.count <= 4 << 20 else { throw HubError.invalid(FieldError(field: "extract", reason: "is larger than 4 MiB")) }
        try pool.write { db in
            let c = try Self.accessCase(db: db, id)
            guard c.erasedAt == nil else { throw HubError.invalid(FieldError(field: "case", reason: "case \(id) was erased", code: .conflict)) }
            let region = try String.fetchOne(db, sql: "SELECT region FROM hub_node WHERE node_id = ?", arguments: [node]) ?? ""
            guard try !Self.records(db, of: c, inRegion: region, kinds: kinds).isEmpty else {
                throw HubError.invalid(FieldError(field: "case", reason: "case \(id) is about no record of node \(node)'s region", code: .notFound))
            }
            try db.execute(sql: "INSERT OR REPLACE INTO hub_access_extract (case_id, node, at, extract) VALUES (?, ?, ?, ?)",
                           arguments: [id, node, AuditRecord.iso(millis: clock()), extract])
        }
    }
}
