import Foundation
import GRDB
import SyncModel
import SyncReconcile
import SyncStore

/// Which records at the hub are one person's: the one place that answers it for opening a
/// case, the report, the stores' extracts and the erasure (docs/privacy.md, "Finding the
/// person").
///
/// At the hub a record keeps the code it was stored under: the store-prefix rule decides a
/// clashing code before the record is stored (`hub_alias` keeps the code the store had first,
/// as the store's history), and a customer move links two records of one person instead of
/// renaming one (`move_alias`). So a hub code names one record for good, and a case holds
/// those. A code a store had before a rename is history, never a key to the record that holds
/// that code now.
enum PersonRecords {
    /// One record a code is, or was, the code of: for the refusal of an ambiguous code.
    struct Candidate: Sendable {
        var code: String
        var name: String
        var node: String
        /// How the record relates to the code asked for (`holds it since ...`, `had it at WAW1
        /// until ...`).
        var relation: String

        var text: String { "\(code) (\(name), \(node), \(relation))" }
    }

    /// The records `codes` stand for and every record a customer move linked to one of them,
    /// in either direction (customer 1 at site A is customer 2 at site B: one person), sorted;
    /// only records the hub holds.
    static func records(_ db: Database, _ codes: [String]) throws -> [String] {
        var seen = Set<String>(), queue = codes, found: [String] = []
        let sql = "SELECT new_code FROM move_alias WHERE old_code = ? UNION SELECT old_code FROM move_alias WHERE new_code = ?"
        while let code = queue.popLast() {
            guard seen.insert(code).inserted else { continue }
            if try ReplicatedTable.partner.exists(db, key: code) { found.append(code) }
            queue += try String.fetchAll(db, sql: sql, arguments: [code, code]).filter { !seen.contains($0) }
        }
        return found.sorted()
    }

    /// The codes stores had for record `code` before the store-prefix rule renamed it (the
    /// record's history: never used to select another record), with the store and when.
    static func renamedFrom(_ db: Database, _ code: String) throws -> [(code: String, node: String, at: String)] {
        try Row.fetchAll(db, sql: "SELECT old_code, node, at FROM hub_alias WHERE new_code = ? AND entity = 'partner' ORDER BY rename_id", arguments: [code])
            .map { ($0["old_code"], $0["node"], $0["at"]) }
    }

    /// The codes a record had before: store-prefix renames (history) and the records moved
    /// onto it (each a record of the person itself), sorted.
    static func formerCodes(_ db: Database, _ code: String) throws -> [String] {
        var codes = Set(try renamedFrom(db, code).map(\.code))
        codes.formUnion(try records(db, [code]).filter { $0 != code })
        return codes.sorted()
    }

    /// The record(s) an officer means by `entered`: the record that holds the code now, or the
    /// one a store had under it before a rename. A code that is, or was, the code of more than
    /// one person is refused with the candidates: the officer names the record with `--record`.
    static func resolve(_ db: Database, code entered: String) throws -> [String] {
        let code = PartnerCode.normalized(entered)
        var candidates: [Candidate] = []
        if let fields = try ReplicatedTable.partner.fetch(db, key: code) {
            candidates.append(candidate(code, fields, relation: "holds it since \(try created(db, code) ?? "?")"))
        }
        for row in try Row.fetchAll(db, sql: "SELECT new_code, node, at FROM hub_alias WHERE old_code = ? AND entity = 'partner' ORDER BY rename_id", arguments: [code]) {
            let now: String = row["new_code"]
            guard let fields = try ReplicatedTable.partner.fetch(db, key: now), !candidates.contains(where: { $0.code == now }) else { continue }
            candidates.append(candidate(now, fields, relation: "had \(code) at \(row["node"] as String) until \(row["at"] as String)"))
        }
        // A code moved away from stays the same person's: group the candidates by person.
        var people: [[String]] = []
        for c in candidates where !people.contains(where: { $0.contains(c.code) }) { people.append(try records(db, [c.code])) }
        guard people.count > 1 else { return candidates.first.map { [$0.code] } ?? [] }
        throw HubError.invalid(FieldError(
            field: "partner",
            reason: "'\(code)' is or was the code of \(people.count) customers: \(candidates.map(\.text).joined(separator: ", ")); name the person's record by the code it holds now with --record CODE"))
    }

    /// The record that holds `code` now, and nothing a former code reaches (`--record`).
    static func exact(_ db: Database, code entered: String) throws -> [String] {
        let code = PartnerCode.normalized(entered)
        return try ReplicatedTable.partner.exists(db, key: code) ? [code] : []
    }

    /// Every record with that e-mail (any case, spaces around it ignored), national ID or VAT
    /// ID (both as `PartnerValidator` normalises them for its checks), sorted.
    static func matching(_ db: Database, _ identifier: AccessIdentifier, _ value: String) throws -> [String] {
        let (column, normalize): (String, (String) -> String) = switch identifier {
        case .email: ("email", PartnerValidator.normalizedEmail)
        case .nationalID: ("national_id", PartnerValidator.normalizedNationalID)
        case .vatID: ("vat_id", PartnerValidator.normalizedNIP)
        case .partner, .record: ("code", PartnerCode.normalized)
        }
        let wanted = normalize(value)
        guard !wanted.isEmpty else { return [] }
        return try Row.fetchAll(db, sql: "SELECT code, \(column) AS v FROM partner WHERE \(column) IS NOT NULL ORDER BY code")
            .filter { normalize($0["v"] as String) == wanted }.map { $0["code"] }
    }

    /// The people among `codes`: each group the records of one person (linked by moves).
    static func people(_ db: Database, _ codes: [String]) throws -> [[String]] {
        var groups: [[String]] = []
        for code in codes where !groups.contains(where: { $0.contains(code) }) {
            let group = try records(db, [code])
            groups.append(group.isEmpty ? [code] : group)
        }
        return groups
    }

    static func candidate(_ code: String, _ fields: Fields, relation: String) -> Candidate {
        let p = try? Partner(fields: fields)
        return Candidate(code: code, name: p?.displayName ?? "?", node: p?.originNode ?? fields["origin_node"]?.text ?? "?", relation: relation)
    }

    /// When the hub stored record `code` (its creation stamp), as an ISO date and time.
    static func created(_ db: Database, _ code: String) throws -> String? {
        try Int64.fetchOne(db, sql: "SELECT clock_hlc FROM partner WHERE code = ?", arguments: [code])
            .map { AuditRecord.iso(millis: HLC(rawValue: UInt64(bitPattern: $0)).millis) }
    }
}
