import Foundation
import Testing
@testable import SyncHub
import SyncModel

/// The transfer body's reader (`TransferDecoding`) gives exactly what `JSONDecoder` gives for
/// the whole array: the same items, the same errors naming the same fields, the same refusal
/// of a body that is not an array.
@Suite("Reading a transfer batch")
struct TransferDecodingTests {
    /// Both readings of `body`: the items, or nil when the body is refused.
    func both(_ body: String) -> (fast: [Result<TransferItem, TransferError>]?, foundation: [Result<TransferItem, TransferError>]?) {
        let bytes = Array(body.utf8)
        return bytes.withUnsafeBytes { raw in
            ((try? TransferDecoding.items(raw))?.map(\.value), (try? TransferDecoding.whole(raw))?.map(\.value))
        }
    }

    @Test("hand-picked bodies: flat items, escapes, unknown names, documents, wrong types, repeated names, elements that are not items",
          arguments: [
              #"[]"#, #"  [ ]  "#,
              #"[{"external_customer_id":"C1","external_address_id":"A1","trigger":"invoice","first_name":"Anna","last_name":"Nowak","street":"Długa 5","city":"Gdańsk","country":"PL","postal_code":"80-001","debtor_number":"D-1","email":"a@b.pl","phone":"+48 1","institution":"SCH"}]"#,
              "[\n {\"first_name\" : \"A\\\"n\\\\n\\/a\\u00e9\\ud83d\\ude00\\n\", \"last_name\": null}\t,\r\n{}]",
              #"[{"first_name":"Anna","extra":5,"more":{"a":[1,2,{"b":"]"}]},"list":[],"flag":true,"f":1.5e3}]"#,
              #"[{"external_address_id":"A2","trigger":"invoice","invoice":{"external_number":"F/1","amount":"12.50","currency":"PLN","lines":[{"offer":"T","quantity":2,"unit_price":"6.25"}]}}]"#,
              #"[{"external_address_id":"A3","order":null,"invoice":null}]"#,
              #"[{"postal_code":80001},{"first_name":true},{"last_name":["x"]},{"city":{"a":1}}]"#,
              #"[{"first_name":"A","first_name":"B"}]"#,
              #"[{"first\u005fname":"escaped name"}]"#,
              #"[5, "text", null, [1,2], true, {"first_name":"ok"}]"#,
              #"[{"invoice":{"lines":"not a list"}}]"#,
              // Not arrays of values: refused by both.
              #"{"first_name":"A"}"#, #"[{"a":1} {"b":2}]"#, #"[{"a":1},]"#, #"["#, #"[{"a":"x}]"#, #"[{"a":1}] x"#, #"[{"a":1]}"#,
              #"[{"first_name":"A",}]"#, #""#, #"[01]"#,
          ])
    func handPicked(_ body: String) {
        let (fast, foundation) = both(body)
        #expect(fast == foundation, "\(body)")
    }

