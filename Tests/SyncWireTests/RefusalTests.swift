import Foundation
import SyncModel
import SyncWire
import Testing

/// Every refusal must be a `BatchError` whose description reads as an operator sentence.
private func refusal(_ bytes: [UInt8], limits: BatchLimits = .default,
                     sourceLocation: SourceLocation = #_sourceLocation) -> BatchError? {
    let error = #expect(throws: BatchError.self, sourceLocation: sourceLocation) {
        try BatchCodec.decode(bytes, limits: limits)
    }
    if let error {
        #expect(error.description.hasPrefix("batch refused: "), sourceLocation: sourceLocation)
        #expect(error.description.hasSuffix("nothing applied"), sourceLocation: sourceLocation)
    }
    return error
}

@Suite("Corrupt and malformed batches are refused")
struct RefusalTests {
    static let changes = Array(Fixtures.varied().prefix(4))
    static let batch: [UInt8] = try! BatchCodec.encode(node: Fixtures.node, changes: changes)

    @Test("one corrupted byte in the body (payload region) is refused")
    func corruptBodyByte() throws {
        var bytes = Self.batch
        let middle = BatchHeader.size + (bytes.count - BatchHeader.size) / 2
        bytes[middle] ^= 0x5A
        let error = try #require(refusal(bytes))
        switch error {
        case .inflateFailed, .payloadChecksumMismatch, .uncompressedLengthMismatch, .inflatedSizeExceeded: break
        default: Issue.record("unexpected error: \(error)")
        }
    }

