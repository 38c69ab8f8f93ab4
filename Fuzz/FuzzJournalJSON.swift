// libFuzzer target: the journal's JSON reader (`FlatJSON`), which reads every stored journal
// entry and, through `BatchWriter.appendJournal`, every pushed batch. Any input either decodes
// or throws; what decodes encodes back to the same fields; and a batch made straight from the
// text carries the fields that decoding the text gives.
import Foundation
@testable import SyncModel
@testable import SyncWire

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    Seeds.writeIfAsked { _ in
        Seeds.journal(node: "WAW1", count: 60, seed: 7).map { Array($0.json.utf8) } + [Array(#"{"a":"\u00e9\ud83d\ude00","b":-9223372036854775808,"c":true,"d":null}"#.utf8)]
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJournalJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    // The streaming reader on raw bytes (not necessarily UTF-8).
    var members = 0
    _ = try? FlatJSON.scan(bytes) { _, _ in members += 1 }
    let text = String(decoding: bytes, as: UTF8.self)
    if let fields = try? FlatJSON.decode(text) {
        let again = try? FlatJSON.decode(FlatJSON.encode(fields))
        precondition(again == fields, "FlatJSON round trip changed \(fields) into \(String(describing: again))")
    }
    // The push path: straight from the text, or decoded first when it holds unknown names.
    var writer = BatchWriter(node: "N")
    guard (try? writer.appendJournal(seq: 1, hlc: HLC(rawValue: 1), node: "N", entity: .partner, op: .update, key: "k", fieldsJSON: bytes)) != nil
    else { return 0 }
    guard let batch = try? writer.finish(), let decoded = try? BatchCodec.decode(batch) else {
        preconditionFailure("a batch made from accepted journal text does not decode")
    }
    let expected = try? Fields.fromJSON(text)
    precondition(decoded.changes.first?.fields == expected, "the batch carries \(String(describing: decoded.changes.first?.fields)), the text says \(String(describing: expected))")
    return 0
}
