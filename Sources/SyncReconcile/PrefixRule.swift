import Foundation

/// Seed 004: a partner created offline whose code already exists in the system when the node
/// reconnects gets the POS station's series as a prefix. The partner that reached the hub
/// first keeps the code. This is the only implementation of the rule.
public struct PrefixRule: Sendable, Hashable {
    /// Between series and code: "K1" + "-" + "1001" = "K1-1001". May be empty.
    public var separator: String

    public init(separator: String = "-") { self.separator = separator }

    /// The code to store for `code` coming from a node with `series`: `code` itself when free,
    /// else `SERIES<sep>CODE`, then `SERIES<sep>CODE-2`, `-3`, ... until `isTaken` says free.
    public func resolve(code: String, series: String, isTaken: (String) throws -> Bool) rethrows -> String {
        guard try isTaken(code) else { return code }
        let prefixed = series + separator + code
        if try !isTaken(prefixed) { return prefixed }
        var n = 2
        while try isTaken("\(prefixed)-\(n)") { n += 1 }
        return "\(prefixed)-\(n)"
    }
}
