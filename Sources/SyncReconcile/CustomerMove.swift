import Foundation
import GRDB
import SyncModel
import SyncStore

/// The preconditions of the multi-site customer move (docs/rules.md).
public enum MoveCondition: Int, Sendable, CaseIterable, Codable {
    case currentExistsAtSite = 1
    case newAbsentAtSite = 2
    case newExistsAtFromSite = 3
    case sameCurrency = 4
    case sameCorporateCustomer = 5
    case billToOnlyToBillTo = 6
    /// Example 3: for a ship-to move the new customer's bill-to (seq 0) must already be at the current site.
    case newBillToAtSite = 7
    /// The seed's premise ("die Standorte A und B verwenden die replizierten Kundendaten
    /// gemeinsam"): both sites replicate the same customer data, i.e. are in one hub region.
    case sitesShareCustomerData = 8
    /// Neither customer's personal data was erased (GDPR Art. 17): a move would hand the
    /// erased person's documents to another customer, or another's to the erased record.
    case neitherErased = 9

    public var title: String {
        switch self {
        case .currentExistsAtSite: return "current customer and seq exist at the current site"
        case .newAbsentAtSite: return "new customer and seq do not exist at the current site"
        case .newExistsAtFromSite: return "new customer and seq exist at the other site"
        case .sameCurrency: return "currency codes are equal"
        case .sameCorporateCustomer: return "corporate customer (Konzernkunde) is equal"
        case .billToOnlyToBillTo: return "if current seq is 0, new seq is 0"
        case .newBillToAtSite: return "new customer's bill-to (seq 0) exists at the current site"
        case .sitesShareCustomerData: return "both sites share replicated customer data (same region)"
        case .neitherErased: return "neither customer's personal data was erased"
        }
    }
}

/// A failed precondition, naming the condition.
public struct MoveViolation: Sendable, Hashable, Codable, CustomStringConvertible {
    public var condition: MoveCondition
    public var detail: String
    public var description: String { "condition \(condition.rawValue) (\(condition.title)) failed: \(detail)" }
}

/// The move was refused; nothing changed.
public struct MoveRefused: Error, Sendable, CustomStringConvertible {
    public var violations: [MoveViolation]
    public init(violations: [MoveViolation]) { self.violations = violations }
    public var description: String { "move refused: " + violations.map(\.description).joined(separator: "; ") }
}

/// The hub's lookup of a site's replication region (nil: no node registered at that site).
public typealias SiteRegion = @Sendable (Database, String) throws -> String?

/// The multi-site customer move: re-designates the current site's (customer, seq) as (customer, seq) from another site.
/// The only implementation; the hub runs it for moves pushed by nodes and for its own API.
public enum CustomerMove {
    /// Where (site, code, seq) points after the moves carried out there, if it was moved
    /// (following chains of moves).
    public static func movedTo(_ db: Database, site: String, code: String, seq: Int) throws -> (code: String, seq: Int)? {
        var current: (code: String, seq: Int)? = nil
        var probe = (code: code, seq: seq)
        for _ in 0..<16 {
            guard let r = try db.firstRowCached("SELECT new_code, new_seq FROM move_alias WHERE site = ? AND old_code = ? AND old_seq = ?",
                                                [site.databaseValue, probe.code.databaseValue, probe.seq.databaseValue]),
                  let code = String.fromDatabaseValue(r[0]), let seq = Int.fromDatabaseValue(r[1]) else { break }
            probe = (code, seq)
            current = probe
        }
        return current
    }

