import SyncModel

/// Appends entries to a payload, carrying the delta state between entries.
struct PayloadEncoder: Sendable {
    let headerNode: String
    /// Names with an id below this are written by id, the others inline (the batch's version).
    let knownCount: Int
    private(set) var writer = ByteWriter()
    private var previousSeq: Int64 = 0
    private var previousHLC: UInt64 = 0
    /// An entry's known fields by rank (see `append`), empty between entries.
    private var byRank = [FieldValue?](repeating: nil, count: BatchFormat.fieldNames.count)
    /// The same for `appendJournal`.
    private var rawByRank = [RawValue?](repeating: nil, count: BatchFormat.fieldNames.count)
    /// A value of `appendJournal`'s text: texts without escapes by offset and length in it.
    private enum RawValue: Sendable { case null, bool(Bool), int(Int64), text(offset: Int, count: Int), string(String) }

    init(headerNode: String, version: UInt16 = BatchFormat.version) {
        precondition(BatchFormat.fieldNames.count <= 64, "known field ranks must fit a 64-bit mask")
        self.headerNode = headerNode
        self.knownCount = BatchFormat.fieldNameCount(version: version)
    }

    var bytes: [UInt8] { writer.bytes }

    /// Everything of an entry before its fields.
    private mutating func appendHead(seq: Int64, hlc: HLC, node: String, entity: Entity, op: ChangeOp, key: String, fieldCount: Int) {
        writer.zigzag(seq &- previousSeq)
        writer.zigzag(Int64(bitPattern: hlc.rawValue &- previousHLC))
        previousSeq = seq
        previousHLC = hlc.rawValue

        if node == headerNode {
            writer.u8(BatchFormat.nodeSameAsHeader)
        } else {
            writer.u8(BatchFormat.nodeInline)
            writer.string(node)
        }
        writer.u8(entity.code)
        writer.u8(BatchFormat.opByte(op))
        writer.string(key)
        writer.varint(UInt64(fieldCount))
    }

