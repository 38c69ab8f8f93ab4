import Foundation

/// What a replicated column may hold: its JSON type and its bounds. One table for node, hub
/// and simulator: a store checks every local write against it (`NodeTransaction`), the local
/// API checks request bodies before anything else reads them, and the hub checks every pushed
/// entry (`Reconciler.prepare`), so a value no store may write cannot arrive by a push either.
/// docs/security.md lists the limits.
public enum ColumnSpec: Sendable, Hashable {
    /// Text of at most `max` characters, counted as Unicode code points, without control
    /// characters (a JSON string).
    case text(max: Int)
    /// An integer in `range` (a JSON number without fraction).
    case int(ClosedRange<Int64>)
    /// `true` or `false`.
    case bool

    /// The JSON type's name, for messages.
    var typeName: String {
        switch self {
        case .text: return "text"
        case .int: return "a whole number"
        case .bool: return "true or false"
        }
    }
}

public enum ColumnRules {
    /// The largest amount of one document, in minor units either way: 999,999,999.99. A
    /// customer's balance over documents of this size reaches Int64's range only after more
    /// than 92 million of them (`Balances` refuses such a sum rather than wrap).
    public static let maxAmountMinor: Int64 = 99_999_999_999

    /// The columns of each standard entity (the journal's field names); a declared kind's are
    /// in its declaration (`RecordKind.specs`).
    public static func specs(_ entity: Entity) -> [String: ColumnSpec] {
        RecordKinds.standard.kind(entity)?.specs ?? [:]
    }

    static let partner: [String: ColumnSpec] = [
        "code": .text(max: PartnerCode.maxStoredLength), "kind": .text(max: 16), "salutation": .text(max: 40),
        "first_name": .text(max: 100), "last_name": .text(max: 100), "name": .text(max: 200),
        "birth_date": .text(max: 10), "vat_id": .text(max: 32), "issued_by": .text(max: 100), "phone": .text(max: 40),
        "email": .text(max: 254), "attributes": .text(max: 4000), "consents": .text(max: 4000), "reverse_charge": .bool,
        "country": .text(max: 8), "national_id": .text(max: 32), "trade_register": .text(max: 64),
        "id_document": .text(max: 64), "currency": .text(max: 8), "corporate_customer": .text(max: PartnerCode.maxStoredLength),
        "lowest_price": .bool, "deleted": .bool, "origin_node": .text(max: 32), "category": .text(max: CustomerModule.maxCodeLength),
    ]
    static let address: [String: ColumnSpec] = [
        "partner_code": .text(max: PartnerCode.maxStoredLength), "site": .text(max: 32), "seq": .int(0...1_000_000),
        "label": .text(max: 100), "street": .text(max: 200), "city": .text(max: 100), "postal_code": .text(max: 16),
        "country": .text(max: 8), "institution": .text(max: PartnerCode.maxStoredLength),
    ]
    static let document: [String: ColumnSpec] = [
        "id": .text(max: 120), "kind": .text(max: 16), "partner_code": .text(max: PartnerCode.maxStoredLength),
        "address_seq": .int(0...1_000_000), "site": .text(max: 32), "amount_minor": .int(-maxAmountMinor...maxAmountMinor),
        "currency": .text(max: 8), "status": .text(max: 16), "issued_at": .text(max: 40), "node": .text(max: 32),
        "customer_category": .text(max: CustomerModule.maxCodeLength),
        "institution": .text(max: PartnerCode.maxStoredLength), "price_version": .int(0...Int64(Int32.max)),
        "lines": .text(max: DocumentLine.maxLinesJSON),
        "invoice_status": .text(max: 16), "payment_method": .text(max: 40), "payment_terms": .text(max: 40),
        "installments": .int(1...120), "salesperson": .text(max: 50), "bill_to_seq": .int(0...1_000_000),
        "payment_status": .text(max: 16), "reference_numbers": .text(max: 1_000), "booking": .text(max: 500),
    ]
    static let move: [String: ColumnSpec] = [
        "current_code": .text(max: PartnerCode.maxStoredLength), "current_seq": .int(0...1_000_000),
        "new_code": .text(max: PartnerCode.maxStoredLength), "new_seq": .int(0...1_000_000),
        "from_site": .text(max: 32), "site": .text(max: 32),
    ]

    /// The problem of one value of `column`, or nil. Null is always allowed here (whether a
    /// field is mandatory is the entity's own rule); a column the entity does not have is not
    /// checked here either (the callers refuse or ignore those by their own rules).
    public static func problem(_ entity: Entity, _ column: String, _ value: FieldValue) -> FieldError? {
        guard let spec = specs(entity)[column] else { return nil }
        return problem(spec, column: column, value)
    }

    /// The problem of one value of a column checked by `spec`, or nil (null always passes).
    public static func problem(_ spec: ColumnSpec, column: String, _ value: FieldValue) -> FieldError? {
        switch (spec, value) {
        case (_, .null): return nil
        case (.text(let max), .text(let s)):
            // Control characters (escape, bell, NUL, line breaks) stand in no text field; the
            // usual value is ASCII without them, decided by one pass over its bytes.
            if s.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F || $0 == 0xC2 }),
               let bad = s.unicodeScalars.first(where: { $0.properties.generalCategory == .control }) {
                return FieldError(field: column, reason: bad.value == 0 ? "must not contain a NUL character"
                                                        : String(format: "must not contain the control character U+%04X", bad.value))
            }
            // A limit counts code points, not what is displayed: "Z" with a million combining
            // accents is one character on screen and a million code points in every file.
            // Code points never outnumber UTF-8 bytes: most values are decided by their byte count.
            if s.utf8.count <= max { return nil }
            let count = s.unicodeScalars.count
            return count <= max ? nil : FieldError(field: column, reason: "is \(count) characters (code points) long; at most \(max) are allowed", code: .tooLong)
        case (.int(let range), .int(let i)):
            return range.contains(i) ? nil : FieldError(field: column, reason: "\(i) is out of range (\(range.lowerBound) to \(range.upperBound))")
        case (.bool, .bool): return nil
        // A flag as SQLite stores it.
        case (.bool, .int(let i)) where i == 0 || i == 1: return nil
        default:
            return FieldError(field: column, reason: "must be \(spec.typeName), got \(value.typeName)")
        }
    }

    /// Every problem of `fields` of `entity`, in column-name order.
    public static func problems(_ entity: Entity, _ fields: Fields) -> [FieldError] {
        RecordKinds.standard.kind(entity)?.problems(fields) ?? []
    }

    /// Throws every problem of `fields` at once (`InvalidFields`).
    public static func check(_ entity: Entity, _ fields: Fields) throws {
        let found = problems(entity, fields)
        if !found.isEmpty { throw InvalidFields(found) }
    }
}

extension FieldValue {
    /// The JSON type of the value, for messages.
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "true/false"
        case .int: return "a number"
        case .text: return "text"
        }
    }
}
