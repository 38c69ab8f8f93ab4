import Foundation

/// What an erasure (GDPR Art. 17) replaces, one place for hub, node and simulator:
/// docs/privacy.md, "Erasure".
public enum Erasure {
    /// The text a mandatory name field holds after the erasure.
    public static let placeholder = "[erased]"

    /// A consumer's personal fields: the names and every identifier and contact of the person.
    public static let consumerColumns = ["salutation", "first_name", "last_name", "name", "birth_date", "vat_id", "issued_by",
                                         "phone", "email", "attributes", "consents", "national_id", "id_document", "trade_register",
                                         "corporate_customer"]
    /// A business customer's personal fields: its contact data; the company's name, VAT ID and
    /// register entry are not personal data and stay (the invoices name them).
    public static let businessColumns = ["salutation", "first_name", "last_name", "birth_date", "issued_by", "phone", "email",
                                         "attributes", "consents", "national_id", "id_document"]
    /// The category (`PrivacyPolicy`'s) of each of a partner's personal columns.
    public static let partnerCategories: [String: String] = [
        "salutation": "identity", "first_name": "identity", "last_name": "identity", "name": "identity", "birth_date": "identity",
        "national_id": "identifiers", "vat_id": "identifiers", "id_document": "identifiers", "trade_register": "identifiers",
        "issued_by": "identifiers", "corporate_customer": "identifiers",
        "phone": "contact", "email": "contact", "consents": "consents", "attributes": "attributes", "category": "memberships",
    ]

    /// An address's personal fields (the row stays, so documents still name its sequence).
    public static let addressColumns = ["label", "street", "city", "postal_code"]

    /// The fields that erase a partner of `kind`: the mandatory names get the placeholder,
    /// every other personal field is emptied.
    public static func partnerFields(kind: PartnerKind) -> Fields {
        var fields: Fields = [:]
        for column in kind == .consumer ? consumerColumns : businessColumns { fields[column] = .null }
        if kind == .consumer {
            fields["first_name"] = .text(placeholder)
            fields["last_name"] = .text(placeholder)
        }
        return fields
    }

    public static var addressFields: Fields {
        Dictionary(uniqueKeysWithValues: addressColumns.map { ($0, FieldValue.null) })
    }

    /// Whether a change of a record of `recordKind` about an erased partner (a partner of
    /// `kind`) would bring personal data back: a partner change with a personal field that is
    /// not the erased value, or what the kind's declaration says (`PersonalData.restores`: a
    /// new or changed address or membership, a personal column of any declared kind).
    public static func restores(_ recordKind: RecordKind, op: ChangeOp, fields: Fields, kind: PartnerKind) -> Bool {
        guard let personal = recordKind.personal else { return false }
        guard recordKind.entity == .partner else { return personal.restores(op: op, fields: fields) }
        guard op != .delete else { return false }
        return (kind == .consumer ? consumerColumns : businessColumns).contains { column in
            guard let value = fields[column], !value.isNull else { return false }
            return value != .text(placeholder)
        }
    }

    /// The text values of `fields`' personal columns: what a scrub looks for in older copies
    /// (journal entries, audit lines) of an erased record.
    public static func personalValues(_ fields: Fields) -> [String] {
        (consumerColumns + addressColumns).compactMap { fields[$0]?.text }.filter { !$0.isEmpty && $0 != placeholder }
    }
}

extension Entity {
    public static let erasure = Entity("erasure", code: 11)
}

extension RecordKind {
    /// The mark of an erased partner, written by the hub and received by every store: the code
    /// and the case, no personal data. A store that receives it scrubs its older copies of the
    /// partner's data (journal, audit) and refuses edits that would bring them back.
    public static let erasure = RecordKind(
        entity: .erasure, table: "erasure",
        columns: [Column("partner_code", .text(max: PartnerCode.maxStoredLength), required: true),
                  Column("case_id", .text(max: 40), required: true), Column("at", .text(max: 40), required: true)],
        key: ["partner_code"], writers: .hub, removal: .never, scope: .chain)
}
