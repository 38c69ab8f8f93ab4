import Foundation
import Testing
@testable import SyncHub
import SyncModel
import SyncReconcile
import SyncStore
import SyncTesting

@Suite("Invalid entries and sequences at the hub")
struct InvalidEntryTests {
    func entries() -> [Change] {
        var good = consumer("1001").fields
        good["origin_node"] = .text("A")
        let noKind = ["code": FieldValue.text("1002"), "first_name": .text("Jan"), "last_name": .text("Nowak")]
        var badNIP = Partner(code: "1003", kind: .business, name: "Hurt", vatID: "PL1234567890", country: "PL").fields
        badNIP["origin_node"] = .text("A")
        let badDocument = ["id": FieldValue.text("A-R1"), "kind": .text("receipt")]
        return [
            change("A", 1, hlc: 1 << 16, .partner, "1001", .insert, good),
            change("A", 2, hlc: 2 << 16, .partner, "1002", .insert, noKind),
            change("A", 3, hlc: 3 << 16, .partner, "1003", .insert, badNIP),
            change("A", 4, hlc: 4 << 16, .document, "A-R1", .insert, badDocument),
        ]
    }

    @Test("invalid partners and documents get a rejected verdict naming the field; the valid one is applied")
    func invalidEntriesAreRejected() throws {
        do {
            let world = try World()
            let reply = try world.push("A", entries())
            #expect(reply.results.map(\.outcome) == [.applied, .rejected, .rejected, .rejected])
            #expect(reply.results[1].reason?.contains("kind") == true, "\(reply.results[1].reason ?? "")")
            #expect(reply.results[2].reason?.contains("vat_id") == true, "\(reply.results[2].reason ?? "")")
            #expect(reply.results[3].reason?.hasPrefix("document A-R1") == true, "\(reply.results[3].reason ?? "")")
            #expect(try world.hub.partnerExists(code: "1001") && !world.hub.partnerExists(code: "1002") && !world.hub.partnerExists(code: "1003"))
        }
    }

    @Test("a push with a sequence below 1 or at the largest integer is refused whole")
    func sequenceOutOfRange() throws {
        let world = try World()
        for seq in [Int64.min, 0, -5, Int64.max] {
            var c = entries()[0]
            c.seq = seq
            #expect(throws: HubError.self) { try world.push("A", [c]) }
        }
        #expect(try !world.hub.partnerExists(code: "1001"))
        #expect(try world.hub.node("A").lastSeq == 0)
    }
}
