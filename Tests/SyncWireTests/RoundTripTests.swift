import Foundation
import SyncModel
@testable import SyncWire
import Testing

@Suite("Batch round trip")
struct RoundTripTests {
    @Test("varied changes (unicode, extreme and negative ints, nulls, bools, unknown field names, other nodes) decode to exactly what was encoded")
    func variedRoundTrip() throws {
        let changes = Fixtures.varied()
        let bytes = try BatchCodec.encode(node: Fixtures.node, changes: changes)
        let batch = try BatchCodec.decode(bytes)
        #expect(batch.changes == changes)
        #expect(batch.header.node == Fixtures.node)
        #expect(batch.header.version == BatchFormat.version)
        #expect(batch.header.count == UInt32(changes.count))
        #expect(batch.header.firstSeq == 41)
        #expect(batch.header.lastSeq == Int64.max)
        #expect(batch.header.compressedLength == UInt32(bytes.count - BatchHeader.size))
        #expect(try BatchCodec.decodeHeader(bytes) == batch.header)
        // Field values keep their exact bytes (no normalisation of combining marks).
        let note = try #require(batch.changes[3].fields["note"]?.text)
        #expect(Array(note.utf8) == Array("e\u{301} vs é, 👩‍👩‍👧, \u{0}nul, tab\tnew\nline".utf8))
    }

    @Test("1,000 realistic changes round trip at every compression level")
    func realisticRoundTrip() throws {
        let changes = Fixtures.realistic(count: 1_000)
        for level: Int32 in [-1, 0, 1, 6, 9] {
            let batch = try BatchCodec.decode(BatchCodec.encode(node: "S01", changes: changes, level: level))
            #expect(batch.changes == changes)
            #expect(batch.header.firstSeq == 1 && batch.header.lastSeq == 1_000)
        }
    }

    @Test("an empty change list makes a valid batch with first = last = 0 and count 0")
    func emptyBatch() throws {
        let bytes = try BatchCodec.encode(node: "S01", changes: [])
        let batch = try BatchCodec.decode(bytes)
        #expect(batch.changes.isEmpty)
        #expect(batch.header == BatchHeader(node: "S01", firstSeq: 0, lastSeq: 0, count: 0, uncompressedLength: 0,
                                            crc32: 0, compressedLength: UInt32(bytes.count - BatchHeader.size)))
    }

    @Test("encoding is deterministic: field insertion order does not change the bytes")
    func deterministic() throws {
        let names = ["email", "zeta", "code", "alpha", "phone", "名前", "kind"]
        var forward: Fields = [:]
        for (i, n) in names.enumerated() { forward[n] = .int(Int64(i)) }
        var backward: Fields = [:]
        for (i, n) in names.enumerated().reversed() { backward[n] = .int(Int64(i)) }
        let a = Change(seq: 1, hlc: Fixtures.baseHLC, node: "S01", entity: .partner, key: "k", op: .update, fields: forward)
        var b = a
        b.fields = backward
        #expect(try BatchCodec.encode(node: "S01", changes: [a]) == BatchCodec.encode(node: "S01", changes: [b]))
    }

    @Test("BatchWriter builds the same bytes as encode and reports count and payload size")
    func writerMatchesEncode() throws {
        let changes = Fixtures.realistic(count: 250)
        var writer = BatchWriter(node: "S01")
        #expect(writer.count == 0 && writer.payloadBytes == 0)
        var lastSize = 0
        for change in changes {
            writer.append(change)
            #expect(writer.payloadBytes > lastSize)
            lastSize = writer.payloadBytes
        }
        #expect(writer.count == 250)
        #expect(writer.firstSeq == 1 && writer.lastSeq == 250)
        #expect(writer.fits(.default))
        #expect(!writer.fits(BatchLimits(maxEntries: 249)))
        #expect(!writer.fits(BatchLimits(maxUncompressedBytes: writer.payloadBytes - 1)))
        let bytes = try writer.finish()
        #expect(bytes == (try BatchCodec.encode(node: "S01", changes: changes)))
        let header = try BatchCodec.decodeHeader(bytes)
        #expect(Int(header.uncompressedLength) == writer.payloadBytes)
    }

    @Test("a backlog streamed through BatchWriter in bounded batches arrives complete and in order")
    func streamingBacklog() throws {
        let backlog = Fixtures.realistic(count: 2_000)
        let limits = BatchLimits(maxUncompressedBytes: 32 * 1024)
        var batches: [[UInt8]] = []
        var writer = BatchWriter(node: "S01")
        for change in backlog {
            writer.append(change)
            // Close the batch at a soft target well under the receiver's limit.
            if writer.payloadBytes >= 24 * 1024 {
                #expect(writer.fits(limits))
                batches.append(try writer.finish())
                writer = BatchWriter(node: "S01")
            }
        }
        if writer.count > 0 { batches.append(try writer.finish()) }
        #expect(batches.count > 5)
        var received: [Change] = []
        var expectedFirst: Int64 = 1
        for bytes in batches {
            let batch = try BatchCodec.decode(bytes, limits: limits)
            #expect(batch.header.firstSeq == expectedFirst)
            expectedFirst = batch.header.lastSeq + 1
            received += batch.changes
        }
        #expect(received == backlog)
    }

    @Test("a node id of exactly 64 UTF-8 bytes is accepted; 65 bytes is refused when building")
    func nodeIdLength() throws {
        let node64 = String(repeating: "ż", count: 32) // 2 bytes each
        let change = Change(seq: 1, hlc: Fixtures.baseHLC, node: node64, entity: .partner, key: "a", op: .insert, fields: [:])
        let batch = try BatchCodec.decode(BatchCodec.encode(node: node64, changes: [change]))
        #expect(batch.header.node == node64)
        #expect(batch.changes == [change])

        let node65 = node64 + "x"
        let error = #expect(throws: BatchError.self) { try BatchCodec.encode(node: node65, changes: []) }
        #expect(error == .nodeIdTooLong(bytes: 65, limit: 64))
        #expect(error?.description == "batch not built: node id is 65 bytes of UTF-8, the limit is 64")
    }

    @Test("an invalid compression level is reported as a build error")
    func invalidLevel() throws {
        #expect(throws: BatchError.compressionFailed(reason: "invalid zlib compression level 12 (expected -1...9)")) {
            try BatchCodec.encode(node: "S01", changes: [], level: 12)
        }
    }

    @Test("entries from the header's node carry no node id; others carry theirs")
    func nodeMarker() throws {
        let own = Change(seq: 1, hlc: .zero, node: "S01", entity: .partner, key: "", op: .insert, fields: [:])
        var other = own
        other.node = "KRK-02"
        let ownPayload = try Fixtures.payload(of: BatchCodec.encode(node: "S01", changes: [own]))
        let otherPayload = try Fixtures.payload(of: BatchCodec.encode(node: "S01", changes: [other]))
        #expect(ownPayload == [0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00])
        #expect(otherPayload == [0x02, 0x00, 0x01, 0x06] + Array("KRK-02".utf8) + [0x00, 0x00, 0x00, 0x00])
    }
}
