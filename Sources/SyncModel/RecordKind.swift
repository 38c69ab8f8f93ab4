import Foundation

/// The kind of record a change touches: its name (the journal's, the feed's and the audit's
/// `entity`) and its one-byte code (the batch format's entity byte). Declared by a
/// `RecordKind`; a store knows the kinds of the `RecordKinds` it was opened with.
public struct Entity: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    public let code: UInt8

    public init(_ name: String, code: UInt8) {
        rawValue = name
        self.code = code
    }

    public static let partner = Entity("partner", code: 0)
    public static let address = Entity("address", code: 1)
    public static let document = Entity("document", code: 2)
    /// A multi-site customer move request; carried out by the hub.
    public static let move = Entity("move", code: 3)
    public static let nodeParameters = Entity("node_parameters", code: 10)

    /// A kind of the standard set by its name (nil: not one of them).
    public init?(rawValue: String) {
        guard let e = RecordKinds.standard.entity(named: rawValue) else { return nil }
        self = e
    }

    /// By code first: comparing one byte decides almost every comparison.
    public static func == (a: Entity, b: Entity) -> Bool { a.code == b.code && a.rawValue == b.rawValue }

    /// By code: the hub hashes an entity with every row a push touches.
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    public var description: String { rawValue }
}

/// One replicated record kind, declared once: its table, key and columns, who may write it,
/// how it is removed, where it replicates and how a row is validated. Node and hub build
/// everything generic from it: the tables (and the hub's clock and feed columns), the column
/// checks of every write and push (`ColumnRules`), the batch codec's entity byte, the feed,
/// the state hash, renames of partner codes in its columns, and the reconciler's insert,
/// merge and removal. Rules no declaration can say (the store-prefix rule of partner codes,
/// a document following a customer move) stay in the reconciler, by entity.
///
/// The declaration says what a record is, not how a store engine keeps it: column types are
/// text, whole numbers and flags, the key is a list of columns, so a second engine for the hub
/// can create and serve the same tables.
///
/// A class: the hot paths look a kind up for every change, and a copy of a struct of this
/// many arrays, dictionaries and a closure retains each of them.
public final class RecordKind: Sendable {
    /// Who may write records of the kind.
    public enum Writers: Sendable, Equatable {
        /// Stores (their changes reach the hub in pushes).
        case stores
        /// The hub alone (central master data); a store's change is refused naming the record.
        case hub
        /// Both.
        case storesAndHub
    }

    /// What removing a record does.
    public enum Removal: Sendable, Equatable {
        /// The row is deleted (its clocks go with it).
        case delete
        /// The row stays as a tombstone: the flag column is set.
        case tombstone(flag: String)
        /// Records are never removed; a removal is refused.
        case never
    }

    /// Which stores receive the records.
    public enum Scope: Sendable, Equatable {
        /// The stores of the region of the node whose change created the record (or of its
        /// parent's region); the whole chain when it has no regions.
        case region
        /// Every store of the chain, whatever its region (master data written at the hub).
        case chain
    }

    /// What happens when two stores create a record under the same key while offline.
    public enum OnClash: Sendable, Equatable {
        /// The fields are merged (last writer wins by field): both stores meant one record.
        case merge
        /// The store-prefix rule: the record that reached the hub first keeps its code; the
        /// other gets its store's series in front (`K1-1001`), and the store renames it and
        /// every record naming it. Needs a one-column key, `code`.
        case storePrefix
    }

    /// Who creates the table.
    public enum TableSource: Sendable, Equatable {
        /// The migrations node and hub generate from the declaration.
        case declared
        /// The store's first migrations (`Schema`), which the declaration describes; a test
        /// checks the two agree.
        case historical
    }

    public struct Column: Sendable, Equatable {
        public var name: String
        public var spec: ColumnSpec
        /// The column must hold a value (NOT NULL); flags always do (false when not given).
        public var required: Bool

        public init(_ name: String, _ spec: ColumnSpec, required: Bool = false) {
            self.name = name
            self.spec = spec
            self.required = required
        }
    }

