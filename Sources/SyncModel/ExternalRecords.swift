import Foundation

/// Records of the back-office customer transfer (docs/backoffice.md): which external system a
/// transferred customer came from, and which store collected a picked-up order.
extension Entity {
    public static let externalRef = Entity("external_ref", code: 12)
    public static let orderPickup = Entity("order_pickup", code: 13)
}

extension RecordKind {
    /// A customer transferred from an external system (a booking back office): the system,
    /// its customer and address ids, and the debtor number it keeps for the customer. Written
    /// by the hub when it creates the customer; it follows the customer's code.
    public static let externalRef = RecordKind(
        entity: .externalRef, table: "external_ref",
        columns: [Column("partner_code", .text(max: PartnerCode.maxStoredLength), required: true),
                  Column("system", .text(max: 64), required: true), Column("external_customer_id", .text(max: 64), required: true),
                  Column("external_address_id", .text(max: 64), required: true), Column("debtor_number", .text(max: 64))],
        key: ["partner_code"], writers: .hub, removal: .delete, parent: "partner_code", partnerColumns: ["partner_code"],
        personal: PersonalData(subject: "partner_code",
                               categories: ["external_customer_id": "identifiers", "external_address_id": "identifiers", "debtor_number": "identifiers"],
                               record: "identifiers", onErasure: .remove))

    /// A picked-up order put on a receipt at a store (`posnode receipt add --order`): the
    /// order, the receipt and the store. A store refuses to put an order on a second receipt.
    public static let orderPickup = RecordKind(
        entity: .orderPickup, table: "order_pickup",
        columns: [Column("order_id", .text(max: 64), required: true), Column("receipt_id", .text(max: 64), required: true),
                  Column("node", .text(max: 32), required: true), Column("at", .text(max: 40), required: true)],
        key: ["order_id"], writers: .stores, removal: .never, scope: .chain, owner: "node")
}

/// The one rule for an external system's ids (customer, address) and document numbers,
/// applied wherever one is taken or looked up (the transfer, the mapping's lookup, the
/// delivery notes): white space around it dropped, Unicode NFC (a composed and a decomposed
/// `é` are one id), at most 64 UTF-8 bytes; control and invisible characters (zero-width,
/// non-breaking space, direction overrides, NUL, line breaks) are refused, so two ids that
/// look the same are the same id.
public enum ExternalID {
    public static let maxBytes = 64

    public static func normalized(_ text: String, field: String) throws -> String {
        let id = text.trimmingCharacters(in: .whitespaces).precomposedStringWithCanonicalMapping
        guard !id.isEmpty else { throw FieldError(field: field, reason: "is missing") }
        for scalar in id.unicodeScalars {
            if scalar == " " { continue }
            if let bad = PartnerCode.forbiddenCharacter(in: String(scalar)) {
                throw FieldError(field: field, reason: "must not contain \(bad)")
            }
        }
        guard id.utf8.count <= maxBytes else { throw FieldError(field: field, reason: "is longer than \(maxBytes) bytes (UTF-8)") }
        return id
    }
}