    mutating func append(_ change: Change) {
        appendHead(seq: change.seq, hlc: change.hlc, node: change.node, entity: change.entity, op: change.op, key: change.key,
                   fieldCount: change.fields.count)
        // Sorted by the UTF-8 bytes of the name, so the output is deterministic. Each value of a
        // known name goes to the slot of its name's precomputed rank and the slots are written
        // in rank order: that order, without a sort. The few other names (a column newer than
        // the format's table, such as a partner's `category`) are sorted among themselves and
        // merged in: sorting every field of such an entry took 3 % of a 50-store simulation.
        var mask: UInt64 = 0
        var others: [(name: String, value: FieldValue)] = []
        for (name, value) in change.fields {
            guard let id = BatchFormat.knownID(name), Int(id) < knownCount else { others.append((name, value)); continue }
            let rank = Int(BatchFormat.fieldRanks[Int(id)])
            byRank[rank] = value
            mask |= 1 << UInt64(rank)
        }
        if others.count > 1 { others.sort { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) } }
        var next = 0
        while mask != 0 {
            let rank = mask.trailingZeroBitCount
            mask &= mask - 1
            let id = BatchFormat.fieldByRank[rank]
            while next < others.count, others[next].name.utf8.lexicographicallyPrecedes(BatchFormat.fieldNames[Int(id)].utf8) {
                writeInline(others[next])
                next += 1
            }
            writer.u8(id)
            write(byRank[rank]!)
            byRank[rank] = nil
        }
        while next < others.count {
            writeInline(others[next])
            next += 1
        }
    }

    private mutating func writeInline(_ field: (name: String, value: FieldValue)) {
        writer.u8(BatchFormat.inlineFieldName)
        writer.string(field.name)
        write(field.value)
    }

    /// A journal entry whose fields are given as the node stores them (`Fields.canonicalJSON`
    /// text), written without decoding them into `Fields` first: the same bytes `append`
    /// writes for the decoded entry. Returns false, writing nothing, when the text has
    /// anything else than known field names, each once (the caller then decodes it and
    /// uses `append`).
    mutating func appendJournal(seq: Int64, hlc: HLC, node: String, entity: Entity, op: ChangeOp, key: String,
                                fieldsJSON: UnsafeBufferPointer<UInt8>) -> Bool {
        // Text that is not valid UTF-8 (a damaged store) goes the decoding way, which repairs
        // it as a whole before unescaping; valid text has valid values between its quotes.
        if !fieldsJSON.allSatisfy({ $0 < 0x80 }) && String(validating: fieldsJSON, as: UTF8.self) == nil { return false }
        var mask: UInt64 = 0
        var count = 0
        var valid = true
        do {
            try FlatJSON.scan(fieldsJSON) { name, value in
                guard case .bytes(let nameBytes) = name, let id = BatchFormat.knownID(utf8: nameBytes), Int(id) < knownCount else { throw Unknown() }
                let rank = Int(BatchFormat.fieldRanks[Int(id)])
                guard mask & (1 << UInt64(rank)) == 0 else { throw Unknown() }
                mask |= 1 << UInt64(rank)
                count += 1
                switch value {
                case .null: rawByRank[rank] = .null
                case .bool(let b): rawByRank[rank] = .bool(b)
                case .int(let i): rawByRank[rank] = .int(i)
                case .bytes(let b): rawByRank[rank] = .text(offset: b.baseAddress! - fieldsJSON.baseAddress!, count: b.count)
                case .string(let s): rawByRank[rank] = .string(s)
                }
            }
        } catch {
            valid = false
        }
        guard valid else {
            while mask != 0 { rawByRank[mask.trailingZeroBitCount] = nil; mask &= mask - 1 }
            return false
        }
        appendHead(seq: seq, hlc: hlc, node: node, entity: entity, op: op, key: key, fieldCount: count)
        while mask != 0 {
            let rank = mask.trailingZeroBitCount
            mask &= mask - 1
            writer.u8(BatchFormat.fieldByRank[rank])
            switch rawByRank[rank]! {
            case .null: writer.u8(BatchFormat.tagNull)
            case .bool(let b): writer.u8(b ? BatchFormat.tagTrue : BatchFormat.tagFalse)
            case .int(let i): writer.u8(BatchFormat.tagInt); writer.zigzag(i)
            case .text(let offset, let n):
                let text = UnsafeBufferPointer(rebasing: fieldsJSON[offset..<(offset + n)])
                writer.u8(BatchFormat.tagText)
                writer.varint(UInt64(text.count))  // valid UTF-8 (checked above): as it is
                writer.bytes.append(contentsOf: text)
            case .string(let s): writer.u8(BatchFormat.tagText); writer.string(s)
            }
            rawByRank[rank] = nil
        }
        return true
    }

    private struct Unknown: Error {}

    private mutating func write(_ value: FieldValue) {
        switch value {
        case .null:
            writer.u8(BatchFormat.tagNull)
        case .bool(let b):
            writer.u8(b ? BatchFormat.tagTrue : BatchFormat.tagFalse)
        case .int(let i):
            writer.u8(BatchFormat.tagInt)
            writer.zigzag(i)
        case .text(let s):
            writer.u8(BatchFormat.tagText)
            writer.string(s)
        }
    }
}

/// Decodes the entries of an inflated, CRC-checked payload.
enum PayloadDecoder {
    /// Decodes exactly `header.count` entries and requires the payload to end there.
    static func decode(_ payload: [UInt8], header: BatchHeader, limits: BatchLimits) throws -> [Change] {
        let declared = Int(header.count)
        var reader = ByteReader(payload)
        var state = State(headerNode: header.node, kinds: limits.kinds, version: header.version)
        var changes: [Change] = []
        // Each entry takes at least 7 bytes; never reserve on the header's word alone.
        changes.reserveCapacity(min(declared, payload.count / 7))

        while changes.count < declared {
            if reader.atEnd {
                throw BatchError.entryCountMismatch(header: header.count, found: changes.count)
            }
            changes.append(try state.entry(&reader, index: changes.count))
        }
        if !reader.atEnd {
            // Tell the operator whether these bytes are whole extra entries or garbage.
            let trailingStart = reader.pos
            var extra = 0
            while !reader.atEnd, extra <= limits.maxEntries {
                guard (try? state.entry(&reader, index: declared + extra)) != nil else {
                    throw BatchError.trailingPayload(entries: declared, bytes: payload.count - trailingStart)
                }
                extra += 1
            }
            throw BatchError.entryCountMismatch(header: header.count, found: declared + extra)
        }
        return changes
    }

