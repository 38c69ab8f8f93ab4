import Foundation
import SyncModel
import Testing

@Suite("The journal's JSON reader")
struct FlatJSONTests {
    @Test("escaped surrogates that do not pair up are an error or a replacement, never a crash")
    func unpairedSurrogates() {
        // A high surrogate followed by an escape that is not a low one used to be combined
        // anyway, and `low - 0xDC00` trapped: a partner's attributes could stop the hub.
        for text in [#"{"a":"\ud800\u0041"}"#, #"{"a":"\ud800\ud800"}"#, #"{"a":"\ud800"}"#, #"{"a":"\udc00"}"#,
                     #"{"a":"x\ud83d\ude00y"}"#] {
            let fields = try? Fields.fromJSON(text)
            if text.contains("ude00") { #expect(fields == ["a": .text("x😀y")]) }
        }
    }

    @Test("a partner whose attributes hold such text is read without a crash")
    func partnerAttributes() throws {
        var values = Partner(code: "1001", kind: .consumer, firstName: "Anna", lastName: "Nowak").columnValues
        values[Partner.columns.firstIndex(of: "attributes")!] = .text(#"{"a":"\ud800\u0041"}"#)
        let partner = try Partner(columnValues: values)
        #expect(partner.code == "1001")
    }
}
