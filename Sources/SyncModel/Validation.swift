import Foundation

/// A refused input, naming the field the cashier has to correct.
public struct FieldError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of refusal it is, for callers that answer by kind (the local API's status).
    public enum Code: Sendable, Hashable {
        /// The value itself is wrong (missing, malformed, too long, of the wrong type).
        case invalid
        /// The value is right but another record has it already (a partner code).
        case conflict
        /// The record the value names does not exist (an unknown category or institution code).
        case notFound
        /// The value is longer than the field allows (answered as `invalid`, coded `field-too-long`).
        case tooLong
    }

    /// The field name as used on the command line and in the API (`code`, `first_name`, `vat_id`, ...).
    public var field: String
    public var reason: String
    /// A warning the user may override (duplicate VAT ID with `--allow-duplicate-vat`).
    public var overridable: Bool
    public var code: Code

    public init(field: String, reason: String, overridable: Bool = false, code: Code = .invalid) {
        self.field = field
        self.reason = reason
        self.overridable = overridable
        self.code = code
    }

    /// The field as the cashier's form names it ("last name", "VAT ID").
    public var label: String { FieldError.label(field) }

    /// The reason with the override hint of a warning, without the field.
    public var message: String {
        reason + (overridable ? " (confirm with --allow-duplicate-vat to save anyway)" : "")
    }

    public var description: String { "\(label): \(message)" }

    /// The message with the form's label and the column name, for logs and push verdicts
    /// that scripts read: `VAT ID (vat_id): ...`.
    public var qualified: String { label == field ? description : "\(label) (\(field)): \(message)" }

    /// Form labels of the partner, address and document fields; other names read with spaces.
    public static func label(_ field: String) -> String {
        switch field {
        case "first_name": return "first name"
        case "last_name": return "last name"
        case "birth_date": return "birth date"
        case "vat_id": return "VAT ID"
        case "issued_by": return "issued by"
        case "national_id": return "national ID"
        case "trade_register": return "trade register number"
        case "id_document": return "ID document"
        case "corporate_customer": return "corporate customer"
        case "reverse_charge": return "reverse charge"
        case "lowest_price": return "lowest price"
        case "country": return "country code"
        case "postal_code": return "postal code"
        case "partner", "partner_code": return "customer"
        case "seq": return "address number (seq)"
        default: return field.replacingOccurrences(of: "_", with: " ")
        }
    }
}

/// Every problem of one record, reported at once: the CLI prints one line each, the APIs
/// answer them as a list of `{field, message}`.
public struct InvalidFields: Error, Sendable, Hashable, CustomStringConvertible {
    public var problems: [FieldError]

    public init(_ problems: [FieldError]) { self.problems = problems }

    public var description: String { problems.map(\.description).joined(separator: "\n") }
    /// One line, for logs and push verdicts.
    public var oneLine: String { problems.map(\.qualified).joined(separator: "; ") }
}

/// The partner rules that need no database (docs/rules.md). Uniqueness checks (code, NIP)
/// live in the store, which calls this first.
public enum PartnerValidator {
    /// All problems of `partner`, in field order; empty when it may be saved. `newCode`: the
    /// code was entered by a user creating the partner (at most `PartnerCode.maxEnteredLength`);
    /// otherwise it is a stored code, which the store-prefix rule may have made longer.
    public static func problems(_ partner: Partner, newCode: Bool = false) -> [FieldError] {
        var errors: [FieldError] = []
        // Byte-level checks where ASCII decides: these run for every write and every pushed entry.
        func blank(_ s: String?) -> Bool { s.map(isBlank) ?? true }
        func upperASCII(_ s: String, count: Int) -> Bool {
            s.utf8.count == count && s.utf8.allSatisfy { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }
        }
        if let problem = PartnerCode.problem(partner.code, entered: newCode) { errors.append(problem) }
        switch partner.kind {
        case .consumer:
            if blank(partner.firstName) { errors.append(.init(field: "first_name", reason: "is mandatory for a consumer")) }
            if blank(partner.lastName) { errors.append(.init(field: "last_name", reason: "is mandatory for a consumer")) }
        case .business:
            if blank(partner.name) { errors.append(.init(field: "name", reason: "is mandatory for a business customer")) }
        }
        if let country = partner.country, !upperASCII(country, count: 2) {
            errors.append(.init(field: "country", reason: "'\(country)' is not a two-letter country code such as PL"))
        }
        if !upperASCII(partner.currency, count: 3) {
            errors.append(.init(field: "currency", reason: "'\(partner.currency)' is not a three-letter currency code such as PLN"))
        }
        if let birth = partner.birthDate, !isISODate(birth) {
            errors.append(.init(field: "birth_date", reason: "'\(birth)' is not a date like 1984-05-14"))
        }
        let at = UInt8(ascii: "@")
        if let email = partner.email, !blank(email), !(email.utf8.contains(at) && email.utf8.first != at && email.utf8.last != at) {
            errors.append(.init(field: "email", reason: "'\(email)' is not an e-mail address"))
        }
        if partner.country == "PL" {
            if let vat = partner.vatID, !blank(vat), !isValidNIP(vat) {
                errors.append(.init(field: "vat_id", reason: "'\(vat)' is not a valid Polish NIP (10 digits with a correct check digit)"))
            }
            if let pesel = partner.nationalID, !blank(pesel) {
                let digits = normalizedNationalID(pesel)
                if digits.count != 11 || !digits.allSatisfy({ $0.isASCII && $0.isNumber }) {
                    errors.append(.init(field: "national_id", reason: "a PESEL has 11 digits, '\(pesel)' has \(digits.filter(\.isNumber).count)"))
                } else if !isValidPESEL(digits) {
                    errors.append(.init(field: "national_id", reason: "'\(pesel)' has a wrong PESEL check digit"))
                }
            }
        }
        return errors
    }