    @Test("every single-byte corruption anywhere in the body is refused")
    func everyBodyByte() throws {
        for offset in BatchHeader.size..<Self.batch.count {
            for mask: UInt8 in [0x01, 0x80, 0xFF] {
                var bytes = Self.batch
                bytes[offset] ^= mask
                #expect(throws: BatchError.self, "flip 0x\(String(mask, radix: 16)) at offset \(offset)") {
                    try BatchCodec.decode(bytes)
                }
            }
        }
    }

    @Test("a payload that changed under a still-valid zlib stream is caught by the CRC32 check")
    func payloadCRC() throws {
        var payload = try Fixtures.payload(of: Self.batch)
        let header = try BatchCodec.decodeHeader(Self.batch)
        payload[payload.count / 2] ^= 0x01
        let bytes = try Fixtures.assemble(firstSeq: header.firstSeq, lastSeq: header.lastSeq, count: header.count,
                                          payload: payload, crc: header.crc32)
        let error = refusal(bytes)
        #expect(error == .payloadChecksumMismatch(header: header.crc32, computed: Zlib.crc32(payload)))
        #expect(error?.description == String(format: "batch refused: CRC32 mismatch (header 0x%08x, payload 0x%08x); nothing applied",
                                             header.crc32, Zlib.crc32(payload)))
    }

    @Test("one corrupted byte in the header (the first sequence) is refused by the header CRC32")
    func corruptHeaderByte() throws {
        var bytes = Self.batch
        bytes[80] ^= 0x01 // inside firstSeq (offset 74..<82)
        let error = try #require(refusal(bytes))
        guard case .headerChecksumMismatch = error else {
            Issue.record("expected a header checksum mismatch, got \(error)")
            return
        }
    }

    @Test("every single-byte corruption anywhere in the header is refused")
    func everyHeaderByte() throws {
        for offset in 0..<BatchHeader.size {
            for mask: UInt8 in [0x01, 0x80, 0xFF] {
                var bytes = Self.batch
                bytes[offset] ^= mask
                #expect(throws: BatchError.self, "flip 0x\(String(mask, radix: 16)) at offset \(offset)") {
                    try BatchCodec.decode(bytes)
                }
            }
        }
    }

    @Test("every truncation of a batch is refused: inside the header, and inside the body")
    func truncated() throws {
        for length in 0..<Self.batch.count {
            #expect(throws: BatchError.self, "truncated to \(length) bytes") {
                try BatchCodec.decode(Array(Self.batch.prefix(length)))
            }
        }
        #expect(refusal(Array(Self.batch.prefix(50))) == .truncatedHeader(needed: 110, available: 50))
        let bodyLength = UInt32(Self.batch.count - BatchHeader.size)
        let error = refusal(Array(Self.batch.dropLast(10)))
        #expect(error == .bodyLengthMismatch(header: bodyLength, actual: Int(bodyLength) - 10))
        #expect(error?.description == "batch refused: truncated body (header declares \(bodyLength) compressed bytes, \(bodyLength - 10) present); nothing applied")
        #expect(refusal(Self.batch + [0]) == .bodyLengthMismatch(header: bodyLength, actual: Int(bodyLength) + 1))
    }

    @Test("bad magic is refused before anything else")
    func badMagic() throws {
        var bytes = Self.batch
        bytes[3] = UInt8(ascii: "X")
        let error = refusal(bytes)
        #expect(error == .badMagic(found: Array("POSX".utf8)))
        #expect(error?.description == "batch refused: bad magic 0x504f5358 (expected \"POSB\" 0x504f5342); not a sync batch, nothing applied")
        #expect(refusal(Array("{\"node\":\"S01\"}".utf8)) == .badMagic(found: Array("{\"no".utf8)))
        #expect(refusal(Array("PO".utf8) + [0]) == .badMagic(found: Array("PO".utf8) + [0]))
    }

    @Test("a batch of another format version is refused with both versions named")
    func wrongVersion() throws {
        var bytes = Self.batch
        bytes[5] = 2
        let error = refusal(bytes)
        #expect(error == .unsupportedVersion(found: 2, supported: 1))
        #expect(error?.description == "batch refused: format version 2 is not supported (this build reads version 1); nothing applied")
    }

    @Test("unknown header flags are refused")
    func unknownFlags() throws {
        var bytes = Self.batch
        bytes[7] = 0x01
        let crc = Zlib.crc32(Array(bytes[0..<106]))
        bytes.replaceSubrange(106..<110, with: [UInt8(crc >> 24), UInt8(truncatingIfNeeded: crc >> 16), UInt8(truncatingIfNeeded: crc >> 8), UInt8(truncatingIfNeeded: crc)])
        #expect(refusal(bytes) == .unsupportedFlags(1))
    }

    @Test("a header declaring more or fewer entries than the payload holds is refused")
    func entryCountMismatch() throws {
        let more = try Fixtures.rewriteHeader(Self.batch) { $0.count += 1 }
        let error = refusal(more)
        #expect(error == .entryCountMismatch(header: 5, found: 4))
        #expect(error?.description == "batch refused: header declares 5 entries, payload holds 4; nothing applied")

        let fewer = try Fixtures.rewriteHeader(Self.batch) { $0.count -= 1 }
        #expect(refusal(fewer) == .entryCountMismatch(header: 3, found: 4))

        let none = try Fixtures.rewriteHeader(Self.batch) { $0.count = 0 }
        #expect(refusal(none) == .invalidHeader(reason: "an empty batch must have first/last sequence 0 and an empty payload"))
    }

    @Test("a header whose first or last sequence disagrees with the entries is refused")
    func sequenceMismatch() throws {
        let first = try Fixtures.rewriteHeader(Self.batch) { $0.firstSeq = 40 }
        #expect(refusal(first) == .sequenceMismatch(.first, header: 40, found: 41))
        let last = try Fixtures.rewriteHeader(Self.batch) { $0.lastSeq = 8 }
        let error = refusal(last)
        #expect(error == .sequenceMismatch(.last, header: 8, found: 7))
        #expect(error?.description == "batch refused: header last sequence is 8 but the last entry has sequence 7; nothing applied")
    }

    @Test("a header declaring a different uncompressed length is refused")
    func uncompressedLengthLie() throws {
        let header = try BatchCodec.decodeHeader(Self.batch)
        let longer = try Fixtures.rewriteHeader(Self.batch) { $0.uncompressedLength += 100 }
        #expect(refusal(longer) == .uncompressedLengthMismatch(header: header.uncompressedLength + 100, actual: Int(header.uncompressedLength)))
        let shorter = try Fixtures.rewriteHeader(Self.batch) { $0.uncompressedLength -= 1 }
        #expect(refusal(shorter) == .inflatedSizeExceeded(cap: Int(header.uncompressedLength) - 1, declared: header.uncompressedLength - 1, limit: 64 << 20))
    }

    @Test("header node id fields that are out of range, not zero-padded or not UTF-8 are refused")
    func badNodeField() throws {
        func patched(_ edit: (inout [UInt8]) -> Void) -> [UInt8] {
            var bytes = Self.batch
            edit(&bytes)
            let crc = Zlib.crc32(Array(bytes[0..<106]))
            bytes.replaceSubrange(106..<110, with: (0..<4).map { UInt8(truncatingIfNeeded: crc >> (24 - 8 * UInt32($0))) })
            return bytes
        }
        #expect(refusal(patched { $0[9] = 65 }) == .invalidHeader(reason: "node id length 65 exceeds 64 bytes"))
        #expect(refusal(patched { $0[73] = 1 }) == .invalidHeader(reason: "node id padding is not zero"))
        #expect(refusal(patched { $0[10] = 0xC3; $0[11] = 0x28 }) == .invalidHeader(reason: "node id is not valid UTF-8"))
    }
}

