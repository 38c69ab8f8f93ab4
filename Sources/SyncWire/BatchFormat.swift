import SyncModel

/// Constants of the batch format. See docs/batch-format.md.
public enum BatchFormat {
    /// "POSB".
    public static let magic: [UInt8] = [0x50, 0x4F, 0x53, 0x42]
    /// The newest format version this build writes and reads. Version 2 gives the field names
    /// of the customer module and the back-office transfer one-byte ids (`fieldNames`); it is
    /// written only to a peer that reads it (docs/batch-format.md, "Versions").
    public static let version: UInt16 = 2
    /// The versions this build reads.
    public static let readableVersions: ClosedRange<UInt16> = 1...version
    /// Maximum node id length in UTF-8 bytes (size of the header's node field).
    public static let maxNodeBytes = 64
    /// zlib level of a batch a store pushes: its uplink is the narrow part (the wire-size row
    /// of BENCHMARKS.md measures these batches).
    public static let pushCompressionLevel: Int32 = 6
    /// zlib level of the hub's feed pages (pulls and snapshot pages). The hub compresses a page
    /// for every store that reads it, so its CPU is the shared resource: on a snapshot page of
    /// 5,000 price cells (417,700 bytes before compression) level 6 gives 43,203 bytes in
    /// 4.0 ms, level 1 45,880 bytes (+6 %) in 0.97 ms.
    public static let feedCompressionLevel: Int32 = 1

    /// Field names with a one-byte id (the id is the index). Version 1 knows the first 43,
    /// version 2 all of them; a later version may only append. A name without an id is written
    /// inline. Rare names (a node's center parameters) stay inline: the encoder's rank mask
    /// holds at most 64 names.
    public static let fieldNames: [String] = [
        "code", "kind", "salutation", "first_name", "last_name", "name", "birth_date", "vat_id",
        "issued_by", "phone", "email", "attributes", "consents", "reverse_charge", "country",
        "national_id", "trade_register", "id_document", "currency", "corporate_customer",
        "lowest_price", "deleted", "origin_node", "partner_code", "site", "seq", "street", "city",
        "postal_code", "label", "id", "number", "amount_minor", "address_seq", "status",
        "issued_at", "node", "current_code", "current_seq", "new_code", "new_seq", "from_site",
        "reason",
        // Version 2:
        "active", "article_code", "category", "customer_category", "debtor_number",
        "discount_percent", "external_address_id", "external_customer_id", "institution",
        "institution_code", "is_default", "lines", "offer_category", "order_id", "price_minor",
        "price_version", "receipt_id", "system",
    ]

    /// The version to write to a peer that reads up to `peerNewest` (nil: a peer that does not
    /// say, which reads version 1): the newest both sides know.
    public static func negotiated(_ peerNewest: Int?) -> UInt16 {
        UInt16(clamping: min(max(peerNewest ?? 1, Int(readableVersions.lowerBound)), Int(version)))
    }

    /// How many of `fieldNames` version 1 gives ids (`code` ... `reason`).
    static let versionOneFieldNames = 43

    /// How many of `fieldNames` have an id in `version` (a readable version).
    public static func fieldNameCount(version: UInt16) -> Int {
        version >= 2 ? fieldNames.count : versionOneFieldNames
    }

    /// The one-byte id of a field name spelled exactly (byte for byte) as a known one.
    static func knownID(_ name: String) -> UInt8? {
        var name = name
        return name.withUTF8 { knownID(utf8: $0) }
    }

    /// The one-byte id of a field name given as UTF-8 bytes: a table by a hash of the length
    /// and three bytes, confirmed byte for byte.
    static func knownID(utf8 name: UnsafeBufferPointer<UInt8>) -> UInt8? {
        guard !name.isEmpty else { return nil }
        let slot = Int(idTable[nameHash(name)])
        if slot == 0 { return nil }
        if slot <= fieldNames.count {
            return fieldNameBytes[slot - 1].elementsEqual(name) ? UInt8(slot - 1) : nil
        }
        // Two names share the slot: compare with each.
        return fieldNameBytes.firstIndex { $0.elementsEqual(name) }.map(UInt8.init)
    }

    private static let fieldNameBytes: [[UInt8]] = fieldNames.map { Array($0.utf8) }

    private static func nameHash<C: Collection>(_ b: C) -> Int where C.Element == UInt8, C.Index == Int {
        let first = Int(b[b.startIndex]), second = Int(b[b.count > 1 ? b.startIndex + 1 : b.startIndex]), last = Int(b[b.endIndex - 1])
        return (b.count ^ (first << 1) ^ (second << 3) ^ (last &* 5)) & 1023
    }

    /// By `nameHash`: 0 for no name, id + 1 for one, 255 for more than one.
    private static let idTable: [UInt8] = {
        precondition(fieldNames.count < 254)
        var table = [UInt8](repeating: 0, count: 1024)
        for (id, name) in fieldNameBytes.enumerated() {
            let h = nameHash(name)
            table[h] = table[h] == 0 ? UInt8(id + 1) : 255
        }
        return table
    }()

