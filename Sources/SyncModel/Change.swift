import Foundation

/// A single value of a replicated field.
public enum FieldValue: Sendable, Hashable, Codable {
    case null
    case int(Int64)
    case text(String)
    case bool(Bool)

    public var text: String? { if case .text(let s) = self { return s }; return nil }
    public var int: Int64? {
        switch self {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }
    public var bool: Bool? {
        switch self {
        case .bool(let b): return b
        case .int(let i): return i != 0
        default: return nil
        }
    }
    public var isNull: Bool { if case .null = self { return true }; return false }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .int(i) }
        else { self = .text(try c.decode(String.self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .int(let i): try c.encode(i)
        case .text(let s): try c.encode(s)
        case .bool(let b): try c.encode(b)
        }
    }
}

/// An entity is written as its name (journal listings, the node API).
extension Entity: Codable {
    public init(from decoder: Decoder) throws {
        let name = try decoder.singleValueContainer().decode(String.self)
        guard let e = Entity(rawValue: name) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown record kind \(name)"))
        }
        self = e
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// What a change does to its record.
public enum ChangeOp: String, Sendable, Codable, CaseIterable {
    /// A new record (journal) or a full row image (hub feed).
    case insert
    /// Some fields of an existing record.
    case update
    /// Removal: partners become tombstones, addresses are removed.
    case delete
}

/// Fields of a change, by column name.
public typealias Fields = [String: FieldValue]

/// One change: an entry of a node's journal, or of the hub's feed.
///
/// In a node journal `seq` is the node's gapless sequence; in the hub feed it is the
/// hub's global sequence and `node` names the node the change came from.
public struct Change: Sendable, Hashable, Codable {
    public var seq: Int64
    public var hlc: HLC
    public var node: String
    public var entity: Entity
    public var key: String
    public var op: ChangeOp
    public var fields: Fields

    public init(seq: Int64, hlc: HLC, node: String, entity: Entity, key: String, op: ChangeOp, fields: Fields) {
        self.seq = seq
        self.hlc = hlc
        self.node = node
        self.entity = entity
        self.key = key
        self.op = op
        self.fields = fields
    }
}

extension Fields {
    /// Canonical JSON of the fields (keys sorted), as stored in journal tables.
    public func canonicalJSON() -> String { FlatJSON.encode(self) }

    /// Decodes fields stored by `canonicalJSON()`; other JSON objects go through Foundation.
    public static func fromJSON(_ json: String) throws -> Fields {
        if let fields = try? FlatJSON.decode(json) { return fields }
        return try JSONDecoder().decode(Fields.self, from: Data(json.utf8))
    }
}
