import Foundation
import Testing
@testable import SyncHub
import SyncModel
import SyncReconcile
import SyncStore
import SyncTesting
import SyncWire

/// `poshub serve` prepares a batch's new partners and documents while it decodes it
/// (`Reconciler.prepare`), beside the push it is applying; these pin that a push applied with
/// what was prepared ends exactly as one applied without it.
@Suite("Changes prepared before the hub applies them")
struct PreparedChangeTests {
    /// B owns 1001 first; A then pushes its own 1001 (renamed by the prefix rule), a receipt
    /// for it in the same push (mapped to the new code, so what was prepared for it no longer
    /// holds), invalid entries, an edit, and a receipt for B's partner.
    func pushes() -> (b: [Change], a: [Change]) {
        var b1001 = consumer("1001", first: "Ewa").fields
        b1001["origin_node"] = .text("B")
        var a1001 = consumer("1001").fields
        a1001["origin_node"] = .text("A")
        var a1002 = Partner(code: "1002", kind: .business, name: "Hurt Sp. z o.o.", country: "PL").fields
        a1002["origin_node"] = .text("A")
        func receipt(_ id: String, _ code: String, _ amount: Int64) -> Fields {
            Document(id: id, kind: .receipt, partnerCode: code, site: "WAW", amountMinor: amount, currency: "PLN",
                     issuedAt: "2026-11-29T10:00:00Z", node: "A").fields
        }
        return (
            [change("B", 1, hlc: 1 << 16, .partner, "1001", .insert, b1001)],
            [
                change("A", 1, hlc: 2 << 16, .partner, "1001", .insert, a1001),
                change("A", 2, hlc: 3 << 16, .document, "A-R1", .insert, receipt("A-R1", "1001", 1250)),
                change("A", 3, hlc: 4 << 16, .partner, "1002", .insert, a1002),
                change("A", 4, hlc: 5 << 16, .partner, "1003", .insert, ["code": .text("1003"), "first_name": .text("Jan")]),
                change("A", 5, hlc: 6 << 16, .document, "A-R2", .insert, ["id": .text("A-R2"), "kind": .text("receipt")]),
                change("A", 6, hlc: 7 << 16, .partner, "1002", .update, ["phone": .text("+48 22 100 200")]),
                change("A", 7, hlc: 8 << 16, .document, "A-R3", .insert, receipt("A-R3", "1002", 990)),
                // A receipt for a partner the hub does not have, and another sale under a number
                // the hub has already (a restored store's): kept, under the node's next number.
                change("A", 8, hlc: 9 << 16, .document, "A-R4", .insert, receipt("A-R4", "9999", 100)),
                change("A", 9, hlc: 10 << 16, .document, "A-R3", .insert, receipt("A-R3", "1002", 995)),
            ])
    }

    @Test("a push applied with its prepared changes gives the same verdicts, rows and feed as one applied without")
    func sameOutcome() throws {
        let (b, a) = pushes()
        var outcomes: [[EntryResult]] = []
        var hashes: [String] = []
        var feeds: [[String]] = []
        for prepare in [false, true] {
            let world = try World()
            try world.push("B", b)
            let node = try world.hub.node("A")
            let reply = try world.hub.push(node: node, changes: a, prepared: prepare ? a.map { Reconciler.prepare($0, node: "A") } : nil,
                                           renamesApplied: 0)
            outcomes.append(reply.results)
            hashes.append(try world.hub.stateHash())
            // The feed's clocks are the hub's wall clock: compared without them.
            feeds.append(try world.hub.feed(after: 0, limit: 100).changes.map { "\($0.node) \($0.entity) \($0.key) \($0.op) \($0.fields.canonicalJSON())" })
        }
        #expect(outcomes[0] == outcomes[1])
        #expect(hashes[0] == hashes[1])
        #expect(feeds[0] == feeds[1])
        let results = outcomes[1]
        #expect(results.map(\.outcome) == [.renamed, .applied, .applied, .rejected, .rejected, .applied, .applied, .rejected, .renamed])
        #expect(results[8].oldCode == "A-R3" && results[8].newCode == "A-R4", "\(results[8])")
        #expect(results[7].reason?.contains("partner 9999 does not exist") == true, "\(results[7].reason ?? "")")
        // The receipt went to A's partner under its new code, not to B's 1001.
        let renamed = try #require(results[0].newCode)
        let world = try World()
        try world.push("B", b)
        _ = try world.hub.push(node: try world.hub.node("A"), changes: a, prepared: a.map { Reconciler.prepare($0, node: "A") }, renamesApplied: 0)
        let partnerOfReceipt = try world.hub.pool.read { try String.fetchOne($0, sql: "SELECT partner_code FROM document WHERE id = 'A-R1'") }
        #expect(partnerOfReceipt == renamed)
        let amounts = try world.hub.pool.read { try Int.fetchAll($0, sql: "SELECT amount_minor FROM document WHERE id IN ('A-R3', 'A-R4') ORDER BY id") }
        #expect(amounts == [990, 995], "both sales kept")
    }

    @Test("prepared changes that do not match the push's entries are refused and nothing is applied")
    func mismatchRefused() throws {
        let (_, a) = pushes()
        let world = try World()
        let node = try world.hub.node("A")
        #expect(throws: HubError.self) {
            try world.hub.push(node: node, changes: a, prepared: Array(a.dropLast().map { Reconciler.prepare($0, node: "A") }), renamesApplied: 0)
        }
        // Each entry given another entry's preparation: a document prepared as a partner.
        let shifted = [a[1], a[0]].map { Reconciler.prepare($0, node: "A") }
        #expect(throws: (any Error).self) {
            try world.hub.push(node: node, changes: [a[0], a[1]], prepared: shifted, renamesApplied: 0)
        }
        #expect(try world.hub.node("A").lastSeq == 0)
        #expect(try !world.hub.partnerExists(code: "1001"))
    }

    @Test("an edit of a column validation reads is still validated against the whole row; one of other columns merges")
    func editsValidateWhatTheyMust() throws {
        let world = try World()
        var a1 = consumer("1001").fields
        a1["origin_node"] = .text("A")
        try world.push("A", [change("A", 1, hlc: 1 << 16, .partner, "1001", .insert, a1)])
        let reply = try world.push("A", [
            change("A", 2, hlc: 2 << 16, .partner, "1001", .update, ["email": .text("anna@")]),        // checked: refused
            change("A", 3, hlc: 3 << 16, .partner, "1001", .update, ["last_name": .text(" ")]),        // checked: refused
            change("A", 4, hlc: 4 << 16, .partner, "1001", .update, ["phone": .text("+48 600 1")]),    // not checked: merged
            change("A", 5, hlc: 5 << 16, .partner, "1001", .update, ["country": .text("DE"), "salutation": .text("Frau")]),
        ])
        #expect(reply.results.map(\.outcome) == [.rejected, .rejected, .applied, .applied])
        #expect(reply.results[0].reason?.contains("email") == true, "\(reply.results[0].reason ?? "")")
        let row = try #require(try world.hub.pool.read { try ReplicatedTable.partner.fetch($0, key: "1001") })
        #expect(row["phone"] == .text("+48 600 1") && row["country"] == .text("DE") && row["salutation"] == .text("Frau"))
        #expect(row["email"] != .text("anna@") && row["last_name"] == .text("Nowak"))
    }
}
