import Foundation

/// How a partner code change is carried into a change that mentions the partner.
/// Used by the node (pending journal entries) and the hub (codes mapped for a node).
public enum PartnerRename {
    /// The fields that hold a partner code, by entity.
    public static func codeFields(of entity: Entity) -> [String] {
        switch entity {
        case .partner: return ["code"]
        case .address, .document: return ["partner_code"]
        case .move: return ["current_code", "new_code"]
        }
    }

    /// The change with each partner code mapped once through `renames` (the first matching
    /// rename wins; a code produced by a rename is not renamed again).
    public static func rewrite(_ change: Change, renames: [(old: String, new: String)]) -> (key: String, fields: Fields) {
        guard !renames.isEmpty else { return (change.key, change.fields) }
        var out = change
        var done = Set<String>()
        for f in codeFields(of: change.entity) {
            guard let code = change.fields[f]?.text, !done.contains(code), let r = renames.first(where: { $0.old == code }) else { continue }
            (out.key, out.fields) = rewrite(out, old: r.old, new: r.new)
            done.insert(code)
        }
        if change.entity == .partner, !done.contains(change.key), let r = renames.first(where: { $0.old == change.key }) {
            (out.key, out.fields) = rewrite(out, old: r.old, new: r.new)
        }
        return (out.key, out.fields)
    }

    /// The change's key and fields with partner code `old` replaced by `new`.
    public static func rewrite(_ change: Change, old: String, new: String) -> (key: String, fields: Fields) {
        var fields = change.fields
        for f in codeFields(of: change.entity) where fields[f]?.text == old { fields[f] = .text(new) }
        var key = change.key
        switch change.entity {
        case .partner:
            if key == old { key = new }
        case .address:
            var parts = key.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            if parts.count == 3, parts[0] == old { parts[0] = new; key = parts.joined(separator: "|") }
        case .document, .move:
            break
        }
        return (key, fields)
    }
}
