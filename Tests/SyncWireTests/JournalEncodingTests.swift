import Foundation
import SyncModel
@testable import SyncWire
import Testing

/// A push is encoded straight from the journal's JSON text (`BatchWriter.appendJournal`);
/// these pin that it writes exactly the bytes of decoding the text and appending the change.
@Suite("Encoding a push from the journal's text")
struct JournalEncodingTests {
    /// The batch `appendJournal` builds for the changes' stored texts, and the one `append` builds.
    func both(_ changes: [Change], texts: [String]? = nil) throws -> (fromText: [UInt8], decoded: [UInt8]) {
        var fromText = BatchWriter(node: Fixtures.node), decoded = BatchWriter(node: Fixtures.node)
        for (i, c) in changes.enumerated() {
            var text = texts?[i] ?? c.fields.canonicalJSON()
            try text.withUTF8 { json in
                try fromText.appendJournal(seq: c.seq, hlc: c.hlc, node: c.node, entity: c.entity, op: c.op, key: c.key, fieldsJSON: json)
            }
            decoded.append(Change(seq: c.seq, hlc: c.hlc, node: c.node, entity: c.entity, key: c.key, op: c.op,
                                  fields: try Fields.fromJSON(text)))
        }
        #expect(fromText.count == changes.count && fromText.firstSeq == decoded.firstSeq && fromText.lastSeq == decoded.lastSeq)
        return (try fromText.finish(), try decoded.finish())
    }

    @Test("varied and realistic entries (unicode, escapes, unknown names, other nodes) give the same bytes as decoding them first")
    func sameBytes() throws {
        for changes in [Fixtures.varied(), Fixtures.realistic(count: 500)] {
            let (fromText, decoded) = try both(changes)
            #expect(fromText == decoded)
            #expect(try BatchCodec.decode(fromText).changes.map(\.fields) == changes.map(\.fields))
        }
    }

    @Test("texts the fast path does not take (a repeated name, spaces, escaped names, invalid UTF-8) are decoded first, same bytes")
    func fallbacks() throws {
        let texts = [
            #"{"phone":"1","phone":"2"}"#,                 // repeated name: the last one counts
            #"{ "code" : "A1" , "kind":"business" }"#,     // spaces
            #"{"co\u0064e":"A1"}"#,                        // an escape in a name
            #"{"city":"Kraków \"Stare\" Miasto\n"}"#,      // escapes in a value
            #"{}"#,
            #"{"deleted":true,"name":null,"seq":-7}"#,
        ]
        let changes = texts.enumerated().map { i, _ in
            Change(seq: Int64(i + 1), hlc: HLC(rawValue: UInt64(i) * 7), node: Fixtures.node, entity: .partner, key: "K\(i)", op: .update, fields: [:])
        }
        let (fromText, decoded) = try both(changes, texts: texts)
        #expect(fromText == decoded)
        let fields = try BatchCodec.decode(fromText).changes.map(\.fields)
        #expect(fields[0] == ["phone": .text("2")])
        #expect(fields[2] == ["code": .text("A1")])
        #expect(fields[3] == ["city": .text("Kraków \"Stare\" Miasto\n")])

        // Invalid UTF-8 in a stored value reads as `String(decoding:)` repairs it, either way.
        var bad = Array(#"{"name":"ab"}"#.utf8)
        bad.insert(0xFF, at: 10)
        var w = BatchWriter(node: Fixtures.node)
        try bad.withUnsafeBufferPointer { try w.appendJournal(seq: 1, hlc: .zero, node: Fixtures.node, entity: .partner, op: .update, key: "K", fieldsJSON: $0) }
        #expect(try BatchCodec.decode(w.finish()).changes[0].fields["name"] == .text(String(decoding: Array("a".utf8) + [0xFF] + Array("b".utf8), as: UTF8.self)))

        // An invalid byte before an escaped one: repaired as a whole first, as decoding does.
        let damaged: [UInt8] = Array(#"{"name":""#.utf8) + [0xC3, UInt8(ascii: "\\"), UInt8(ascii: "n")] + Array(#""}"#.utf8)
        var fast = BatchWriter(node: Fixtures.node), slow = BatchWriter(node: Fixtures.node)
        try damaged.withUnsafeBufferPointer { try fast.appendJournal(seq: 1, hlc: .zero, node: Fixtures.node, entity: .partner, op: .update, key: "K", fieldsJSON: $0) }
        slow.append(Change(seq: 1, hlc: .zero, node: Fixtures.node, entity: .partner, key: "K", op: .update,
                           fields: try Fields.fromJSON(String(decoding: damaged, as: UTF8.self))))
        #expect(try fast.finish() == slow.finish())
    }

    @Test("a text that is not JSON is refused with an error, not encoded")
    func malformed() throws {
        var w = BatchWriter(node: Fixtures.node)
        for text in [#"{"code":"A1""#, #"["code"]"#, ""] {
            #expect(throws: (any Error).self) {
                var t = text
                try t.withUTF8 { try w.appendJournal(seq: 1, hlc: .zero, node: "S01", entity: .partner, op: .update, key: "K", fieldsJSON: $0) }
            }
        }
        #expect(w.count == 0 && w.payloadBytes == 0)
    }

    @Test("field ids found from bytes match the names' ids; other names have none")
    func knownIDs() {
        for (id, name) in BatchFormat.fieldNames.enumerated() {
            var n = name
            #expect(n.withUTF8 { BatchFormat.knownID(utf8: $0) } == UInt8(id))
        }
        for other in ["", "c", "cod", "codes", "Code", "node ", "seq\u{0}", "issued_by_", "名前", "reasoN"] {
            var n = other
            #expect(n.withUTF8 { BatchFormat.knownID(utf8: $0) } == nil)
        }
    }
}
