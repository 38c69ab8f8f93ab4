import Foundation
import SyncModel
import SyncWire
import Testing

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
        let error = try Self.decodeOne(Self.entry(entity: 0x5A))
        #expect(error == .malformedEntry(index: 0, offset: 4, reason: "unknown entity byte 0x5a"))
        #expect(error?.description == "batch refused: entry #0 is malformed at payload offset 4 (unknown entity byte 0x5a); nothing applied")
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
        #expect(try Self.decodeOne(Self.entry(fields: [0x01, 0x3D, 0x00]))
                == .malformedEntry(index: 0, offset: 9, reason: "unknown field-name id 0x3d (version 2 defines 0x00-0x3c)"))
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
