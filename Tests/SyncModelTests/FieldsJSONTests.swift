import Foundation
import Testing
@testable import SyncModel

@Suite("Journal field encoding")
struct FieldsJSONTests {
    @Test("fields survive the flat JSON round trip, including escapes, unicode and extremes")
    func roundTrip() throws {
        let fields: Fields = [
            "a": .text("quote \" backslash \\ newline \n tab \t ctrl \u{01} zażółć 😀"),
            "b": .int(Int64.min), "c": .int(Int64.max), "d": .bool(true), "e": .bool(false), "f": .null, "g": .text(""),
        ]
        let json = fields.canonicalJSON()
        #expect(try Fields.fromJSON(json) == fields)
        // Output is valid JSON that Foundation reads back the same way.
        #expect(try JSONDecoder().decode(Fields.self, from: Data(json.utf8)) == fields)
        #expect(json.hasPrefix(#"{"a":"#))
    }

    @Test("the journal's JSON bytes: keys in byte order, escapes, literals and integers spelled one way")
    func exactBytes() {
        let fields: Fields = [
            "z": .null, "a": .text("q\" b\\ n\n r\r t\t c\u{01}\u{1f} ż"), "B": .bool(true), "b": .bool(false),
            "i": .int(-42), "j": .int(0), "_": .text(""),
        ]
        #expect(fields.canonicalJSON() == #"{"B":true,"_":"","a":"q\" b\\ n\n r\r t\t c\u0001\u001f ż","b":false,"i":-42,"j":0,"z":null}"#)
        #expect(Fields().canonicalJSON() == "{}")
        // Non-ASCII keys and values without escapes (and DEL, which JSON does not escape) as they are.
        let wide: Fields = ["ż": .text("zażółć \u{7f}"), "z": .text("x")]
        #expect(wide.canonicalJSON() == "{\"z\":\"x\",\"ż\":\"zażółć \u{7f}\"}")
    }

    @Test("JSON written by other tools (spaces, \\u escapes) is read too")
    func foreignJSON() throws {
        let f = try Fields.fromJSON(#"{ "x" : "\u017c\ud83d\ude00" , "n": -5, "z": null }"#)
        #expect(f == ["x": .text("ż😀"), "n": .int(-5), "z": .null])
    }
}