    public let entity: Entity
    /// The table's name; nil for a request that is carried out, not stored (a move).
    public let table: String?
    /// The columns in the table's order (rows are read by position).
    public let columns: [Column]
    /// The key columns: a record's key is their values joined by `|`.
    public let key: [String]
    public let writers: Writers
    public let removal: Removal
    public let scope: Scope
    /// A column naming the partner the record belongs to: a new record needs that partner at
    /// the hub, and is in its region.
    public let parent: String?
    /// Columns that hold a partner code: a prefix rename carries into them (and into the key
    /// where a key column is one).
    public let partnerColumns: [String]
    /// A column naming the node that owns the record: only that node may change it.
    public let owner: String?
    /// Columns that name a record of another kind by its key (a partner's category, an
    /// offer's offer category): a write naming a record that does not exist is refused, at the
    /// store (which also refuses an inactive one for a new reference) and at the hub.
    public let references: [String: Entity]
    /// The columns an update may change (nil: every column but the key).
    public let editable: Set<String>?
    /// The columns whose change needs the whole row validated (nil: every change).
    public let validatedColumns: Set<String>?
    /// Whose personal data a record holds, and what data-subject requests do with it (nil: no
    /// personal data). The access report, the erasure, the customer move and the refusal of
    /// edits that would bring erased data back work from this.
    public let personal: PersonalData?
    /// What a code clash after an offline period does.
    public let onClash: OnClash
    /// Checks a whole row (a new record, or a record after an edit); throws a `FieldError`
    /// or `InvalidFields` naming the fields.
    public let validate: @Sendable (RecordRow) throws -> Void
    public let tableSource: TableSource
    /// Each column's position in `columns`.
    public let columnIndex: [String: Int]
    /// Each column's check, by name (`ColumnRules`).
    public let specs: [String: ColumnSpec]
    /// The columns' positions in the order of their names: the order of a journal image's
    /// keys (`FlatJSON.encode(row:of:)`).
    public let nameOrder: [Int]

    public init(entity: Entity, table: String?, columns: [Column], key: [String], writers: Writers,
                removal: Removal = .delete, scope: Scope = .region, parent: String? = nil, partnerColumns: [String] = [],
                owner: String? = nil, references: [String: Entity] = [:], editable: Set<String>? = nil, validatedColumns: Set<String>? = nil,
                personal: PersonalData? = nil, onClash: OnClash = .merge,
                tableSource: TableSource = .declared, validate: @escaping @Sendable (RecordRow) throws -> Void = { _ in }) {
        self.entity = entity
        self.table = table
        self.columns = columns
        self.key = key
        self.writers = writers
        self.removal = removal
        self.scope = scope
        self.parent = parent
        self.partnerColumns = partnerColumns
        self.owner = owner
        self.references = references
        self.editable = editable
        self.validatedColumns = validatedColumns
        self.personal = personal
        self.onClash = onClash
        self.tableSource = tableSource
        self.validate = validate
        columnIndex = Dictionary(uniqueKeysWithValues: columns.enumerated().map { ($1.name, $0) })
        specs = Dictionary(uniqueKeysWithValues: columns.map { ($0.name, $0.spec) })
        nameOrder = columns.indices.sorted { columns[$0].name < columns[$1].name }
    }

    public var columnNames: [String] { columns.map(\.name) }

    /// Whether an update may change `column`.
    public func isEditable(_ column: String) -> Bool {
        guard columnIndex[column] != nil, !key.contains(column) else { return false }
        return editable?.contains(column) ?? true
    }

    /// Why a declaration cannot be used (nil: it can).
    func problem() -> String? {
        guard !columns.isEmpty || table == nil else { return "\(entity): a stored kind needs columns" }
        guard columnIndex.count == columns.count else { return "\(entity): a column is declared twice" }
        for name in key + partnerColumns + references.keys.sorted() + [parent, owner].compactMap({ $0 }) where columnIndex[name] == nil {
            return "\(entity): \(name) is not one of its columns"
        }
        if case .tombstone(let flag) = removal, columnIndex[flag] == nil { return "\(entity): tombstone flag \(flag) is not a column" }
        if let personal {
            for name in [personal.subject] + personal.categories.keys.sorted() where columnIndex[name] == nil {
                return "\(entity): personal-data column \(name) is not one of its columns"
            }
            if case .scrub(let fields) = personal.onErasure, let name = fields.keys.sorted().first(where: { personal.categories[$0] == nil }) {
                return "\(entity): erasure scrubs \(name), which is not declared personal data"
            }
            if personal.onMove == .follows, key.contains(personal.subject) {
                return "\(entity): a record keyed by its customer cannot follow a move by declaration"
            }
        }
        if onClash == .storePrefix, key != ["code"] { return "\(entity): the store-prefix rule needs the one-column key code" }
        guard table == nil || !key.isEmpty else { return "\(entity): a stored kind needs a key" }
        guard columns.count < 63 else { return "\(entity): at most 62 columns (a merge keeps them in a 64-bit mask)" }
        let identifier = #/^[a-z][a-z0-9_]*$/#
        for name in columnNames + [table].compactMap({ $0 }) where (try? identifier.wholeMatch(in: name)) == nil {
            return "\(entity): \(name) is not a lower-case SQL identifier"
        }
        return nil
    }
}

