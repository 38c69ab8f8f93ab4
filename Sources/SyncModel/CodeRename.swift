import Foundation

/// A code the hub gave a record by the store-prefix rule (a partner, an institution).
public struct CodeRenaming: Sendable, Hashable {
    public var entity: Entity
    public var old: String
    public var new: String

    public init(_ entity: Entity, old: String, new: String) {
        self.entity = entity; self.old = old; self.new = new
    }
}

/// How a code change of a record whose code the store-prefix rule may change (partners and
/// institutions) is carried into a change that mentions it: the
/// columns holding such a code (for partners `RecordKind.partnerColumns`; for other kinds the
/// record's own key and the columns that reference it, `RecordKind.references`), and the key
/// parts that are such columns. Used by the node (pending journal entries, local rows) and the
/// hub (codes mapped for a node).
public enum CodeRename {
    /// The columns of `kind` that hold a code of `entity`.
    public static func columns(of kind: RecordKind, holding entity: Entity) -> [String] {
        if entity == .partner { return kind.partnerColumns }
        return (kind.entity == entity ? kind.key : []) + kind.references.filter { $0.value == entity }.keys.sorted()
    }

    /// The change with each code mapped once through `renames` (the first matching rename of
    /// its entity wins; a code produced by a rename is not renamed again).
    public static func rewrite(_ change: Change, renames: [CodeRenaming], kinds: RecordKinds = .standard) -> (key: String, fields: Fields) {
        guard !renames.isEmpty, let kind = kinds.kind(change.entity) else { return (change.key, change.fields) }
        var out = change
        for entity in Set(renames.map(\.entity)).sorted(by: { $0.code < $1.code }) {
            let columns = Self.columns(of: kind, holding: entity)
            guard !columns.isEmpty else { continue }
            var done = Set<String>()
            for f in columns {
                guard let code = change.fields[f]?.text, !done.contains(code),
                      let r = renames.first(where: { $0.entity == entity && $0.old == code }) else { continue }
                (out.key, out.fields) = rewrite(out, old: r.old, new: r.new, kind: kind, columns: columns)
                done.insert(code)
            }
            // Key parts that are codes, for changes that do not carry the key columns (an edit).
            let keyParts = keyParts(change.key, count: kind.key.count)
            for i in kind.key.indices where columns.contains(kind.key[i]) && i < keyParts.count && !done.contains(keyParts[i]) {
                guard let r = renames.first(where: { $0.entity == entity && $0.old == keyParts[i] }) else { continue }
                (out.key, out.fields) = rewrite(out, old: r.old, new: r.new, kind: kind, columns: columns)
                done.insert(keyParts[i])
            }
        }
        return (out.key, out.fields)
    }

    /// The change's key and fields with code `old` of `entity` replaced by `new`.
    public static func rewrite(_ change: Change, _ entity: Entity, old: String, new: String, kinds: RecordKinds = .standard) -> (key: String, fields: Fields) {
        guard let kind = kinds.kind(change.entity) else { return (change.key, change.fields) }
        return rewrite(change, old: old, new: new, kind: kind, columns: columns(of: kind, holding: entity))
    }

    static func rewrite(_ change: Change, old: String, new: String, kind: RecordKind, columns: [String]) -> (key: String, fields: Fields) {
        var fields = change.fields
        for f in columns where fields[f]?.text == old { fields[f] = .text(new) }
        var key = change.key
        let positions = kind.key.indices.filter { columns.contains(kind.key[$0]) }
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
