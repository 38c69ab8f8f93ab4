import Foundation
import PropertyBased
@testable import SyncModel
import Testing

/// `FlatJSON` against Foundation's `JSONSerialization` on random field sets: names and texts
/// with every character JSON escapes, quotes, backslashes, slashes and non-ASCII letters.
@Suite("The journal's JSON reader against Foundation")
struct FlatJSONPropertyTests {
    /// Characters a field's text may hold: control characters, what JSON escapes, Polish and
    /// German letters, CJK, emoji (a surrogate pair in `\u` form), combining marks.
    static let character = Gen<Character?>.element(of: Array("\u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f}\"\\/ aZ09{}[]:,ąęłńóśźżÄÖÜß名前😀👩‍👩‍👧e\u{301}\u{7f}\u{2028}"))
        .map { $0 ?? "a" }
    static let text = character.array(of: 0...12).map { String($0) }
    static let name = Gen<Character?>.element(of: Array("abcdefghijklmnopqrstuvwxyz_")).map { $0 ?? "a" }.array(of: 1...12).map { String($0) }
    static let value = Gen<FieldValue>.oneOf(
        Gen<FieldValue>.always(.null).eraseToAnySequence(),
        Gen<Bool>.bool.map { FieldValue.bool($0) }.eraseToAnySequence(),
        Gen<Int64>.int64().map { FieldValue.int($0) }.eraseToAnySequence(),
        text.map { FieldValue.text($0) }.eraseToAnySequence())
    static let fields = zip(name, value).array(of: 0...8)
        .map { pairs -> Fields in Dictionary(pairs, uniquingKeysWith: { _, last in last }) }

    /// What Foundation reads from `json`, as fields (nil when it refuses it or reads something else).
    static func foundation(_ json: String) -> Fields? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else { return nil }
        var out: Fields = [:]
        for (k, v) in object {
            switch v {
            case is NSNull: out[k] = .null
            case let s as String: out[k] = .text(s)
            case let n as NSNumber:
                // JSONSerialization gives booleans and integers both as NSNumber; booleans
                // are its boolean subclass.
                if String(describing: type(of: n)).contains("Bool") {
                    out[k] = .bool(n.boolValue)
                } else {
                    out[k] = .int(n.int64Value)
                }
            default: return nil
            }
        }
        return out
    }

    @Test("what FlatJSON writes, Foundation reads as the same fields, and FlatJSON reads back unchanged")
    func writesWhatFoundationReads() async {
        await propertyCheck(count: 300, input: Self.fields) { fields in
            let json = FlatJSON.encode(fields)
            #expect((try? FlatJSON.decode(json)) == fields)
            #expect(Self.foundation(json) == fields, "\(json)")
        }
    }

    @Test("a new row encoded from its values in column order is the text of its non-null fields", arguments: [RecordKind.partner, .document])
    func rowEncodingMatchesImage(kind: RecordKind) async {
        let n = kind.columns.count
        await propertyCheck(count: 200, input: Self.value.array(of: n...n)) { values in
            var image: Fields = [:]
            for (column, value) in zip(kind.columns, values) where !value.isNull { image[column.name] = value }
            #expect(FlatJSON.encode(row: values, of: kind) == FlatJSON.encode(image))
        }
    }

    @Test("what Foundation writes (with its own escapes), FlatJSON reads as the same fields")
    func readsWhatFoundationWrites() async throws {
        await propertyCheck(count: 300, input: Self.fields) { fields in
            var object: [String: Any] = [:]
            for (k, v) in fields {
                switch v {
                case .null: object[k] = NSNull()
                case .bool(let b): object[k] = b
                case .int(let i): object[k] = i
                case .text(let s): object[k] = s
                }
            }
            let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
            #expect((try? FlatJSON.decode(String(decoding: data, as: UTF8.self))) == fields, "\(String(decoding: data, as: UTF8.self))")
        }
    }

    @Test("what is not JSON is refused, as Foundation refuses it", arguments: [
        #"{"a":"\x41"}"#, #"{"a":"\'"}"#, #"{"a":"\u+041"}"#, #"{"a":"\u00g1"}"#, "{\"a\":\"tab\there\"}", "{\"a\":\"nul\u{0}\"}",
        #"{"a":007}"#, #"{"a":-}"#, #"{"a":1.5}"#, #"{"a":1e3}"#, #"{"a":1}x"#, #"{}}"#, #"{"a":1,}"#, #"{"a":tru}"#, #"{"a"}"#, #"{"a":"x"#,
    ])
    func refusesWhatIsNotJSON(_ text: String) {
        #expect(throws: (any Error).self) { try FlatJSON.decode(text) }
        // (Foundation reads 1.5 and 1e3 as numbers, as the journal, holding integers only,
        // does not; and it lets a trailing comma pass.)
        if !text.contains(".") && !text.contains("e3") && !text.contains(",}") { #expect(Self.foundation(text) == nil, "Foundation reads \(text)") }
    }

    @Test("every JSON escape is read", arguments: [
        (#"{"a":"\"\\\/\b\f\n\r\t"}"#, "\"\\/\u{8}\u{c}\n\r\t"), (#"{"a":"\u0041\u00e9\ud83d\ude00"}"#, "Aé😀"), (#"{"a":"\u00C9"}"#, "É"),
    ])
    func escapes(_ text: String, _ expected: String) throws {
        #expect(try FlatJSON.decode(text) == ["a": .text(expected)])
        #expect(Self.foundation(text) == ["a": .text(expected)])
    }
}