    /// All failed preconditions of `r` (empty when it may be carried out). `siteRegion` gives a
    /// site's replication region where the caller knows regions (the hub, which decides); a
    /// store node holds only its region's customers, so its own check (`posnode customer
    /// move`) already fails condition 3 for another region's customer.
    public static func violations(_ db: Database, _ r: MoveRequest, siteRegion: ((String) throws -> String?)? = nil) throws -> [MoveViolation] {
        var out: [MoveViolation] = []
        func addr(_ code: String, _ site: String, _ seq: Int) throws -> Bool {
            try ReplicatedTable.address.exists(db, key: Address.key(partnerCode: code, site: site, seq: seq))
        }
        if try !addr(r.currentCode, r.site, r.currentSeq) {
            out.append(.init(condition: .currentExistsAtSite, detail: "\(r.currentCode):\(r.currentSeq) not found at site \(r.site)"))
        }
        if try addr(r.newCode, r.site, r.newSeq) {
            out.append(.init(condition: .newAbsentAtSite, detail: "\(r.newCode):\(r.newSeq) already exists at site \(r.site)"))
        }
        let newAtFromSite = try addr(r.newCode, r.fromSite, r.newSeq)
        if r.fromSite == r.site || !newAtFromSite {
            out.append(.init(condition: .newExistsAtFromSite, detail: "\(r.newCode):\(r.newSeq) not found at site \(r.fromSite)"))
        }
        let current = try ReplicatedTable.partner.fetch(db, key: r.currentCode)
        let new = try ReplicatedTable.partner.fetch(db, key: r.newCode)
        if let current, let new {
            if current["currency"] != new["currency"] {
                out.append(.init(condition: .sameCurrency,
                                 detail: "\(current["currency"]?.auditText ?? "-") vs \(new["currency"]?.auditText ?? "-")"))
            }
            if current["corporate_customer"] != new["corporate_customer"] {
                out.append(.init(condition: .sameCorporateCustomer,
                                 detail: "\(current["corporate_customer"]?.auditText ?? "none") vs \(new["corporate_customer"]?.auditText ?? "none")"))
            }
        } else {
            if current == nil, !out.contains(where: { $0.condition == .currentExistsAtSite }) {
                out.append(.init(condition: .currentExistsAtSite, detail: "partner \(r.currentCode) does not exist"))
            }
            if new == nil, !out.contains(where: { $0.condition == .newExistsAtFromSite }) {
                out.append(.init(condition: .newExistsAtFromSite, detail: "partner \(r.newCode) does not exist"))
            }
        }
        if r.currentSeq == 0 && r.newSeq != 0 {
            out.append(.init(condition: .billToOnlyToBillTo, detail: "current seq is 0 but new seq is \(r.newSeq)"))
        }
        if r.newSeq > 0, try !addr(r.newCode, r.site, 0) {
            out.append(.init(condition: .newBillToAtSite, detail: "\(r.newCode):0 must exist at site \(r.site) before seq \(r.newSeq) is moved"))
        }
        if try db.tableExists("erasure") {
            for code in Set([r.currentCode, r.newCode]).sorted() {
                if let caseID = try String.fetchOne(db, sql: "SELECT case_id FROM erasure WHERE partner_code = ?", arguments: [code]) {
                    out.append(.init(condition: .neitherErased, detail: "the personal data of partner \(code) was erased under case \(caseID)"))
                }
            }
        }
        if let siteRegion {
            let here = try siteRegion(r.site), there = try siteRegion(r.fromSite)
            if here != there {
                func describe(_ site: String, _ region: String?) -> String {
                    region.map { "site \(site) is in region '\($0)'" } ?? "site \(site) has no registered node"
                }
                out.append(.init(condition: .sitesShareCustomerData, detail: "\(describe(r.site, here)), \(describe(r.fromSite, there))"))
            }
        }
        return out.sorted { $0.condition.rawValue < $1.condition.rawValue }
    }

