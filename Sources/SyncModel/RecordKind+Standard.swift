import Foundation

/// The standard record kinds. Their tables come from the store's first migrations
/// (`tableSource: .historical`); the declarations describe them (a test compares both).
extension RecordKind {
    public static let partner = RecordKind(
        entity: .partner, table: "partner",
        columns: Partner.columns.map { Column($0, ColumnRules.partner[$0]!, required: ["code", "kind", "currency", "reverse_charge", "lowest_price", "deleted"].contains($0)) },
        key: ["code"], writers: .stores, removal: .tombstone(flag: "deleted"), partnerColumns: ["code"],
        references: ["category": .customerCategory],
        editable: Partner.editableColumns.union(["deleted"]), validatedColumns: PartnerValidator.checkedColumns,
        tableSource: .historical,
        validate: { row in try PartnerValidator.validate(try Partner(columnValues: row.values)) })

    public static let address = RecordKind(
        entity: .address, table: "address",
        columns: Address.columns.map { Column($0, ColumnRules.address[$0]!, required: ["partner_code", "site", "seq"].contains($0)) },
        key: ["partner_code", "site", "seq"], writers: .stores, removal: .delete, parent: "partner_code",
        partnerColumns: ["partner_code"], references: ["institution": .institution], tableSource: .historical,
        validate: { row in _ = try Address(fields: row.fields) })

    public static let document = RecordKind(
        entity: .document, table: "document",
        columns: Document.columns.map { Column($0, ColumnRules.document[$0]!, required: !["customer_category", "institution", "price_version", "lines"].contains($0)) },
        key: ["id"], writers: .stores, removal: .never, parent: "partner_code", partnerColumns: ["partner_code"], owner: "node",
        references: ["customer_category": .customerCategory, "institution": .institution],
        tableSource: .historical,
        validate: { row in _ = try Document(columnValues: row.values) })

    /// A move request names the customer's current and new code; the hub carries it out.
    public static let move = RecordKind(
        entity: .move, table: nil,
        columns: ["current_code", "current_seq", "new_code", "new_seq", "from_site", "site"].map { Column($0, ColumnRules.move[$0]!) },
        key: [], writers: .stores, removal: .never, partnerColumns: ["current_code", "new_code"])
}
