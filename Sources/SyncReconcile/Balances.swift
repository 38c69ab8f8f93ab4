import Foundation
import GRDB
import SyncModel
import SyncStore

/// A customer's balances as recomputed from documents.
public struct CustomerBalance: Sendable, Codable, Hashable {
    public var partnerCode: String
    public var currency: String
    /// Posted balance (gebuchter Saldo): open invoices and receivables.
    public var postedMinor: Int64
    /// Order balance (Auftragssaldo): open orders.
    public var orderMinor: Int64

    public init(partnerCode: String, currency: String, postedMinor: Int64, orderMinor: Int64) {
        self.partnerCode = partnerCode
        self.currency = currency
        self.postedMinor = postedMinor
        self.orderMinor = orderMinor
    }
}

/// "Kundensalden neu berechnen": recomputes balances from documents. The move does not touch
/// balances; this function does, for all customers.
public enum Balances {
    @discardableResult
    public static func recalculate(_ db: Database) throws -> [CustomerBalance] {
        let rows = try Row.fetchAll(db, sql: """
            SELECT p.code AS code, p.currency AS currency,
                   COALESCE(SUM(CASE WHEN d.kind IN ('invoice', 'receivable') AND d.status = 'open' AND d.currency = p.currency THEN d.amount_minor END), 0) AS posted,
                   COALESCE(SUM(CASE WHEN d.kind = 'order' AND d.status = 'open' AND d.currency = p.currency THEN d.amount_minor END), 0) AS orders
            FROM partner p LEFT JOIN document d ON d.partner_code = p.code
            GROUP BY p.code ORDER BY p.code
            """)
        let now = AuditRecord.now()
        try db.execute(sql: "DELETE FROM customer_balance")
        var out: [CustomerBalance] = []
        for r in rows {
            let b = CustomerBalance(partnerCode: r["code"], currency: r["currency"], postedMinor: r["posted"], orderMinor: r["orders"])
            try db.execute(sql: "INSERT INTO customer_balance (partner_code, currency, posted_minor, order_minor, recalculated_at) VALUES (?, ?, ?, ?, ?)",
                           arguments: [b.partnerCode, b.currency, b.postedMinor, b.orderMinor, now])
            out.append(b)
        }
        return out
    }
}

/// Merge candidates across sites: partners sharing a NIP, a PESEL, or a normalised e-mail and name.
public struct DuplicateGroup: Sendable, Codable, Hashable {
    public var reason: String
    public var value: String
    public var codes: [String]
}

public enum DuplicateFinder {
    public static func candidates(_ db: Database) throws -> [DuplicateGroup] {
        let partners = try Row.fetchAll(db, sql: "SELECT * FROM partner WHERE deleted = 0 ORDER BY code")
            .map { try Partner(fields: ReplicatedTable.partner.fields(of: $0)) }
        var groups: [String: (reason: String, value: String, codes: [String])] = [:]
        func add(_ reason: String, _ value: String?, _ code: String) {
            guard let value, !value.isEmpty else { return }
            groups["\(reason)|\(value)", default: (reason, value, [])].codes.append(code)
        }
        for p in partners {
            add("vat_id", p.vatID.map(PartnerValidator.normalizedNIP), p.code)
            add("national_id", p.nationalID?.filter { !$0.isWhitespace }, p.code)
            if let email = p.email?.trimmingCharacters(in: .whitespaces).lowercased(), !email.isEmpty {
                let name = p.displayName.lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
                add("email+name", "\(email) \(name)", p.code)
            }
        }
        return groups.values.filter { $0.codes.count > 1 }
            .map { DuplicateGroup(reason: $0.reason, value: $0.value, codes: $0.codes) }
            .sorted { ($0.reason, $0.value) < ($1.reason, $1.value) }
    }
}