@Suite("Malformed entries are refused, never a crash")
struct MalformedEntryTests {
    /// One entry: seq 1, hlc 1, header node, partner, insert, key "k", no fields — then `tail`.
    static func entry(entity: UInt8 = 0, op: UInt8 = 0, fields: [UInt8] = [0x00]) -> [UInt8] {
        [0x02, 0x02, 0x00, entity, op, 0x01, UInt8(ascii: "k")] + fields
    }

    static func decodeOne(_ payload: [UInt8], count: UInt32 = 1) throws -> BatchError? {
        let bytes = try Fixtures.assemble(firstSeq: 1, lastSeq: 1, count: count, payload: payload)
        return refusal(bytes)
    }

    @Test("the hand-made minimal entry decodes (sanity check of the helper)")
    func minimal() throws {
        let bytes = try Fixtures.assemble(firstSeq: 1, lastSeq: 1, count: 1, payload: Self.entry())
        let batch = try BatchCodec.decode(bytes)
        #expect(batch.changes == [Change(seq: 1, hlc: HLC(rawValue: 1), node: "S01", entity: .partner, key: "k", op: .insert, fields: [:])])
    }

    @Test("an unknown entity byte is refused with its value and position")
    func unknownEntity() throws {
        let error = try Self.decodeOne(Self.entry(entity: 0x09))
        #expect(error == .malformedEntry(index: 0, offset: 4, reason: "unknown entity byte 0x09"))
        #expect(error?.description == "batch refused: entry #0 is malformed at payload offset 4 (unknown entity byte 0x09); nothing applied")
    }

    @Test("an unknown op byte is refused")
    func unknownOp() throws {
        #expect(try Self.decodeOne(Self.entry(op: 0x03)) == .malformedEntry(index: 0, offset: 5, reason: "unknown op byte 0x03"))
    }