    /// Each known field's position among the known names in UTF-8 byte order, by id: sorting
    /// an entry's known fields by it gives the same order as sorting by name.
    static let fieldRanks: [UInt8] = {
        let order = fieldNames.indices.sorted { fieldNames[$0].utf8.lexicographicallyPrecedes(fieldNames[$1].utf8) }
        var ranks = [UInt8](repeating: 0, count: fieldNames.count)
        for (rank, id) in order.enumerated() { ranks[id] = UInt8(rank) }
        return ranks
    }()

    /// The known field ids in rank order (`fieldRanks` inverted).
    static let fieldByRank: [UInt8] = {
        var ids = [UInt8](repeating: 0, count: fieldNames.count)
        for (id, rank) in fieldRanks.enumerated() { ids[Int(rank)] = UInt8(id) }
        return ids
    }()

    /// Field-name byte announcing an inline (length-prefixed) name.
    static let inlineFieldName: UInt8 = 0xFF

    // Node markers.
    static let nodeSameAsHeader: UInt8 = 0x00
    static let nodeInline: UInt8 = 0x01

    // Value type tags.
    static let tagNull: UInt8 = 0x00
    static let tagFalse: UInt8 = 0x01
    static let tagTrue: UInt8 = 0x02
    static let tagInt: UInt8 = 0x03
    static let tagText: UInt8 = 0x04

    static func opByte(_ o: ChangeOp) -> UInt8 {
        switch o {
        case .insert: return 0
        case .update: return 1
        case .delete: return 2
        }
    }

    static func op(_ b: UInt8) -> ChangeOp? {
        switch b {
        case 0: return .insert
        case 1: return .update
        case 2: return .delete
        default: return nil
        }
    }
}

/// Hard limits a receiver applies before and while decoding a batch.
public struct BatchLimits: Sendable, Equatable {
    /// Largest accepted body (compressed) size, in bytes.
    public var maxCompressedBytes: Int
    /// Largest accepted payload (inflated) size, in bytes; inflation never goes past it.
    public var maxUncompressedBytes: Int
    /// Largest accepted number of entries.
    public var maxEntries: Int
    /// The record kinds accepted: an entry's entity byte is a kind's code (`Entity.code`).
    public var kinds: RecordKinds

    public init(maxCompressedBytes: Int = 8 << 20, maxUncompressedBytes: Int = 64 << 20, maxEntries: Int = 100_000,
                kinds: RecordKinds = .standard) {
        self.maxCompressedBytes = max(0, maxCompressedBytes)
        self.maxUncompressedBytes = max(0, maxUncompressedBytes)
        self.maxEntries = max(0, maxEntries)
        self.kinds = kinds
    }

    /// 8 MiB compressed, 64 MiB uncompressed, 100,000 entries.
    public static let `default` = BatchLimits()
}

/// The fixed-size header in front of every batch.
public struct BatchHeader: Sendable, Equatable {
    /// Encoded size of the header in bytes; the body starts at this offset.
    public static let size = 110

    public var version: UInt16
    /// The sending node (at most 64 bytes of UTF-8).
    public var node: String
    /// Sequence of the first entry (0 for an empty batch).
    public var firstSeq: Int64
    /// Sequence of the last entry (0 for an empty batch).
    public var lastSeq: Int64
    /// Number of entries.
    public var count: UInt32
    /// Size of the inflated payload.
    public var uncompressedLength: UInt32
    /// CRC32 of the inflated payload.
    public var crc32: UInt32
    /// Size of the zlib body that follows the header.
    public var compressedLength: UInt32

    public init(version: UInt16 = BatchFormat.version, node: String, firstSeq: Int64, lastSeq: Int64,
                count: UInt32, uncompressedLength: UInt32, crc32: UInt32, compressedLength: UInt32) {
        self.version = version
        self.node = node
        self.firstSeq = firstSeq
        self.lastSeq = lastSeq
        self.count = count
        self.uncompressedLength = uncompressedLength
        self.crc32 = crc32
        self.compressedLength = compressedLength
    }

    /// Total size of the batch (header + body) this header describes.
    public var batchLength: Int { BatchHeader.size + Int(compressedLength) }

    /// The header's 110 bytes, flags 0, with its header CRC32 computed.
    /// Throws `BatchError.nodeIdTooLong` if the node id exceeds 64 bytes.
    public func encoded() throws -> [UInt8] {
        let nodeBytes = Array(node.utf8)
        guard nodeBytes.count <= BatchFormat.maxNodeBytes else {
            throw BatchError.nodeIdTooLong(bytes: nodeBytes.count, limit: BatchFormat.maxNodeBytes)
        }
        var w = ByteWriter()
        w.bytes.reserveCapacity(BatchHeader.size)
        w.append(BatchFormat.magic)
        w.be16(version)
        w.be16(0) // flags
        w.be16(UInt16(nodeBytes.count))
        w.append(nodeBytes)
        w.append([UInt8](repeating: 0, count: BatchFormat.maxNodeBytes - nodeBytes.count))
        w.be64(UInt64(bitPattern: firstSeq))
        w.be64(UInt64(bitPattern: lastSeq))
        w.be32(count)
        w.be32(uncompressedLength)
        w.be32(crc32)
        w.be32(compressedLength)
        w.be32(Zlib.crc32(w.bytes))
        assert(w.bytes.count == BatchHeader.size)
        return w.bytes
    }
}

