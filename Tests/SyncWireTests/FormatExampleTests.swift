import Foundation
import SyncModel
import SyncWire
import Testing

/// Pins the byte format to the worked example in docs/batch-format.md.
@Suite("docs/batch-format.md worked example")
struct FormatExampleTests {
    static let changes = [
        Change(seq: 41, hlc: HLC(millis: 1_732_521_600_000, counter: 0), node: "S01", entity: .partner,
               key: "S01-000041", op: .insert,
               fields: ["code": .text("S01-000041"), "kind": .text("consumer"), "lowest_price": .bool(true), "phone": .null]),
        Change(seq: 42, hlc: HLC(millis: 1_732_521_600_250, counter: 1), node: "S01", entity: .document,
               key: "S01-R000007", op: .update,
               fields: ["amount_minor": .int(-1250), "note": .text("zwrot")]),
    ]

    /// The 195-byte batch printed in the document (zlib 1.2.13, level 6).
    static let documentedBatch = bytes("""
        504f5342000100000003533031000000000000000000000000000000000000000000000000000000\
        00000000000000000000000000000000000000000000000000000000000000000000000000000000\
        0029000000000000002a000000020000005b2f82ff000000005584da446a789c0b6a686838b065ea\
        c6c9cc0c0c0c5cc10686ba06406062c8c2c082c46364e148cecf2b2ecd4d2d1261e264606a6ab8c0\
        cfc0c4c80d521104526260cea4c07c58f83f4b5e7e492a0b6b5579517e090027451731
        """)

    /// The 91-byte payload printed in the document.
    static let documentedPayload = bytes("""
        52808080c0b495b193030000000a5330312d3030303034310400040a5330312d3030303034310104\
        08636f6e73756d657214020900028280d00f0002010b5330312d52303030303037022003c313ff04\
        6e6f746504057a77726f74
        """)

    static func bytes(_ hex: String) -> [UInt8] {
        let digits = Array(hex.utf8).filter { $0 != UInt8(ascii: "\n") && $0 != UInt8(ascii: " ") }
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
    }

    @Test("the documented batch decodes to the documented changes")
    func decodesDocumentedBatch() throws {
        #expect(Self.documentedBatch.count == 195)
        let batch = try BatchCodec.decode(Self.documentedBatch)
        #expect(batch.changes == Self.changes)
        #expect(batch.header == BatchHeader(version: 1, node: "S01", firstSeq: 41, lastSeq: 42, count: 2, uncompressedLength: 91,
                                            crc32: 0x2F82_FF00, compressedLength: 85))
    }

    @Test("encoding the documented changes gives the documented header fields and payload bytes")
    func encodesDocumentedPayload() throws {
        let bytes = try BatchCodec.encode(node: "S01", changes: Self.changes, version: 1)
        // Header bytes before the compressed length do not depend on the zlib build.
        #expect(Array(bytes[0..<102]) == Array(Self.documentedBatch[0..<102]))
        #expect(try Fixtures.payload(of: bytes) == Self.documentedPayload)
        #expect(Zlib.crc32(Self.documentedPayload) == 0x2F82_FF00)
    }
}