    struct State {
        let headerNode: String
        /// The record kinds the receiver knows: an entity byte of no such kind is refused.
        let kinds: RecordKinds
        /// The batch's version and how many field-name ids it defines.
        let version: UInt16, knownCount: Int
        var previousSeq: Int64 = 0
        var previousHLC: UInt64 = 0

        init(headerNode: String, kinds: RecordKinds, version: UInt16 = BatchFormat.version) {
            self.headerNode = headerNode
            self.kinds = kinds
            self.version = version
            self.knownCount = BatchFormat.fieldNameCount(version: version)
        }

        mutating func entry(_ r: inout ByteReader, index: Int) throws -> Change {
            do {
                let seq = previousSeq &+ (try r.zigzag("seq delta"))
                let hlc = previousHLC &+ UInt64(bitPattern: try r.zigzag("hlc delta"))

                let nodeMarker = try r.u8("node marker")
                let node: String
                switch nodeMarker {
                case BatchFormat.nodeSameAsHeader: node = headerNode
                case BatchFormat.nodeInline: node = try r.string("node id")
                default: throw ReadFailure(reason: "unknown node marker 0x\(hex2(nodeMarker))")
                }

                let entityByte = try r.u8("entity")
                guard let entity = kinds.entity(code: entityByte) else {
                    throw ReadFailure(reason: "unknown entity byte 0x\(hex2(entityByte))")
                }
                let opByte = try r.u8("op")
                guard let op = BatchFormat.op(opByte) else {
                    throw ReadFailure(reason: "unknown op byte 0x\(hex2(opByte))")
                }
                let key = try r.string("key")

                let fieldCount = try r.varint("field count")
                // Every field takes at least 2 bytes (name id + type tag).
                guard fieldCount <= UInt64(r.remaining / 2) else {
                    throw ReadFailure(reason: "truncated: \(fieldCount) fields declared, \(r.remaining) bytes remain")
                }
                var fields: Fields = Dictionary(minimumCapacity: Int(fieldCount))
                for _ in 0..<Int(fieldCount) {
                    let nameByte = try r.u8("field name")
                    let name: String
                    if nameByte == BatchFormat.inlineFieldName {
                        name = try r.string("field name")
                    } else if Int(nameByte) < knownCount {
                        name = BatchFormat.fieldNames[Int(nameByte)]
                    } else {
                        throw ReadFailure(reason: "unknown field-name id 0x\(hex2(nameByte)) (version \(version) defines 0x00-0x\(hex2(UInt8(knownCount - 1))))")
                    }
                    let tag = try r.u8("type tag of field \"\(name)\"")
                    let value: FieldValue
                    switch tag {
                    case BatchFormat.tagNull: value = .null
                    case BatchFormat.tagFalse: value = .bool(false)
                    case BatchFormat.tagTrue: value = .bool(true)
                    case BatchFormat.tagInt: value = .int(try r.zigzag("int value of field \"\(name)\""))
                    case BatchFormat.tagText: value = .text(try r.string("text value of field \"\(name)\""))
                    default: throw ReadFailure(reason: "unknown type tag 0x\(hex2(tag)) for field \"\(name)\"")
                    }
                    guard fields.updateValue(value, forKey: name) == nil else {
                        throw ReadFailure(reason: "duplicate field \"\(name)\"")
                    }
                }

                previousSeq = seq
                previousHLC = hlc
                return Change(seq: seq, hlc: HLC(rawValue: hlc), node: node, entity: entity, key: key, op: op, fields: fields)
            } catch let failure as ReadFailure {
                throw BatchError.malformedEntry(index: index, offset: r.pos, reason: failure.reason)
            }
        }
    }
}

private func hex2(_ b: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(b >> 4)], digits[Int(b & 0xF)]])
}
