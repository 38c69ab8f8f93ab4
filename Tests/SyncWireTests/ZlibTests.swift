import Foundation
import SyncModel
@testable import SyncWire
import Testing

@Suite("Zlib wrapper")
struct ZlibTests {
    @Test("compress and decompress round trip, and CRC32 matches the standard check value")
    func roundTrip() throws {
        let text = Array(String(repeating: "Zażółć gęślą jaźń. ", count: 500).utf8)
        let packed = try Zlib.compress(text)
        #expect(packed.count < text.count / 10)
        #expect(packed.first == 0x78) // zlib (RFC 1950) header
        #expect(try Zlib.decompress(packed, limit: text.count) == text)
        #expect(Zlib.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(Zlib.crc32([]) == 0)
        #expect(try Zlib.decompress(Zlib.compress([]), limit: 0) == [])
    }

    @Test("decompress stops at the limit: exactly the limit passes, one byte less is refused")
    func limitBoundary() throws {
        let data = [UInt8](repeating: 7, count: 200_000)
        let packed = try Zlib.compress(data)
        #expect(try Zlib.decompress(packed, limit: 200_000) == data)
        #expect(throws: ZlibError.outputLimitExceeded(limit: 199_999)) { try Zlib.decompress(packed, limit: 199_999) }
        #expect(throws: ZlibError.outputLimitExceeded(limit: 0)) { try Zlib.decompress(packed, limit: 0) }
    }

    @Test("decompress refuses truncated streams, trailing bytes and garbage")
    func refusals() throws {
        let packed = try Zlib.compress(Array("hello, hello, hello".utf8))
        #expect(throws: ZlibError.truncatedStream) { try Zlib.decompress(Array(packed.dropLast(3)), limit: 1000) }
        #expect(throws: ZlibError.trailingData(bytes: 2)) { try Zlib.decompress(packed + [0, 0], limit: 1000) }
        #expect(throws: ZlibError.self) { try Zlib.decompress([0x12, 0x34, 0x56], limit: 1000) }
        #expect(throws: ZlibError.truncatedStream) { try Zlib.decompress([], limit: 1000) }
        #expect(throws: ZlibError.invalidLimit(-1)) { try Zlib.decompress(packed, limit: -1) }
    }
}
