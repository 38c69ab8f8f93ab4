import Testing
@testable import SyncWire
import SyncModel

/// Format versions 1 and 2 (docs/batch-format.md, "Versions").
@Suite("Batch format versions")
struct FormatVersionTests {
    /// A price cell and a customer with a category: names version 2 gives ids.
    static let changes = [
        Change(seq: 1, hlc: HLC(rawValue: 1 << 16), node: "S01", entity: .price, key: "CC1|OC1", op: .insert,
               fields: ["customer_category": .text("CC1"), "offer_category": .text("OC1"), "amount_minor": .int(1250),
                        "currency": .text("PLN"), "price_version": .int(3)]),
        Change(seq: 2, hlc: HLC(rawValue: 2 << 16), node: "S01", entity: .partner, key: "K1-1", op: .insert,
               fields: ["code": .text("K1-1"), "kind": .text("consumer"), "category": .text("CC1"), "last_name": .text("Nowak")]),
    ]

    @Test("version 2 writes the customer module's names by id, version 1 inline; both decode to the same changes")
    func bothVersionsRoundTrip() throws {
        let v1 = try BatchCodec.encode(node: "S01", changes: Self.changes, version: 1)
        let v2 = try BatchCodec.encode(node: "S01", changes: Self.changes, version: 2)
        let one = try BatchCodec.decode(v1), two = try BatchCodec.decode(v2)
        #expect(one.header.version == 1)
        #expect(two.header.version == 2)
        #expect(one.changes == Self.changes)
        #expect(two.changes == Self.changes)
        // Inline, a name is written as its bytes; by id, not at all.
        var p1 = PayloadEncoder(headerNode: "S01", version: 1), p2 = PayloadEncoder(headerNode: "S01", version: 2)
        for c in Self.changes { p1.append(c); p2.append(c) }
        func contains(_ bytes: [UInt8], _ text: String) -> Bool {
            let t = Array(text.utf8)
            return bytes.indices.contains { i in i + t.count <= bytes.count && Array(bytes[i..<(i + t.count)]) == t }
        }
        #expect(contains(p1.bytes, "customer_category"))
        #expect(!contains(p2.bytes, "customer_category"))
        #expect(!contains(p2.bytes, "offer_category"))
        #expect(p2.bytes.count + 3 * 12 < p1.bytes.count)
    }

    @Test("a version 1 batch with an id only version 2 defines is refused, naming the version")
    func versionOneRefusesNewIDs() throws {
        // A version 2 batch whose header claims version 1: the id 0x2e (customer_category) is unknown there.
        var p = PayloadEncoder(headerNode: "S01", version: 2)
        p.append(Self.changes[0])
        let payload = p.bytes
        let header = BatchHeader(version: 1, node: "S01", firstSeq: 1, lastSeq: 1, count: 1,
                                 uncompressedLength: UInt32(payload.count), crc32: Zlib.crc32(payload),
                                 compressedLength: 0)
        let body = try Zlib.compress(payload)
        var withBody = header
        withBody.compressedLength = UInt32(body.count)
        let bytes = try withBody.encoded() + body
        #expect(throws: BatchError.self) { try BatchCodec.decode(bytes) }
        do {
            _ = try BatchCodec.decode(bytes)
        } catch let error as BatchError {
            #expect(error.description.contains("version 1 defines 0x00-0x2a"), "\(error)")
        }
        // The same payload under a version 2 header reads.
        var two = withBody
        two.version = 2
        #expect(try BatchCodec.decode(try two.encoded() + body).changes == [Self.changes[0]])
    }

    @Test("the version written is the newest both sides read; a peer that does not say reads version 1")
    func negotiation() {
        #expect(BatchFormat.negotiated(nil) == 1)
        #expect(BatchFormat.negotiated(1) == 1)
        #expect(BatchFormat.negotiated(2) == 2)
        #expect(BatchFormat.negotiated(9) == BatchFormat.version)
        #expect(BatchFormat.negotiated(0) == 1)
        #expect(BatchFormat.negotiated(-5) == 1)
        #expect(BatchFormat.fieldNameCount(version: 1) == 43)
        #expect(BatchFormat.fieldNameCount(version: 2) == BatchFormat.fieldNames.count)
        #expect(BatchFormat.fieldNames.count <= 64)
    }

    @Test("a journal entry with names version 1 writes inline gives the same bytes from its text as decoded")
    func journalTextAtVersionOne() throws {
        let change = Self.changes[1]
        let json = Array(change.fields.canonicalJSON().utf8)
        for version: UInt16 in [1, 2] {
            var fast = BatchWriter(node: "S01", version: version), slow = BatchWriter(node: "S01", version: version)
            try json.withUnsafeBufferPointer { text in
                try fast.appendJournal(seq: change.seq, hlc: change.hlc, node: change.node, entity: change.entity, op: change.op,
                                       key: change.key, fieldsJSON: text)
            }
            slow.append(change)
            #expect(try fast.finish() == slow.finish(), "version \(version)")
            #expect(try BatchCodec.decode(fast.finish()).changes == [change])
        }
    }
}
