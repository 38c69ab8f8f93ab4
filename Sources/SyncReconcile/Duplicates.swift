import Foundation
import GRDB
import SyncModel
import SyncStore

/// Merge candidates across sites: partners sharing a NIP, a national ID of one country, or a
/// normalised e-mail and name; each with the customer moves that would merge them.
public struct DuplicateGroup: Sendable, Codable, Hashable {
    public var reason: String
    public var value: String
    public var codes: [String]
    /// The moves this site could carry out to merge the group (`posnode customer move`).
    public var moves: [MoveProposal]

    public init(reason: String, value: String, codes: [String], moves: [MoveProposal] = []) {
        self.reason = reason; self.value = value; self.codes = codes; self.moves = moves
    }
}

/// A customer move that would merge two candidates, with each condition as it stands today.
public struct MoveProposal: Sendable, Codable, Hashable {
    enum CodingKeys: String, CodingKey { case current, new, fromSite = "from_site", command, possible, conditions }

    /// `CODE:SEQ` at this site.
    public var current: String
    /// `CODE:SEQ` at `fromSite`.
    public var new: String
    public var fromSite: String
    /// The command that requests it.
    public var command: String
    /// Every condition holds today.
    public var possible: Bool
    public var conditions: [ConditionState]

    public struct ConditionState: Sendable, Codable, Hashable {
        public var condition: Int
        public var title: String
        public var holds: Bool
        /// Why it fails, for one that fails.
        public var detail: String?
    }
}

public enum DuplicateFinder {
    /// The merge candidates; `site`: this store's site, for which moves are proposed (nil: none).
    public static func candidates(_ db: Database, site: String? = nil) throws -> [DuplicateGroup] {
        let partners = try Row.fetchAll(db, sql: "SELECT * FROM partner WHERE deleted = 0 ORDER BY code")
            .map { try Partner(fields: ReplicatedTable.partner.fields(of: $0)) }
        var groups: [String: (reason: String, value: String, codes: [String])] = [:]
        func add(_ reason: String, _ value: String?, _ code: String) {
            guard let value, !value.isEmpty else { return }
            groups["\(reason)|\(value)", default: (reason, value, [])].codes.append(code)
        }
        for p in partners {
            // A NIP is Polish; other countries' VAT IDs are grouped by their text.
            add("vat_id", p.vatID.map(PartnerValidator.normalizedNIP), p.code)
            // National IDs are unique within one country only: a German ID never joins Polish PESELs.
            if let id = p.nationalID?.filter({ !$0.isWhitespace }), !id.isEmpty {
                add("national_id", "\(p.country ?? "--") \(id)", p.code)
            }
            if let email = p.email?.trimmingCharacters(in: .whitespaces).lowercased(), !email.isEmpty {
                let name = p.displayName.lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
                add("email+name", "\(email) \(name)", p.code)
            }
        }
        return try groups.values.filter { $0.codes.count > 1 }
            .sorted { ($0.reason, $0.value) < ($1.reason, $1.value) }
            .map { g in DuplicateGroup(reason: g.reason, value: g.value, codes: g.codes,
                                       moves: try site.map { try proposals(db, codes: g.codes, site: $0) } ?? []) }
    }

    /// For each candidate with its bill-to at `site`, the move onto each other candidate's
    /// bill-to at another site, with the conditions of `CustomerMove.violations`.
    static func proposals(_ db: Database, codes: [String], site: String) throws -> [MoveProposal] {
        // Each candidate's bill-to sites, read once for all its pairs.
        let billToSites = try Dictionary(uniqueKeysWithValues: codes.map { code in
            (code, try String.fetchAll(db, sql: "SELECT site FROM address WHERE partner_code = ? AND seq = 0 ORDER BY site", arguments: [code]))
        })
        var out: [MoveProposal] = []
        for current in codes where billToSites[current]?.contains(site) == true {
            for new in codes where new != current {
                guard let from = billToSites[new]?.first(where: { $0 != site }) else { continue }
                var request = MoveRequest(currentCode: current, currentSeq: 0, newCode: new, newSeq: 0, fromSite: from)
                request.site = site
                let failed = try CustomerMove.violations(db, request)
                let states = MoveCondition.allCases.filter { $0 != .sitesShareCustomerData }.map { c in
                    let v = failed.first { $0.condition == c }
                    return MoveProposal.ConditionState(condition: c.rawValue, title: c.title, holds: v == nil, detail: v?.detail)
                }
                out.append(MoveProposal(current: "\(current):0", new: "\(new):0", fromSite: from,
                                        command: "posnode customer move --current \(current):0 --new \(new):0 --from-site \(from)",
                                        possible: failed.isEmpty, conditions: states))
            }
        }
        return out
    }
}
