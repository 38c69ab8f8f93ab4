import Foundation
import GRDB
import SyncModel
import SyncStore

/// A delivery note as a back office fetches it: the note, its lines, the customer's name,
/// institution and address, and the system's own ids when the customer came from it.
public struct DeliveryNoteOut: Sendable, Codable, Hashable {
    enum CodingKeys: String, CodingKey {
        case cursor, id, issuedAt = "issued_at", node, site, currency, amount, lines, customer
    }
    /// The note's place in the system's stream: acknowledge up to it; a note fetched twice
    /// has the same `id` and `cursor` (drop the repeat).
    public var cursor: Int64
    /// The POS document id (`WAW1-L12`), unique in the chain.
    public var id: String
    public var issuedAt: String
    public var node: String
    public var site: String
    public var currency: String
    /// Decimal, as `12.50`.
    public var amount: String
    public var lines: [DocumentLine]
    public var customer: DeliveryNoteCustomer
}

public struct DeliveryNoteCustomer: Sendable, Codable, Hashable {
    enum CodingKeys: String, CodingKey {
        case code, firstName = "first_name", lastName = "last_name", name, institution, street, city, postalCode = "postal_code", country
        case externalCustomerID = "external_customer_id", externalAddressID = "external_address_id", debtorNumber = "debtor_number"
    }
    public var code: String
    public var firstName: String?
    public var lastName: String?
    /// A business customer's name.
    public var name: String?
    /// The institution the note's address is at (its name).
    public var institution: String?
    public var street: String?
    public var city: String?
    public var postalCode: String?
    public var country: String?
    /// The system's own ids, when it transferred the customer.
    public var externalCustomerID: String?
    public var externalAddressID: String?
    public var debtorNumber: String?
}

public struct DeliveryNotePage: Sendable, Codable {
    enum CodingKeys: String, CodingKey { case notes, nextCursor = "next_cursor", more }
    public var notes: [DeliveryNoteOut]
    /// Pass as `after` for the next page; acknowledge it once the notes are stored.
    public var nextCursor: Int64
    public var more: Bool
}

extension HubStore {
    /// The most notes one page holds.
    public static let maxDeliveryNotesPage = 500

    /// The delivery notes `system` has not acknowledged, after `after` (nil: after its
    /// acknowledged cursor), oldest first. Every note the stores wrote is offered to every
    /// registered back office, once each in a stream of its own order; a note is delivered at
    /// least once (until acknowledged) and keeps its cursor and id when fetched again.
    public func deliveryNotes(system: String, after: Int64? = nil, limit: Int = 100) throws -> DeliveryNotePage {
        let limit = min(max(limit, 1), Self.maxDeliveryNotesPage)
        return try pool.write { db in
            guard let acked = try Int64.fetchOne(db, sql: "SELECT delivery_acked FROM hub_system WHERE name = ?", arguments: [system]) else {
                throw HubError.refused("system \(system) is not registered")
            }
            // Notes that reached the hub since the last fetch join the stream, in the hub's order.
            try db.execute(sql: """
                INSERT INTO hub_delivery_note (document_id, offered_at)
                SELECT id, ? FROM document WHERE kind = 'delivery-note' AND id NOT IN (SELECT document_id FROM hub_delivery_note)
                ORDER BY issued_at, id
                """, arguments: [AuditRecord.iso(millis: clock())])
            let from = after ?? acked
            let rows = try Row.fetchAll(db, sql: "SELECT seq, document_id FROM hub_delivery_note WHERE seq > ? ORDER BY seq LIMIT ?",
                                        arguments: [from, limit + 1])
            var notes: [DeliveryNoteOut] = []
            for row in rows.prefix(limit) {
                guard let fields = try ReplicatedTable.document.fetch(db, key: row["document_id"]) else { continue }
                notes.append(try Self.deliveryNote(db, seq: row["seq"], Document(fields: fields), system: system))
            }
            return DeliveryNotePage(notes: notes, nextCursor: rows.prefix(limit).last.map { $0["seq"] } ?? from, more: rows.count > limit)
        }
    }

    /// Records that `system` has stored every note up to `through`; later fetches without
    /// `after` start there. Acknowledging backwards is refused (nothing is offered twice by
    /// mistake); beyond the last note offered too.
    public func acknowledgeDeliveryNotes(system: String, through: Int64) throws -> Int64 {
        try pool.write { db in
            guard let acked = try Int64.fetchOne(db, sql: "SELECT delivery_acked FROM hub_system WHERE name = ?", arguments: [system]) else {
                throw HubError.refused("system \(system) is not registered")
            }
            let last = try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(seq), 0) FROM hub_delivery_note") ?? 0
            guard through >= 0, through <= last else {
                throw HubError.invalid(FieldError(field: "through", reason: "\(through) is not a cursor the hub offered (0 to \(last))"))
            }
            guard through >= acked else { return acked }
            try db.execute(sql: "UPDATE hub_system SET delivery_acked = ? WHERE name = ?", arguments: [through, system])
            return through
        }
    }

    static func deliveryNote(_ db: Database, seq: Int64, _ d: Document, system: String) throws -> DeliveryNoteOut {
        let partner = try ReplicatedTable.partner.fetch(db, key: d.partnerCode)
        // The note's address at its store's site, else the customer's bill-to wherever it is
        // (a transferred customer's address is at the system's site).
        let address = try ReplicatedTable.address.fetch(db, key: Address.key(partnerCode: d.partnerCode, site: d.site, seq: d.addressSeq))
            ?? db.addresses(ofPartner: d.partnerCode).sorted { ($0.seq, $0.site) < ($1.seq, $1.site) }.first?.fields
        let institution = try (d.institution ?? address?["institution"]?.text).flatMap { try db.institution($0)?.name }
        let mapping = try Row.fetchOne(db, sql: "SELECT * FROM hub_external_mapping WHERE system = ? AND code = ? AND erased_at IS NULL",
                                       arguments: [system, d.partnerCode]).map(Self.mapping)
        let customer = DeliveryNoteCustomer(
            code: d.partnerCode, firstName: partner?["first_name"]?.text, lastName: partner?["last_name"]?.text, name: partner?["name"]?.text,
            institution: institution, street: address?["street"]?.text, city: address?["city"]?.text,
            postalCode: address?["postal_code"]?.text, country: address?["country"]?.text ?? partner?["country"]?.text,
            externalCustomerID: mapping?.externalCustomerID, externalAddressID: mapping?.externalAddressID, debtorNumber: mapping?.debtorNumber)
        return DeliveryNoteOut(cursor: seq, id: d.id, issuedAt: d.issuedAt, node: d.node, site: d.site, currency: d.currency,
                               amount: Document.formatAmount(d.amountMinor), lines: d.lines, customer: customer)
    }
}