    @Test("an element that is not valid JSON (a lone surrogate, a number too large, a bad escape or literal) refuses that item only, naming it",
          arguments: [#"{"first_name":"\ud800","last_name":"X"}"#, #"{"a":tru}"#, #"{"first_name":"\x"}"#,
                      #"{"invoice":{"external_number":"N","currency":"PLN","lines":[{"offer":"T","quantity":123456789012345678901234567890,"unit_price":"1.00"}]}}"#])
    func badElementIsOneBadItem(_ element: String) throws {
        let body = "[" + #"{"first_name":"before"}"# + "," + element + "," + #"{"first_name":"after"}"# + "]"
        let items = try Array(body.utf8).withUnsafeBytes { try TransferDecoding.items($0) }.map(\.value)
        #expect(items.count == 3)
        #expect((try? items[0].get())?.firstName == "before" && (try? items[2].get())?.firstName == "after")
        guard case .failure(let e) = items[1] else { Issue.record("the bad element was read: \(items[1])"); return }
        #expect(e.field == "item" || e.field.hasPrefix("invoice"), "\(e)")
    }

    @Test("a body that is not UTF-8 is refused by both")
    func notUTF8() {
        let bytes: [UInt8] = Array(#"[{"first_name":""#.utf8) + [0xFF, 0xFE] + Array(#""}]"#.utf8)
        bytes.withUnsafeBytes { raw in
            #expect((try? TransferDecoding.items(raw)) == nil)
            #expect((try? TransferDecoding.whole(raw)) == nil)
        }
    }

    @Test("random batches of items, values and white space read the same both ways")
    func randomBodies() {
        var rng = SeededRandom(seed: 21)
        let names = TransferDecoding.Member.names + ["extra", "note", "Trigger"]
        let pieces = ["a", "Ż", "\\\"", "\\\\", "\\/", "\\n", "\\t", "\\u0041", "\\u017c", " ", "-", "1"]
        func value() -> String {
            switch Int.random(in: 0..<12, using: &rng) {
            case 0: return "null"
            case 1: return "\(Int.random(in: -99...99999, using: &rng))"
            case 2: return "true"
            case 3: return #"{"external_number":"N1","currency":"PLN","lines":[{"offer":"T","quantity":1,"unit_price":"1.00"}]}"#
            case 4: return "[1,\"x\"]"
            default: return "\"" + (0..<Int.random(in: 0...6, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined() + "\""
            }
        }
        func space() -> String { ["", " ", "\n", "\t ", ""].randomElement(using: &rng)! }
        var flat = 0
        for _ in 0..<400 {
            let items = (0..<Int.random(in: 0...6, using: &rng)).map { _ -> String in
                if Int.random(in: 0..<15, using: &rng) == 0 { return value() }
                let members = (0..<Int.random(in: 0...8, using: &rng)).map { _ in
                    "\(space())\"\(names.randomElement(using: &rng)!)\"\(space()):\(space())\(value())\(space())"
                }
                return "{" + members.joined(separator: ",") + "}"
            }
            let body = space() + "[" + items.map { space() + $0 + space() }.joined(separator: ",") + "]" + space()
            let (fast, foundation) = both(body)
            #expect(fast == foundation, "\(body)")
            body.utf8.withContiguousStorageIfAvailable { b in
                flat += TransferDecoding.elements(b)?.filter { TransferDecoding.flat(UnsafeBufferPointer(rebasing: b[$0])) != nil }.count ?? 0
            }
        }
        #expect(flat > 100, "the flat reading was taken for \(flat) items")
    }
}

@Suite("Writing a transfer reply")
struct TransferReplyTests {
    /// The reply's shape: an object whose `results` is the array of results.
    struct TransferReply: Encodable { var results: [TransferResult] }

    @Test("the reply's bytes are JSONEncoder's with sorted keys, for results of every shape and text with every escape")
    func sameAsFoundation() throws {
        var rng = SeededRandom(seed: 5)
        let pieces = ["a", "Ż", "\"", "\\", "/", "\n", "\t", "\r", "\u{08}", "\u{0C}", "\u{01}", "\u{1F}", "😀", " ", "é"]
        func text() -> String { (0..<Int.random(in: 0...5, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined() }
        func maybe() -> String? { Bool.random(using: &rng) ? text() : nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for _ in 0..<300 {
            let results = (0..<Int.random(in: 0...4, using: &rng)).map { _ in
                TransferResult(externalAddressID: maybe(), code: maybe(), action: maybe(),
                               documents: Bool.random(using: &rng) ? (0..<Int.random(in: 0...2, using: &rng)).map { _ in text() } : nil,
                               error: Bool.random(using: &rng) ? TransferError(field: text(), message: text()) : nil)
            }
            let expected = [UInt8](try encoder.encode(TransferReply(results: results)))
            #expect(TransferDecoding.reply(results) == expected, "\(String(decoding: expected, as: UTF8.self))")
        }
    }
}