    /// Checks and carries out the move in the caller's transaction; throws `MoveRefused`
    /// (nothing changed) when a precondition fails. Balances are not touched (see `Balances`).
    public static func execute(_ db: Database, _ r: MoveRequest, stamp: MergeStamp, kinds: RecordKinds = .standard,
                               siteRegion: ((String) throws -> String?)? = nil) throws -> Set<TouchedRow> {
        let failed = try violations(db, r, siteRegion: siteRegion)
        guard failed.isEmpty else { throw MoveRefused(violations: failed) }
        var touched = Set<TouchedRow>()

        // The new (customer, seq) is added at the current site with its own data from the other site;
        // the current customer's bill-to never overwrites it.
        let sourceKey = Address.key(partnerCode: r.newCode, site: r.fromSite, seq: r.newSeq)
        guard var image = try ReplicatedTable.address.fetch(db, key: sourceKey) else { throw MoveRefused(violations: []) }
        image["site"] = .text(r.site)
        try Reconciler.insertRow(db, table: .address, image: image, stamp: stamp)
        touched.insert(TouchedRow(.address, Address.key(partnerCode: r.newCode, site: r.site, seq: r.newSeq)))

        // Every record that referenced the current (customer, seq) at this site now references the new one.
        let ids = try String.fetchAll(db, sql: "SELECT id FROM document WHERE partner_code = ? AND address_seq = ? AND site = ?",
                                      arguments: [r.currentCode, r.currentSeq, r.site])
        for id in ids {
            _ = try Reconciler.mergeFields(db, table: .document, key: id,
                                           fields: ["partner_code": .text(r.newCode), "address_seq": .int(Int64(r.newSeq))], stamp: stamp)
            touched.insert(TouchedRow(.document, id))
        }

        // The customer keeps its memberships and its category: the current customer's
        // memberships become the new one's too, and a new customer without a category gets the
        // current one's (documents keep the institution they were placed with).
        let memberships = ReplicatedTable.of(.membership)!
        for institution in try String.fetchAll(db, sql: "SELECT institution_code FROM membership WHERE partner_code = ?", arguments: [r.currentCode]) {
            let key = "\(r.newCode)|\(institution)"
            guard try !memberships.exists(db, key: key) else { continue }
            try Reconciler.insertRow(db, table: memberships, image: ["partner_code": .text(r.newCode), "institution_code": .text(institution)], stamp: stamp)
            touched.insert(TouchedRow(.membership, key))
        }
        if let category = try ReplicatedTable.partner.fetch(db, key: r.currentCode)?["category"]?.text,
           try ReplicatedTable.partner.fetch(db, key: r.newCode)?["category"]?.text == nil,
           try Reconciler.mergeFields(db, table: .partner, key: r.newCode, fields: ["category": .text(category)], stamp: stamp) {
            touched.insert(TouchedRow(.partner, r.newCode))
        }

        // Remove the current (customer, seq) from this site, unless it is a bill-to that still has ship-to addresses.
        let currentKey = Address.key(partnerCode: r.currentCode, site: r.site, seq: r.currentSeq)
        let hasShipTo = try Bool.fetchOne(db, sql: """
            SELECT EXISTS(SELECT 1 FROM address WHERE partner_code = ? AND site = ? AND seq > 0)
            """, arguments: [r.currentCode, r.site]) ?? false
        let keepsShipTo = r.currentSeq == 0 && hasShipTo
        if !keepsShipTo {
            try ReplicatedTable.address.delete(db, key: currentKey)  // its clocks go with it
            touched.insert(TouchedRow(.address, currentKey))
            let remaining = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM address WHERE partner_code = ?", arguments: [r.currentCode]) ?? 0
            if remaining == 0 {
                if try Reconciler.mergeFields(db, table: .partner, key: r.currentCode, fields: ["deleted": .bool(true)], stamp: stamp) {
                    touched.insert(TouchedRow(.partner, r.currentCode))
                }
                // The current customer is gone: the records that declare they follow their
                // customer in a move (`PersonalData.OnMove.follows`) name the new one.
                for kind in kinds.personal where kind.personal?.onMove == .follows {
                    guard let subject = kind.personal?.subject, let table = ReplicatedTable.of(kind) else { continue }
                    for key in try db.keys(of: kind, about: r.currentCode) {
                        _ = try Reconciler.mergeFields(db, table: table, key: key, fields: [subject: .text(r.newCode)], stamp: stamp)
                        touched.insert(TouchedRow(kind.entity, key))
                    }
                }
            }
        }
        try db.execute(sql: """
            INSERT OR REPLACE INTO move_alias (site, old_code, old_seq, new_code, new_seq) VALUES (?, ?, ?, ?, ?)
            """, arguments: [r.site, r.currentCode, r.currentSeq, r.newCode, r.newSeq])
        try db.appendAudit(AuditRecord(
            node: stamp.node, kind: .move, entity: "partner", key: r.newCode, field: "seq",
            oldValue: "\(r.currentCode):\(r.currentSeq)@\(r.site)", newValue: "\(r.newCode):\(r.newSeq)@\(r.site)",
            reason: "customer move from site \(r.fromSite): \(ids.count) document(s) re-pointed" + (keepsShipTo ? "; current kept for its ship-to addresses" : "")))
        return touched
    }
}
