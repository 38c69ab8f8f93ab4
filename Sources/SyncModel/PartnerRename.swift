import Foundation

/// How a partner code change is carried into a change that mentions the partner: the columns
/// a kind declares as holding partner codes (`RecordKind.partnerColumns`), and the key parts
/// that are such columns. Used by the node (pending journal entries) and the hub (codes mapped
/// for a node).
public enum PartnerRename {
    /// The fields that hold a partner code.
    public static func codeFields(of entity: Entity, kinds: RecordKinds = .standard) -> [String] {
        kinds.kind(entity)?.partnerColumns ?? []
    }

    /// The change with each partner code mapped once through `renames` (the first matching
    /// rename wins; a code produced by a rename is not renamed again).
    public static func rewrite(_ change: Change, renames: [(old: String, new: String)], kinds: RecordKinds = .standard) -> (key: String, fields: Fields) {
        guard !renames.isEmpty, let kind = kinds.kind(change.entity) else { return (change.key, change.fields) }
        var out = change
        var done = Set<String>()
        for f in kind.partnerColumns {
            guard let code = change.fields[f]?.text, !done.contains(code), let r = renames.first(where: { $0.old == code }) else { continue }
            (out.key, out.fields) = rewrite(out, old: r.old, new: r.new, kind: kind)
            done.insert(code)
        }
        // Key parts that are codes, for changes that do not carry the key columns (an edit).
        let parts = kind.keyPartnerParts
        if !parts.isEmpty {
            let keyParts = keyParts(change.key, count: kind.key.count)
            for i in parts where i < keyParts.count && !done.contains(keyParts[i]) {
                guard let r = renames.first(where: { $0.old == keyParts[i] }) else { continue }
                (out.key, out.fields) = rewrite(out, old: r.old, new: r.new, kind: kind)
                done.insert(keyParts[i])
            }
        }
        return (out.key, out.fields)
    }

    /// The change's key and fields with partner code `old` replaced by `new`.
    public static func rewrite(_ change: Change, old: String, new: String, kinds: RecordKinds = .standard) -> (key: String, fields: Fields) {
        guard let kind = kinds.kind(change.entity) else { return (change.key, change.fields) }
        return rewrite(change, old: old, new: new, kind: kind)
    }

    static func rewrite(_ change: Change, old: String, new: String, kind: RecordKind) -> (key: String, fields: Fields) {
        var fields = change.fields
        for f in kind.partnerColumns where fields[f]?.text == old { fields[f] = .text(new) }
        var key = change.key
        let positions = kind.keyPartnerParts
        if !positions.isEmpty {
            var parts = keyParts(key, count: kind.key.count)
            if parts.count == kind.key.count {
                for i in positions where parts[i] == old { parts[i] = new }
                key = parts.joined(separator: "|")
            }
        }
        return (key, fields)
    }

    /// A key's parts (a one-column key is the whole key, `|` included).
    static func keyParts(_ key: String, count: Int) -> [String] {
        count == 1 ? [key] : key.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
    }
}
