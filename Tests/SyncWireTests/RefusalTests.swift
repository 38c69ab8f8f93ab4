import Foundation
import SyncModel
import SyncWire
import Testing

/// Every refusal must be a `BatchError` whose description reads as an operator sentence.
func refusal(_ bytes: [UInt8], limits: BatchLimits = .default,
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

    @Test("a batch of a format version this build does not read is refused with the versions named")
    func wrongVersion() throws {
        for version: UInt8 in [0, 3] {
            var bytes = Self.batch
            bytes[5] = version
            let error = refusal(bytes)
            #expect(error == .unsupportedVersion(found: UInt16(version), supported: 2))
            #expect(error?.description == "batch refused: format version \(version) is not supported (this build reads versions 1 to 2); nothing applied")
        }
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
