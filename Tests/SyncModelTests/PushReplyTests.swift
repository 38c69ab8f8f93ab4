import Foundation
import Testing
@testable import SyncModel

@Suite("Push reply wire form")
struct PushReplyTests {
    func roundTrip(_ reply: PushReply, compact: Bool = true) throws -> (PushReply, String) {
        let encoder = JSONEncoder()
        if compact { encoder.userInfo[PushReply.compactForm] = true }
        let data = try encoder.encode(reply)
        return (try JSONDecoder().decode(PushReply.self, from: data), String(decoding: data, as: UTF8.self))
    }

    @Test("only non-applied verdicts travel; the range is expanded back to every entry")
    func compactRoundTrip() throws {
        var results = (10...2009).map { EntryResult(seq: Int64($0), outcome: .applied) }
        results[5] = EntryResult(seq: 15, outcome: .renamed, reason: "code 1001 exists", oldCode: "1001", newCode: "K2-1001", renameID: 3)
        results[900] = EntryResult(seq: 910, outcome: .rejected, reason: "partner 7 does not exist at the hub")
        let reply = PushReply(node: "N1", results: results, nextExpected: 2010, hubHLC: 42)
        let (back, json) = try roundTrip(reply)
        #expect(back == reply)
        #expect(json.count < 400, "2,000 entries with two exceptions should not be listed one by one: \(json.count) bytes")
    }

    @Test("without the compact flag the full form lists every entry (what first-release nodes read), and it decodes too")
    func fullForm() throws {
        let reply = PushReply(node: "N1", results: [EntryResult(seq: 1, outcome: .applied), EntryResult(seq: 2, outcome: .rejected, reason: "no")],
                              nextExpected: 3, hubHLC: 9)
        let (back, json) = try roundTrip(reply, compact: false)
        #expect(back == reply)
        #expect(json.contains("\"results\""))
        #expect(json.contains("\"next_expected\"") && json.contains("\"hub_hlc\"") && !json.contains("nextExpected"))
        // The first release's synthesized camelCase form, as such a hub sends it: the store reads it too.
        let old = #"{"hubHLC":9,"nextExpected":3,"node":"N1","results":[{"outcome":"applied","seq":1},{"outcome":"rejected","reason":"no","seq":2}]}"#
        #expect(try SyncJSON.replyDecoder().decode(PushReply.self, from: Data(old.utf8)) == reply)
        #expect(SyncJSON.snakeCase("renameID") == "rename_id" && SyncJSON.snakeCase("hubHLC") == "hub_hlc")
    }

    @Test("an empty reply stays empty")
    func empty() throws {
        let reply = PushReply(node: "N1", results: [], nextExpected: 1, hubHLC: 0)
        #expect(try roundTrip(reply).0 == reply)
    }

    @Test("a reply whose exception lies outside its range, or with an absurd range, is refused")
    func corrupt() throws {
        let outside = #"{"node":"N1","first":1,"last":3,"exceptions":[{"seq":9,"outcome":"rejected"}],"nextExpected":4,"hubHLC":0}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(PushReply.self, from: Data(outside.utf8)) }
        let unordered = #"{"node":"N1","first":1,"last":3,"exceptions":[{"seq":3,"outcome":"rejected"},{"seq":2,"outcome":"rejected"}],"nextExpected":4,"hubHLC":0}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(PushReply.self, from: Data(unordered.utf8)) }
        let huge = #"{"node":"N1","first":1,"last":999999999999,"exceptions":[],"nextExpected":4,"hubHLC":0}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(PushReply.self, from: Data(huge.utf8)) }
        let overflow = #"{"node":"N1","first":-9223372036854775808,"last":1,"exceptions":[],"nextExpected":4,"hubHLC":0}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(PushReply.self, from: Data(overflow.utf8)) }
        let repeated = #"{"node":"N1","first":1,"last":3,"exceptions":[{"seq":2,"outcome":"rejected"},{"seq":2,"outcome":"rejected"}],"nextExpected":4,"hubHLC":0}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(PushReply.self, from: Data(repeated.utf8)) }
    }
}