    /// The partner columns `problems` reads (`Partner.columns` names): an edit of none of
    /// them cannot make a valid partner invalid, so the hub merges it without reading and
    /// validating the whole row. A test changes every other column to arbitrary text and
    /// checks that `problems` does not change, so this list cannot fall behind the rules.
    public static let checkedColumns: Set<String> = [
        "code", "kind", "first_name", "last_name", "name", "country", "currency", "birth_date", "email", "vat_id", "national_id",
    ]

    /// Blank means only spaces (Unicode category Zs) and tabs, as `CharacterSet.whitespaces`;
    /// stops at the first other character (the first, for any name).
    static func isBlank(_ s: String) -> Bool {
        s.unicodeScalars.allSatisfy { $0 == "\t" || $0.properties.generalCategory == .spaceSeparator }
    }

    /// Throws every problem of `partner` at once (`InvalidFields`). `sizes`: with the columns'
    /// size limits (`ColumnRules`), for a field the rules above have not already refused.
    public static func validate(_ partner: Partner, newCode: Bool = false, sizes: Bool = false) throws {
        var found = problems(partner, newCode: newCode)
        if sizes {
            let named = Set(found.map(\.field))
            found += RecordKind.partner.problems(row: partner.columnValues).filter { !named.contains($0.field) }
        }
        if !found.isEmpty { throw InvalidFields(found) }
    }

    /// A national ID as the checks compare it: spaces (any white space), dashes and dots
    /// removed, letters in capitals. The PESEL check and every lookup by national ID use it.
    public static func normalizedNationalID(_ text: String) -> String {
        String(text.uppercased().filter { !$0.isWhitespace && $0 != "-" && $0 != "." })
    }

    /// An e-mail address as lookups compare it: without surrounding white space, in lower case.
    public static func normalizedEmail(_ text: String) -> String {
        text.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }

    /// The NIP's digits with an optional "PL" prefix, dashes and spaces removed: the NIP
    /// check, the duplicate-NIP check and every lookup by VAT ID use it.
    public static func normalizedNIP(_ text: String) -> String {
        var t = text.uppercased()
        if t.hasPrefix("PL") { t.removeFirst(2) }
        return t.filter { $0 != "-" && $0 != " " }
    }

    /// Polish NIP: 10 digits; weights 6,5,7,2,3,4,5,6,7; sum mod 11 is the 10th digit (10 is never valid).
    public static func isValidNIP(_ text: String) -> Bool {
        let digits = normalizedNIP(text)
        guard digits.count == 10, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
        let d = digits.compactMap { $0.wholeNumberValue }
        let weights = [6, 5, 7, 2, 3, 4, 5, 6, 7]
        let sum = zip(d, weights).map(*).reduce(0, +)
        let check = sum % 11
        return check != 10 && check == d[9]
    }

    /// Polish PESEL: 11 digits; weights 1,3,7,9,1,3,7,9,1,3; check digit is (10 - sum mod 10) mod 10.
    public static func isValidPESEL(_ text: String) -> Bool {
        guard text.count == 11, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
        let d = text.compactMap { $0.wholeNumberValue }
        let weights = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3]
        let sum = zip(d, weights).map(*).reduce(0, +)
        return (10 - sum % 10) % 10 == d[10]
    }

    static func isISODate(_ s: String) -> Bool {
        let parts = s.split(separator: "-")
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]) else { return false }
        return y >= 1900 && (1...12).contains(m) && (1...31).contains(d)
    }
}

/// Node, site and series identifiers, as registered at the hub and in a node store.
public enum NodeIdentity {
    /// Throws for the first of node, site, series that is not 1-32 letters, digits, '-' or '_'.
    public static func validate(node: String, site: String, series: String) throws {
        for (field, value) in [("node", node), ("site", site), ("series", series)] {
            let ok = !value.isEmpty && value.count <= 32 && value.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }
            if !ok { throw FieldError(field: field, reason: "'\(value)' must be 1-32 letters, digits, '-' or '_'") }
        }
    }

    /// A replication region: empty (the whole chain is one region) or 1-32 letters, digits, '-' or '_'.
    public static func validate(region: String) throws {
        let ok = region.count <= 32 && region.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }
        if !ok { throw FieldError(field: "region", reason: "'\(region)' must be empty or 1-32 letters, digits, '-' or '_'") }
    }
}
