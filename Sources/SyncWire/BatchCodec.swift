import SyncModel

/// Encodes and decodes change batches. See docs/batch-format.md for the byte layout.
public enum BatchCodec {
    /// Builds one batch of `changes` sent by `node` (at most 64 bytes of UTF-8).
    ///
    /// Entries keep the given order. The header's first/last sequence are the first and last
    /// change's `seq` (0 and 0 for an empty list). The output is deterministic for given
    /// changes, level and zlib build.
    public static func encode(node: String, changes: [Change], level: Int32 = BatchFormat.pushCompressionLevel,
                              version: UInt16 = BatchFormat.version) throws -> [UInt8] {
        var writer = BatchWriter(node: node, version: version)
        writer.append(contentsOf: changes)
        return try writer.finish(level: level)
    }

    /// Decodes a whole batch, all-or-nothing: returns every change, or throws `BatchError`.
    ///
    /// Checks, in order: the header (see `decodeHeader`), inflation with a hard output cap of
    /// min(header's uncompressed length, `limits.maxUncompressedBytes`), the inflated length,
    /// the payload CRC32, every entry, the entry count, and the first/last sequence.
    public static func decode(_ bytes: [UInt8], limits: BatchLimits = .default) throws -> Batch {
        let header = try decodeHeader(bytes, limits: limits)
        let cap = min(Int(header.uncompressedLength), limits.maxUncompressedBytes)

        let payload: [UInt8]
        do {
            payload = try bytes.withUnsafeBufferPointer { all in
                try Zlib.decompress(UnsafeBufferPointer(rebasing: all[BatchHeader.size...]), limit: cap, expectedSize: cap)
            }
        } catch ZlibError.outputLimitExceeded {
            throw BatchError.inflatedSizeExceeded(cap: cap, declared: header.uncompressedLength, limit: limits.maxUncompressedBytes)
        } catch let error as ZlibError {
            throw BatchError.inflateFailed(reason: error.description)
        }
        guard payload.count == Int(header.uncompressedLength) else {
            throw BatchError.uncompressedLengthMismatch(header: header.uncompressedLength, actual: payload.count)
        }
        let crc = Zlib.crc32(payload)
        guard crc == header.crc32 else {
            throw BatchError.payloadChecksumMismatch(header: header.crc32, computed: crc)
        }

        let changes = try PayloadDecoder.decode(payload, header: header, limits: limits)
        let first = changes.first?.seq ?? 0
        let last = changes.last?.seq ?? 0
        guard first == header.firstSeq else {
            throw BatchError.sequenceMismatch(.first, header: header.firstSeq, found: first)
        }
        guard last == header.lastSeq else {
            throw BatchError.sequenceMismatch(.last, header: header.lastSeq, found: last)
        }
        return Batch(header: header, changes: changes)
    }

    /// Decodes and checks the header of a complete batch without inflating the body.
    ///
    /// Checks, in order: magic, header length, version, header CRC32, flags, node id field,
    /// empty-batch rules, the three limits, and that the compressed length equals the number
    /// of bytes actually following the header.
    public static func decodeHeader(_ bytes: [UInt8], limits: BatchLimits = .default) throws -> BatchHeader {
        let header = try peekHeader(bytes, limits: limits)
        let actual = bytes.count - BatchHeader.size
        guard actual == Int(header.compressedLength) else {
            throw BatchError.bodyLengthMismatch(header: header.compressedLength, actual: actual)
        }
        return header
    }

    /// Like `decodeHeader`, but looks only at the first `BatchHeader.size` bytes, so it can be
    /// used before the body has arrived (e.g. to refuse an upload early).
    /// `header.batchLength` is the total size the batch must have.
    public static func peekHeader(_ bytes: [UInt8], limits: BatchLimits = .default) throws -> BatchHeader {
        let magicCount = min(bytes.count, BatchFormat.magic.count)
        guard bytes[0..<magicCount].elementsEqual(BatchFormat.magic[0..<magicCount]) else {
            throw BatchError.badMagic(found: Array(bytes.prefix(4)))
        }
        guard bytes.count >= 6 else {
            throw BatchError.truncatedHeader(needed: BatchHeader.size, available: bytes.count)
        }
        let r = ByteReader(bytes)
        let version = r.be16(at: 4)
        guard BatchFormat.readableVersions.contains(version) else {
            throw BatchError.unsupportedVersion(found: version, supported: BatchFormat.version)
        }
        guard bytes.count >= BatchHeader.size else {
            throw BatchError.truncatedHeader(needed: BatchHeader.size, available: bytes.count)
        }
        let storedHeaderCRC = r.be32(at: 106)
        let computedHeaderCRC = bytes.withUnsafeBufferPointer {
            Zlib.crc32(UnsafeBufferPointer(rebasing: $0[0..<106]))
        }
        guard storedHeaderCRC == computedHeaderCRC else {
            throw BatchError.headerChecksumMismatch(stored: storedHeaderCRC, computed: computedHeaderCRC)
        }
        let flags = r.be16(at: 6)
        guard flags == 0 else { throw BatchError.unsupportedFlags(flags) }

        let nodeLength = Int(r.be16(at: 8))
        guard nodeLength <= BatchFormat.maxNodeBytes else {
            throw BatchError.invalidHeader(reason: "node id length \(nodeLength) exceeds \(BatchFormat.maxNodeBytes) bytes")
        }
        guard bytes[(10 + nodeLength)..<74].allSatisfy({ $0 == 0 }) else {
            throw BatchError.invalidHeader(reason: "node id padding is not zero")
        }
        guard let node = String(validating: bytes[10..<(10 + nodeLength)], as: UTF8.self) else {
            throw BatchError.invalidHeader(reason: "node id is not valid UTF-8")
        }

        let header = BatchHeader(
            version: version,
            node: node,
            firstSeq: Int64(bitPattern: r.be64(at: 74)),
            lastSeq: Int64(bitPattern: r.be64(at: 82)),
            count: r.be32(at: 90),
            uncompressedLength: r.be32(at: 94),
            crc32: r.be32(at: 98),
            compressedLength: r.be32(at: 102))

        if header.count == 0 {
            guard header.firstSeq == 0, header.lastSeq == 0, header.uncompressedLength == 0 else {
                throw BatchError.invalidHeader(reason: "an empty batch must have first/last sequence 0 and an empty payload")
            }
        }
        guard Int(header.compressedLength) <= limits.maxCompressedBytes else {
            throw BatchError.limitExceeded(.compressedBytes, found: Int(header.compressedLength), limit: limits.maxCompressedBytes)
        }
        guard Int(header.uncompressedLength) <= limits.maxUncompressedBytes else {
            throw BatchError.limitExceeded(.uncompressedBytes, found: Int(header.uncompressedLength), limit: limits.maxUncompressedBytes)
        }
        guard Int(header.count) <= limits.maxEntries else {
            throw BatchError.limitExceeded(.entries, found: Int(header.count), limit: limits.maxEntries)
        }
        return header
    }
}

