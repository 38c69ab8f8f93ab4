// libFuzzer target: the entry decoder (`PayloadDecoder`), behind the batch's CRC: the input
// is an inflated payload, as a batch whose checksum matches would deliver it. The first byte
// is the entry count the header declares (0-255), the rest the payload. Any input either
// decodes or throws `BatchError`; what decodes encodes back to the same changes.
import Foundation
@testable import SyncModel
@testable import SyncWire

let limits = BatchLimits(maxCompressedBytes: 1 << 20, maxUncompressedBytes: 4 << 20, maxEntries: 10_000)

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    // The count byte, then the inflated payload of each seed batch (counts up to 255).
    Seeds.writeIfAsked { batches in
        try batches.compactMap { b in
            let header = try BatchCodec.decodeHeader(b)
            guard header.count <= 255 else { return nil }
            return [UInt8(header.count)] + (try Zlib.decompress(Array(b[BatchHeader.size...]), limit: 1 << 24))
        }
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEntries(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let payload = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let header = BatchHeader(node: "FUZZ", firstSeq: 1, lastSeq: 1, count: UInt32(data[0]), uncompressedLength: UInt32(payload.count),
                             crc32: 0, compressedLength: 0)
    guard let changes = try? PayloadDecoder.decode(payload, header: header, limits: limits), !changes.isEmpty else { return 0 }
    let again = try? BatchCodec.decode(BatchCodec.encode(node: header.node, changes: changes), limits: limits)
    precondition(again?.changes == changes, "decoded entries do not survive encoding again")
    return 0
}
