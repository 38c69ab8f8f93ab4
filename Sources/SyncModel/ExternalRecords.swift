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
