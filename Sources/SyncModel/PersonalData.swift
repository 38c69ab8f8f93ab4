import Foundation

/// What a record kind declares about the personal data it holds (GDPR Art. 15 and 17): which
/// column names the customer, the category of each personal column, what an erasure does with
/// the record and whether it follows the customer in a multi-site move. The access report, the
/// erasure (hub and stores), the customer move and the refusal of edits that would bring
/// erased data back all read this, so a new kind is covered by its declaration alone.
/// docs/privacy.md lists the standard kinds' declarations.
public struct PersonalData: Sendable {
    /// What an erasure does with a record of the person.
    public enum OnErasure: Sendable, Equatable {
        /// The record stays; these columns get these values (null, or a placeholder where the
        /// column is mandatory).
        case scrub(Fields)
        /// The record is removed (at the hub, and through the feed at every store).
        case remove
        /// The record stays as it is: it names the customer by code only (documents, kept for
        /// the tax retention period).
        case keep
        /// A rule of its own (the partner record: a consumer and a business customer lose
        /// different fields, `Erasure.partnerFields`).
        case byRule
    }

    /// What a multi-site customer move does with the current customer's records.
    public enum OnMove: Sendable, Equatable {
        /// They stay with the current customer.
        case stays
        /// When the move leaves the current customer without addresses (it is deleted), its
        /// records of this kind name the new customer.
        case follows
        /// A rule of the move's own (documents follow their address; memberships are copied).
        case byRule
    }

    /// The column naming the customer (a partner code) whose data the record holds.
    public let subject: String
    /// The category (`PrivacyPolicy`'s) of each column holding personal data.
    public let categories: [String: String]
    /// The category of the record as a whole when the record itself is personal data (a
    /// membership says the person belongs to an institution); nil otherwise.
    public let record: String?
    public let onErasure: OnErasure
    public let onMove: OnMove

    public init(subject: String, categories: [String: String] = [:], record: String? = nil, onErasure: OnErasure, onMove: OnMove = .stays) {
        self.subject = subject
        self.categories = categories
        self.record = record
        self.onErasure = onErasure
        self.onMove = onMove
    }

    /// The categories `fields` holds data of: the record's own, and each personal column with a value.
    public func categoriesHeld(_ fields: Fields) -> Set<String> {
        var held = Set(record.map { [$0] } ?? [])
        for (column, category) in categories {
            if let v = fields[column], !v.isNull, v.text != Erasure.placeholder, v.text?.isEmpty != true { held.insert(category) }
        }
        return held
    }

    /// Whether writing `fields` (a new record or an edit, `op`) would put personal data of an
    /// erased customer back: any new or changed record that is personal data itself, or a
    /// personal column set to another value than the erasure leaves.
    public func restores(op: ChangeOp, fields: Fields) -> Bool {
        guard op != .delete, onErasure != .keep else { return false }
        if record != nil || onErasure == .remove { return op == .insert || !fields.isEmpty }
        let left: Fields
        if case .scrub(let f) = onErasure { left = f } else { left = [:] }
        return categories.keys.contains { column in
            guard let value = fields[column], !value.isNull else { return false }
            return value != (left[column] ?? .null)
        }
    }

    /// The text values of the personal columns of `fields`: what a scrub looks for in older
    /// copies (journal entries, audit lines).
    public func values(_ fields: Fields) -> [String] {
        categories.keys.sorted().compactMap { fields[$0]?.text }.filter { !$0.isEmpty && $0 != Erasure.placeholder }
    }
}

extension PersonalData {
    /// The customer a change of `kind` is about, where the change itself says it (its fields,
    /// or its key when the customer's column is a key column); nil otherwise (an edit that
    /// leaves the customer out: read the stored row).
    public static func subject(of change: Change, kind: RecordKind) -> String? {
        guard let personal = kind.personal else { return nil }
        if let code = change.fields[personal.subject]?.text { return code }
        guard let i = kind.key.firstIndex(of: personal.subject) else { return nil }
        let parts = kind.key.count == 1 ? [change.key] : change.key.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        return i < parts.count ? parts[i] : nil
    }
}

extension RecordKinds {
    /// The stored kinds that hold personal data of a customer, in declaration order.
    public var personal: [RecordKind] { stored.filter { $0.personal != nil } }

    /// The kinds whose codes clash by the store-prefix rule (partners, institutions, ...).
    public var prefixed: [RecordKind] { all.filter { $0.onClash == .storePrefix } }
}