    @Test("unknown node markers, field-name ids and type tags are refused")
    func unknownBytes() throws {
        var badNode = Self.entry()
        badNode[2] = 0x02
        #expect(try Self.decodeOne(badNode) == .malformedEntry(index: 0, offset: 3, reason: "unknown node marker 0x02"))
        #expect(try Self.decodeOne(Self.entry(fields: [0x01, 0x2B, 0x00]))
                == .malformedEntry(index: 0, offset: 9, reason: "unknown field-name id 0x2b (version 1 defines 0x00-0x2a)"))
        #expect(try Self.decodeOne(Self.entry(fields: [0x01, 0x00, 0x05]))
                == .malformedEntry(index: 0, offset: 10, reason: "unknown type tag 0x05 for field \"code\""))
    }

    @Test("truncated entries, bad UTF-8, duplicate fields and bad varints are refused")
    func structuralErrors() throws {
        // Field count 1 but nothing follows.
        #expect(try Self.decodeOne(Self.entry(fields: [0x01])) == .malformedEntry(index: 0, offset: 8, reason: "truncated: 1 fields declared, 0 bytes remain"))
        // Text value declares 5 bytes, 2 remain.
        #expect(try Self.decodeOne(Self.entry(fields: [0x01, 0x00, 0x04, 0x05, 0x41, 0x42]))
                == .malformedEntry(index: 0, offset: 11, reason: "truncated: text value of field \"code\" declares 5 bytes, 2 remain"))
        // Invalid UTF-8 in the key.
        #expect(try Self.decodeOne([0x02, 0x02, 0x00, 0x00, 0x00, 0x02, 0xC3, 0x28, 0x00])
                == .malformedEntry(index: 0, offset: 6, reason: "key is not valid UTF-8"))
        // The same field twice.
        #expect(try Self.decodeOne(Self.entry(fields: [0x02, 0x00, 0x00, 0x00, 0x00]))
                == .malformedEntry(index: 0, offset: 12, reason: "duplicate field \"code\""))
        // The same unknown field twice, inline.
        #expect(try Self.decodeOne(Self.entry(fields: [0x02, 0xFF, 0x01, 0x78, 0x01, 0xFF, 0x01, 0x78, 0x02])) != nil)
        // Non-minimal varint (0x82 0x00 for 2), and a varint longer than 64 bits.
        #expect(try Self.decodeOne([0x82, 0x00] + Array(Self.entry().dropFirst()))
                == .malformedEntry(index: 0, offset: 2, reason: "seq delta varint is not minimally encoded"))
        #expect(try Self.decodeOne([UInt8](repeating: 0xFF, count: 10) + [0x01])
                == .malformedEntry(index: 0, offset: 10, reason: "seq delta varint overflows 64 bits"))
        // The payload ends inside the second of two declared entries.
        #expect(try Self.decodeOne(Self.entry() + [0x02, 0x02, 0x00], count: 2)
                == .malformedEntry(index: 1, offset: 11, reason: "truncated: entity missing"))
        // Garbage after the declared entries.
        #expect(try Self.decodeOne(Self.entry() + [0x02, 0x02, 0x07]) == .trailingPayload(entries: 1, bytes: 3))
    }

    @Test("random payloads and random mutations of valid payloads never crash the decoder")
    func fuzz() throws {
        var rng = SplitMix64(seed: 7)
        let valid = try Fixtures.payload(of: BatchCodec.encode(node: "S01", changes: Fixtures.varied()))
        var refused = 0
        for round in 0..<3_000 {
            var payload: [UInt8]
            if round % 2 == 0 {
                payload = (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            } else {
                payload = valid
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    switch Int.random(in: 0..<3, using: &rng) {
                    case 0: payload[Int.random(in: 0..<payload.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                    case 1: payload.removeLast(Int.random(in: 0..<min(20, payload.count), using: &rng))
                    default: payload.insert(UInt8.random(in: 0...255, using: &rng), at: Int.random(in: 0...payload.count, using: &rng))
                    }
                }
            }
            let count = UInt32.random(in: 1...8, using: &rng)
            let bytes = try Fixtures.assemble(firstSeq: 1, lastSeq: 1, count: count, payload: payload)
            do {
                _ = try BatchCodec.decode(bytes)
            } catch is BatchError {
                refused += 1
            } catch {
                Issue.record("non-BatchError thrown: \(error)")
            }
        }
        #expect(refused > 2_900)
    }
}
