import Foundation
import SyncModel

/// The store-prefix rule (docs/rules.md): a partner created offline whose code already exists
/// in the system when the node reconnects gets the POS station's series as a prefix. The
/// partner that reached the hub first keeps the code. This is the only implementation of the rule.
public struct PrefixRule: Sendable, Hashable {
    /// Between series and code: "K1" + "-" + "1001" = "K1-1001". May be empty.
    public var separator: String

    /// The longest separator: with a series of at most 32 characters and an entered code of at
    /// most 40, every code the rule gives stays within `PartnerCode.maxStoredLength`.
    public static let maxSeparatorLength = 3

    public init(separator: String = "-") { self.separator = separator }

    /// Throws when the separator could make a code no command accepts (too long, '|',
    /// whitespace or invisible characters, or a change under the codes' normal form).
    public func validate() throws {
        if separator.count > Self.maxSeparatorLength {
            throw FieldError(field: "prefix-separator", reason: "'\(separator)' is longer than \(Self.maxSeparatorLength) characters")
        }
        if let bad = PartnerCode.forbiddenCharacter(in: separator) {
            throw FieldError(field: "prefix-separator", reason: "must not contain \(bad)")
        }
        if !PartnerCode.isNormalized(separator) {
            throw FieldError(field: "prefix-separator", reason: "'\(separator)' is not in the codes' normal form (upper case, NFC)")
        }
    }

    /// The code to store for `code` coming from a node with `series`: `code` itself when free,
    /// else `SERIES<sep>CODE`, then `SERIES<sep>CODE-2`, `-3`, ... until `isTaken` says free.
    public func resolve(code: String, series: String, isTaken: (String) throws -> Bool) rethrows -> String {
        guard try isTaken(code) else { return code }
        let prefixed = prefixed(code, series: series)
        if try !isTaken(prefixed) { return prefixed }
        var n = 2
        while try isTaken("\(prefixed)-\(n)") { n += 1 }
        return "\(prefixed)-\(n)"
    }

    /// `SERIES<sep>CODE`, in the codes' normal form (a series is ASCII letters and digits).
    public func prefixed(_ code: String, series: String) -> String {
        PartnerCode.normalized(series) + separator + code
    }

    /// Why `original` was stored as `stored`, for the audit line and the push verdict.
    public func explanation(original: String, stored: String, series: String) -> String {
        let first = prefixed(original, series: series)
        if stored == first { return "code \(original) existed; stored as \(stored)" }
        return "code \(original) existed; stored as \(stored): \(first) was taken as well"
    }
}
