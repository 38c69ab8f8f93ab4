// libFuzzer target: the batch decoder (`BatchCodec.decode`), the first thing the hub runs on
// a pushed body and a node on a pulled page. Any input either decodes or throws `BatchError`,
// within the limits; what decodes encodes back to a batch that decodes to the same changes.
import Foundation
@testable import SyncModel
@testable import SyncWire

let limits = BatchLimits(maxCompressedBytes: 1 << 20, maxUncompressedBytes: 4 << 20, maxEntries: 10_000)

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    Seeds.writeIfAsked { $0 }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBatch(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = try? BatchCodec.peekHeader(bytes, limits: limits)
    guard let batch = try? BatchCodec.decode(bytes, limits: limits) else { return 0 }
    precondition(batch.changes.count <= limits.maxEntries)
    let again = try? BatchCodec.decode(BatchCodec.encode(node: batch.header.node, changes: batch.changes), limits: limits)
    precondition(again?.changes == batch.changes, "a decoded batch does not survive encoding again")
    return 0
}
