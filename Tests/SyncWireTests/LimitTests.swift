import Foundation
import SyncModel
import SyncWire
import Testing

/// 64 MiB of zeros as one zlib stream (~64 KiB: deflate reaches about 1000:1 on zeros).
/// Built once; the test process allocates the 64 MiB only here, never while decoding.
let zeroBomb: [UInt8] = try! Zlib.compress([UInt8](repeating: 0, count: 64 << 20), level: 9)

@Suite("Hard limits")
struct LimitTests {
    static let changes = Fixtures.realistic(count: 300)
    static let batch: [UInt8] = try! BatchCodec.encode(node: "S01", changes: changes)
    static var header: BatchHeader { try! BatchCodec.decodeHeader(batch) }

    @Test("default limits are 8 MiB compressed, 64 MiB uncompressed and 100,000 entries")
    func defaults() {
        #expect(BatchLimits.default == BatchLimits(maxCompressedBytes: 8_388_608, maxUncompressedBytes: 67_108_864, maxEntries: 100_000))
        #expect(BatchLimits().maxEntries == 100_000)
    }

    @Test("a batch over the compressed limit is refused from its header; exactly at the limit passes")
    func compressedLimit() throws {
        let size = Int(Self.header.compressedLength)
        #expect(try BatchCodec.decode(Self.batch, limits: BatchLimits(maxCompressedBytes: size)).changes.count == 300)
        let error = #expect(throws: BatchError.self) {
            try BatchCodec.decode(Self.batch, limits: BatchLimits(maxCompressedBytes: size - 1))
        }
        #expect(error == .limitExceeded(.compressedBytes, found: size, limit: size - 1))
        #expect(error?.description == "batch refused: compressed size \(size) bytes exceeds the limit of \(size - 1) bytes; nothing applied")
    }

    @Test("a header declaring a body over the default 8 MiB is refused before the body is looked at")
    func compressedLimitFromHeaderAlone() throws {
        let header = BatchHeader(node: "S01", firstSeq: 1, lastSeq: 1, count: 1, uncompressedLength: 10, crc32: 0,
                                 compressedLength: 8 << 20 + 1)
        let bytes = try header.encoded() // no body at all
        #expect(throws: BatchError.limitExceeded(.compressedBytes, found: 8_388_609, limit: 8_388_608)) {
            try BatchCodec.decode(bytes)
        }
        // The header alone can be checked before the body arrives.
        #expect(throws: BatchError.limitExceeded(.compressedBytes, found: 8_388_609, limit: 8_388_608)) {
            try BatchCodec.peekHeader(bytes)
        }
        let ok = try BatchCodec.peekHeader(try BatchHeader(node: "S01", firstSeq: 1, lastSeq: 1, count: 1, uncompressedLength: 10,
                                                           crc32: 0, compressedLength: 1_000).encoded())
        #expect(ok.batchLength == 1_110)
    }

    @Test("a batch over the uncompressed limit is refused from its header; exactly at the limit passes")
    func uncompressedLimit() throws {
        let size = Int(Self.header.uncompressedLength)
        #expect(try BatchCodec.decode(Self.batch, limits: BatchLimits(maxUncompressedBytes: size)).changes.count == 300)
        #expect(throws: BatchError.limitExceeded(.uncompressedBytes, found: size, limit: size - 1)) {
            try BatchCodec.decode(Self.batch, limits: BatchLimits(maxUncompressedBytes: size - 1))
        }
        let claimsTooMuch = try Fixtures.rewriteHeader(Self.batch) { $0.uncompressedLength = 64 << 20 + 1 }
        #expect(throws: BatchError.limitExceeded(.uncompressedBytes, found: 67_108_865, limit: 67_108_864)) {
            try BatchCodec.decode(claimsTooMuch)
        }
    }

    @Test("a batch over the entry limit is refused from its header; exactly at the limit passes")
    func entryLimit() throws {
        #expect(try BatchCodec.decode(Self.batch, limits: BatchLimits(maxEntries: 300)).changes.count == 300)
        let error = #expect(throws: BatchError.self) {
            try BatchCodec.decode(Self.batch, limits: BatchLimits(maxEntries: 299))
        }
        #expect(error == .limitExceeded(.entries, found: 300, limit: 299))
        #expect(error?.description == "batch refused: 300 entries exceed the limit of 299 entries; nothing applied")
        let claimsTooMany = try Fixtures.rewriteHeader(Self.batch) { $0.count = 100_001 }
        #expect(throws: BatchError.limitExceeded(.entries, found: 100_001, limit: 100_000)) {
            try BatchCodec.decode(claimsTooMany)
        }
    }

    @Test("a decompression bomb (header claims 1,000 bytes, body inflates to 64 MiB) is refused at the header's length")
    func bombLyingHeader() throws {
        #expect(zeroBomb.count < 100_000)
        let bytes = try Fixtures.assemble(firstSeq: 1, lastSeq: 1, count: 1, payload: [], declaredLength: 1_000, crc: 0, body: zeroBomb)
        let clock = ContinuousClock()
        var error: BatchError?
        let elapsed = clock.measure {
            error = #expect(throws: BatchError.self) { try BatchCodec.decode(bytes) }
        }
        // Inflation stopped at the cap: 1,000 bytes (the header's length), not 64 MiB.
        #expect(error == .inflatedSizeExceeded(cap: 1_000, declared: 1_000, limit: 64 << 20))
        #expect(error?.description == "batch refused: body inflates past 1000 bytes (header declares 1000, limit 67108864); decompression stopped at the cap (possible decompression bomb), nothing applied")
        #expect(elapsed < .seconds(1))
    }

    @Test("a decompression bomb whose header claims the full limit is stopped at the receiver's limit")
    func bombAtLimit() throws {
        let limits = BatchLimits(maxUncompressedBytes: 1 << 20)
        let bytes = try Fixtures.assemble(firstSeq: 1, lastSeq: 1, count: 1, payload: [], declaredLength: 1 << 20, crc: 0, body: zeroBomb)
        let error = #expect(throws: BatchError.self) { try BatchCodec.decode(bytes, limits: limits) }
        #expect(error == .inflatedSizeExceeded(cap: 1 << 20, declared: 1 << 20, limit: 1 << 20))
        #expect(error?.description.contains("1048576") == true)
    }

    @Test("Zlib.decompress stops a bomb at its limit")
    func zlibBomb() throws {
        #expect(throws: ZlibError.outputLimitExceeded(limit: 4_096)) { try Zlib.decompress(zeroBomb, limit: 4_096) }
        #expect(throws: ZlibError.outputLimitExceeded(limit: (64 << 20) - 1)) { try Zlib.decompress(zeroBomb, limit: (64 << 20) - 1) }
    }
}