/// A decoded batch: its header and all of its changes.
public struct Batch: Sendable, Equatable {
    public var header: BatchHeader
    public var changes: [Change]

    public init(header: BatchHeader, changes: [Change]) {
        self.header = header
        self.changes = changes
    }
}

// MARK: - Byte-level helpers

struct ByteWriter: Sendable {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func append(_ b: [UInt8]) { bytes.append(contentsOf: b) }
    mutating func be16(_ v: UInt16) { bytes.append(UInt8(v >> 8)); bytes.append(UInt8(truncatingIfNeeded: v)) }
    mutating func be32(_ v: UInt32) { for s in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt32(s))) } }
    mutating func be64(_ v: UInt64) { for s in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(s))) } }

    /// Unsigned LEB128.
    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// Zigzag, then LEB128.
    mutating func zigzag(_ v: Int64) { varint(zigzagEncode(v)) }

    /// Varint byte length, then the UTF-8 bytes.
    mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { utf8 in
            varint(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }
}

@inline(__always) func zigzagEncode(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }
@inline(__always) func zigzagDecode(_ u: UInt64) -> Int64 { Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1))) }

/// Why a read failed; wrapped into `BatchError.malformedEntry` with the entry's context.
struct ReadFailure: Error {
    var reason: String
}

struct ByteReader {
    let bytes: [UInt8]
    var pos: Int

    init(_ bytes: [UInt8], pos: Int = 0) {
        self.bytes = bytes
        self.pos = pos
    }

    var remaining: Int { bytes.count - pos }
    var atEnd: Bool { pos >= bytes.count }

    mutating func u8(_ what: @autoclosure () -> String) throws -> UInt8 {
        guard pos < bytes.count else { throw ReadFailure(reason: "truncated: \(what()) missing") }
        defer { pos += 1 }
        return bytes[pos]
    }

    func be16(at o: Int) -> UInt16 { UInt16(bytes[o]) << 8 | UInt16(bytes[o + 1]) }
    func be32(at o: Int) -> UInt32 { (0..<4).reduce(0) { $0 << 8 | UInt32(bytes[o + $1]) } }
    func be64(at o: Int) -> UInt64 { (0..<8).reduce(0) { $0 << 8 | UInt64(bytes[o + $1]) } }

    /// Unsigned LEB128, at most 10 bytes, minimal encoding only.
    mutating func varint(_ what: @autoclosure () -> String) throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        let start = pos
        while true {
            guard pos < bytes.count else { throw ReadFailure(reason: "truncated: \(what()) varint cut off") }
            let b = bytes[pos]
            pos += 1
            if shift == 63 && b > 1 {
                throw ReadFailure(reason: "\(what()) varint overflows 64 bits")
            }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 {
                if b == 0 && pos - start > 1 {
                    throw ReadFailure(reason: "\(what()) varint is not minimally encoded")
                }
                return result
            }
            shift += 7
        }
    }

    mutating func zigzag(_ what: @autoclosure () -> String) throws -> Int64 { zigzagDecode(try varint(what())) }

    /// A varint length, bounded by the bytes left.
    mutating func length(_ what: @autoclosure () -> String) throws -> Int {
        let n = try varint("\(what()) length")
        guard n <= UInt64(remaining) else {
            throw ReadFailure(reason: "truncated: \(what()) declares \(n) bytes, \(remaining) remain")
        }
        return Int(n)
    }

    /// A length-prefixed UTF-8 string. ASCII text (nearly every field) is made with
    /// `String(decoding:as:)` once a pass over its bytes has found none above 0x7F; other text
    /// goes through `String(validating:as:)`, which is not specialized for byte buffers (the
    /// runtime looks up generic metadata on every call): that lookup and validation were 8 % of
    /// a new store's CPU time while it received a 100,000-cell price table.
    mutating func string(_ what: @autoclosure () -> String) throws -> String {
        let n = try length(what())
        let start = pos
        let decoded: String? = bytes.withUnsafeBufferPointer { all in
            let part = UnsafeBufferPointer(rebasing: all[start..<(start + n)])
            var high: UInt8 = 0
            for b in part { high |= b }
            return high < 0x80 ? String(decoding: part, as: UTF8.self) : String(validating: part, as: UTF8.self)
        }
        guard let s = decoded else {
            throw ReadFailure(reason: "\(what()) is not valid UTF-8")
        }
        pos += n
        return s
    }
}
