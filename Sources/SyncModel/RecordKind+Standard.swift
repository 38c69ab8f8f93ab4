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
        personal: PersonalData(subject: "code", categories: Erasure.partnerCategories, onErasure: .byRule, onMove: .byRule),
        onClash: .storePrefix,
        tableSource: .historical,
        validate: { row in try PartnerValidator.validate(try Partner(columnValues: row.values)) })

    public static let address = RecordKind(
        entity: .address, table: "address",
        columns: Address.columns.map { Column($0, ColumnRules.address[$0]!, required: ["partner_code", "site", "seq"].contains($0)) },
        key: ["partner_code", "site", "seq"], writers: .stores, removal: .delete, parent: "partner_code",
        partnerColumns: ["partner_code"], references: ["institution": .institution],
        personal: PersonalData(subject: "partner_code", categories: Dictionary(uniqueKeysWithValues: Erasure.addressColumns.map { ($0, "addresses") }),
                               record: "addresses", onErasure: .scrub(Erasure.addressFields), onMove: .byRule),
        tableSource: .historical,
        validate: { row in _ = try Address(fields: row.fields) })

    public static let document = RecordKind(
        entity: .document, table: "document",
        columns: Document.columns.map { Column($0, ColumnRules.document[$0]!,
                                               required: !(["customer_category", "institution", "price_version", "lines"] + Document.invoicingColumns).contains($0)) },
        key: ["id"], writers: .stores, removal: .never, parent: "partner_code", partnerColumns: ["partner_code"], owner: "node",
        references: ["customer_category": .customerCategory, "institution": .institution],
        // A document is written once; afterwards only its invoicing fields change.
        editable: Set(Document.invoicingColumns),
        personal: PersonalData(subject: "partner_code", record: "documents", onErasure: .keep, onMove: .byRule),
        tableSource: .historical,
        validate: { row in _ = try Document(columnValues: row.values) })

    /// A move request names the customer's current and new code; the hub carries it out.
    public static let move = RecordKind(
        entity: .move, table: nil,
        columns: ["current_code", "current_seq", "new_code", "new_seq", "from_site", "site"].map { Column($0, ColumnRules.move[$0]!) },
        key: [], writers: .stores, removal: .never, partnerColumns: ["current_code", "new_code"])

    /// A node's center parameters (`posnode init`, `posnode config set`), journaled like any
    /// change so the hub (and the stores of the node's region) hold every node's values. Only
    /// the node itself writes its row; a node without a row has the defaults.
    public static let nodeParameters = RecordKind(
        entity: .nodeParameters, table: "node_parameters",
        columns: [Column("node", .text(max: 32), required: true), Column("lowest_price_business", .bool, required: true),
                  Column("lowest_price_consumer", .bool, required: true), Column("default_country", .text(max: 2))],
        key: ["node"], writers: .stores, removal: .never, owner: "node",
        validate: { row in
            try CenterParameters(lowestPriceForNewBusiness: row["lowest_price_business"].bool ?? false,
                                 lowestPriceForNewConsumer: row["lowest_price_consumer"].bool ?? false,
                                 defaultCountry: row["default_country"].text).validate()
        })
}

extension CenterParameters {
    /// The parameters as a `node_parameters` row of `node`.
    public func fields(node: String) -> Fields {
        ["node": .text(node), "lowest_price_business": .bool(lowestPriceForNewBusiness),
         "lowest_price_consumer": .bool(lowestPriceForNewConsumer), "default_country": defaultCountry.map(FieldValue.text) ?? .null]
    }
}
