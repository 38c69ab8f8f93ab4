import Foundation
import SyncModel
import SyncWire
import Testing

@Suite("Encoding size")
struct SizeTests {
    @Test("the binary batch of 1,000 realistic partner/document changes is smaller than zlib-6 over JSON lines")
    func smallerThanJSONLines() throws {
        let changes = Fixtures.realistic(count: 1_000)
        #expect(Set(changes.map(\.entity)) == [.partner, .address, .document])

        let batch = try BatchCodec.encode(node: "S01", changes: changes, level: 6)
        let header = try BatchCodec.decodeHeader(batch)

        // Sorted keys: deterministic output (dictionary order would vary per process) and
        // the most compressible JSON, so the comparison is not flattered.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var jsonLines: [UInt8] = []
        for change in changes {
            jsonLines += try encoder.encode(change)
            jsonLines.append(UInt8(ascii: "\n"))
        }
        let jsonZ = try Zlib.compress(jsonLines, level: 6)

        print("""
            SyncWire size, 1,000 changes: binary payload \(header.uncompressedLength) B, \
            batch (110 B header + zlib-6 body) \(batch.count) B; \
            JSON lines \(jsonLines.count) B, zlib-6 JSON lines \(jsonZ.count) B; \
            ratio \(String(format: "%.1f", 100 * Double(batch.count) / Double(jsonZ.count)))%
            """)
        #expect(Int(header.uncompressedLength) < jsonLines.count)
        #expect(batch.count < jsonZ.count)
    }
}
