import Foundation
import GRDB
import SyncModel
import SyncStore

/// A customer's balances as recomputed from documents.
public struct CustomerBalance: Sendable, Codable, Hashable {
    enum CodingKeys: String, CodingKey {
        case partnerCode = "partner_code", currency, postedMinor = "posted_minor", orderMinor = "order_minor"
        case recalculatedAt = "recalculated_at"
    }

    public var partnerCode: String
    public var currency: String
    /// Posted balance (gebuchter Saldo): open invoices and receivables.
    public var postedMinor: Int64
    /// Order balance (Auftragssaldo): open orders.
    public var orderMinor: Int64
    /// When the stored balance was computed (nil for one just computed and not read back).
    public var recalculatedAt: String?

    public init(partnerCode: String, currency: String, postedMinor: Int64, orderMinor: Int64, recalculatedAt: String? = nil) {
        self.partnerCode = partnerCode
        self.currency = currency
        self.postedMinor = postedMinor
        self.orderMinor = orderMinor
        self.recalculatedAt = recalculatedAt
    }
}

/// The balance recalculation: recomputes balances from documents. The move does not touch
/// balances; this function does, for all customers.
public enum Balances {
    /// The balances as stored by the last recalculation (all customers, or one).
    public static func stored(_ db: Database, partnerCode: String? = nil) throws -> [CustomerBalance] {
        try Row.fetchAll(db, sql: """
            SELECT partner_code, currency, posted_minor, order_minor, recalculated_at FROM customer_balance
            WHERE ?1 IS NULL OR partner_code = ?1 ORDER BY partner_code
            """, arguments: [partnerCode]).map {
            CustomerBalance(partnerCode: $0[0], currency: $0[1], postedMinor: $0[2], orderMinor: $0[3], recalculatedAt: $0[4])
        }
    }

    /// Recomputes every customer's balances from its open documents in the customer's
    /// currency. Summed with checked arithmetic: a sum beyond Int64's range (only possible
    /// with documents written before amounts were bounded) throws `BalanceOverflow` naming
    /// the customer and changes nothing, instead of wrapping or failing in SQL.
    @discardableResult
    public static func recalculate(_ db: Database) throws -> [CustomerBalance] {
        var out: [CustomerBalance] = []
        let rows = try Row.fetchCursor(db, sql: """
            SELECT p.code, p.currency, d.kind, d.amount_minor
            FROM partner p LEFT JOIN document d
              ON d.partner_code = p.code AND d.status = 'open' AND d.currency = p.currency
              AND d.kind IN ('invoice', 'receivable', 'order')
            ORDER BY p.code
            """)
        while let r = try rows.next() {
            let code: String = r[0]
            if out.last?.partnerCode != code {
                out.append(CustomerBalance(partnerCode: code, currency: r[1], postedMinor: 0, orderMinor: 0))
            }
            guard let kind: String = r[2], let amount: Int64 = r[3] else { continue }
            let i = out.count - 1
            if kind == "order" {
                let (sum, overflow) = out[i].orderMinor.addingReportingOverflow(amount)
                if overflow { throw BalanceOverflow(partnerCode: code, balance: "order") }
                out[i].orderMinor = sum
            } else {
                let (sum, overflow) = out[i].postedMinor.addingReportingOverflow(amount)
                if overflow { throw BalanceOverflow(partnerCode: code, balance: "posted") }
                out[i].postedMinor = sum
            }
        }
        let now = AuditRecord.now()
        try db.execute(sql: "DELETE FROM customer_balance")
        let insert = try db.cachedStatement(sql: "INSERT INTO customer_balance (partner_code, currency, posted_minor, order_minor, recalculated_at) VALUES (?, ?, ?, ?, ?)")
        for b in out {
            try insert.execute(arguments: [b.partnerCode, b.currency, b.postedMinor, b.orderMinor, now])
        }
        return out
    }
}

/// A customer's balance beyond the range of a 64-bit amount: the recalculation stops and
/// stores nothing.
public struct BalanceOverflow: Error, Sendable, CustomStringConvertible {
    public var partnerCode: String
    public var balance: String
    public var description: String {
        "the \(balance) balance of customer \(partnerCode) exceeds the range of an amount; its documents need correcting"
    }
}