/// Incremental builder for streaming a large backlog in bounded batches.
///
/// Append changes until `count` or `payloadBytes` reach the size you want (see `fits(_:)`),
/// then `finish()` and start a new writer.
public struct BatchWriter: Sendable {
    /// The node written in the header; entries from this node are encoded without a node id.
    public let node: String
    /// Number of changes appended so far.
    public private(set) var count: Int = 0
    /// Sequence of the first appended change (0 while empty).
    public private(set) var firstSeq: Int64 = 0
    /// Sequence of the last appended change (0 while empty).
    public private(set) var lastSeq: Int64 = 0
    /// The format version written (see `BatchFormat.version`): the newest one the receiver reads.
    public let version: UInt16
    private var payload: PayloadEncoder

    /// `version` must be one of `BatchFormat.readableVersions`; anything else writes the newest.
    public init(node: String, version: UInt16 = BatchFormat.version) {
        self.node = node
        self.version = BatchFormat.readableVersions.contains(version) ? version : BatchFormat.version
        self.payload = PayloadEncoder(headerNode: node, version: self.version)
    }

    /// Size of the (uncompressed) payload so far, in bytes.
    public var payloadBytes: Int { payload.bytes.count }

    /// Whether the batch built so far would pass a receiver's entry and uncompressed limits.
    /// (The compressed size is at most a few bytes over `payloadBytes` and is usually far smaller.)
    public func fits(_ limits: BatchLimits) -> Bool {
        count <= limits.maxEntries && payloadBytes <= limits.maxUncompressedBytes
    }

    public mutating func append(_ change: Change) {
        if count == 0 { firstSeq = change.seq }
        lastSeq = change.seq
        payload.append(change)
        count += 1
    }

    /// `append` for a journal entry whose fields come as the node stores them
    /// (`Fields.canonicalJSON` text): encoded straight from the text when it holds known
    /// field names only (the usual case), otherwise decoded first. The same bytes either way.
    public mutating func appendJournal(seq: Int64, hlc: HLC, node: String, entity: Entity, op: ChangeOp, key: String,
                                       fieldsJSON: UnsafeBufferPointer<UInt8>) throws {
        if !payload.appendJournal(seq: seq, hlc: hlc, node: node, entity: entity, op: op, key: key, fieldsJSON: fieldsJSON) {
            let fields = try Fields.fromJSON(String(decoding: fieldsJSON, as: UTF8.self))
            payload.append(Change(seq: seq, hlc: hlc, node: node, entity: entity, key: key, op: op, fields: fields))
        }
        if count == 0 { firstSeq = seq }
        lastSeq = seq
        count += 1
    }

    public mutating func append(contentsOf changes: some Sequence<Change>) {
        for change in changes { append(change) }
    }

    /// Compresses the payload and returns the complete batch (header + body).
    public func finish(level: Int32 = BatchFormat.pushCompressionLevel) throws -> [UInt8] {
        let nodeBytes = node.utf8.count
        guard nodeBytes <= BatchFormat.maxNodeBytes else {
            throw BatchError.nodeIdTooLong(bytes: nodeBytes, limit: BatchFormat.maxNodeBytes)
        }
        guard count <= Int(UInt32.max) else { throw BatchError.tooManyEntries(count) }
        let bytes = payload.bytes
        guard bytes.count <= Int(UInt32.max) else { throw BatchError.payloadTooLarge(bytes: bytes.count) }

        let body: [UInt8]
        do {
            body = try Zlib.compress(bytes, level: level)
        } catch let error as ZlibError {
            throw BatchError.compressionFailed(reason: error.description)
        }
        guard body.count <= Int(UInt32.max) else { throw BatchError.payloadTooLarge(bytes: body.count) }

        let header = BatchHeader(
            version: version, node: node, firstSeq: firstSeq, lastSeq: lastSeq, count: UInt32(count),
            uncompressedLength: UInt32(bytes.count), crc32: Zlib.crc32(bytes),
            compressedLength: UInt32(body.count))
        var out = try header.encoded()
        out.reserveCapacity(out.count + body.count)
        out.append(contentsOf: body)
        return out
    }
}