/// A row of a record kind, its values in column order.
public struct RecordRow: Sendable {
    public let kind: RecordKind
    public var values: [FieldValue]

    public init(kind: RecordKind, values: [FieldValue]) {
        self.kind = kind
        self.values = values
    }

    public subscript(column: String) -> FieldValue {
        kind.columnIndex[column].map { values[$0] } ?? .null
    }

    /// The row as fields (every column).
    public var fields: Fields { Fields(uniqueKeysWithValues: zip(kind.columnNames, values)) }
}

/// The record kinds a store replicates: the standard ones (partners, addresses, documents and
/// move requests) and any declared after them. Node and hub of one chain are opened with the
/// same set.
public struct RecordKinds: Sendable, Equatable {
    public let all: [RecordKind]
    /// Kinds by entity code.
    private let byCode: [Int?]
    /// Whether any kind replicates to the whole chain (`RecordKind.Scope.chain`).
    public let hasChainScope: Bool

    public init(_ kinds: [RecordKind]) throws {
        var byCode = [Int?](repeating: nil, count: 256)
        var names = Set<String>(), tables = Set<String>()
        for (i, kind) in kinds.enumerated() {
            if let problem = kind.problem() { throw DeclarationError(problem) }
            guard byCode[Int(kind.entity.code)] == nil else { throw DeclarationError("\(kind.entity): code \(kind.entity.code) is taken") }
            guard names.insert(kind.entity.rawValue).inserted else { throw DeclarationError("\(kind.entity): the name is taken") }
            if let table = kind.table, !tables.insert(table).inserted { throw DeclarationError("\(kind.entity): table \(table) is taken") }
            byCode[Int(kind.entity.code)] = i
        }
        all = kinds
        self.byCode = byCode
        hasChainScope = kinds.contains { $0.scope == .chain }
    }

    /// Partners, addresses, documents and move requests, and the customer module's records
    /// (`CustomerModule`).
    public static let standard = try! RecordKinds([.partner, .address, .document, .move, .customerCategory, .offerCategory,
                                                   .offer, .price, .institution, .membership, .nodeParameters, .erasure,
                                                   .externalRef, .orderPickup])

    /// This set and `kind` after it.
    public func adding(_ kind: RecordKind) throws -> RecordKinds { try RecordKinds(all + [kind]) }

    public func kind(_ entity: Entity) -> RecordKind? {
        byCode[Int(entity.code)].flatMap { all[$0].entity == entity ? all[$0] : nil }
    }

    public func entity(code: UInt8) -> Entity? { byCode[Int(code)].map { all[$0].entity } }

    public func entity(named name: String) -> Entity? { all.first { $0.entity.rawValue == name }?.entity }

    /// The kinds kept in tables, in the order the state hash reads them.
    public var stored: [RecordKind] { all.filter { $0.table != nil } }

    public static func == (a: RecordKinds, b: RecordKinds) -> Bool { a.all.map(\.entity) == b.all.map(\.entity) }

    public struct DeclarationError: Error, CustomStringConvertible {
        public let description: String
        init(_ d: String) { description = "record kind declaration: " + d }
    }
}

extension RecordKind {
    /// The problems of a row given in column order, in column order (null always passes). Each
    /// column's check is at hand by position: looking 23 partner columns up by name took
    /// 1.5 µs of a 54 µs local write.
    public func problems(row values: [FieldValue]) -> [FieldError] {
        var found: [FieldError] = []
        for (column, value) in zip(columns, values) where !value.isNull {
            if let p = ColumnRules.problem(column.spec, column: column.name, value) { found.append(p) }
        }
        return found
    }

    /// Every problem of `fields` by the columns' checks, in column-name order (see `ColumnRules`).
    public func problems(_ fields: Fields) -> [FieldError] {
        var found: [FieldError] = []
        for (name, value) in fields {
            if let spec = specs[name], let p = ColumnRules.problem(spec, column: name, value) { found.append(p) }
        }
        return found.sorted { $0.field < $1.field }
    }
}
