import Foundation
import GRDB
import Testing
import SyncHub
import SyncModel
import SyncReconcile
import SyncStore
import SyncTesting

@Suite("Concurrent edits: field-level last writer wins")
struct MergeTests {
    @Test("each field takes the value with the later clock, whatever the arrival order")
    func laterClockWins() throws {
        for order in [["B", "C"], ["C", "B"]] {
            let world = try World()
            try world.push("A", [change("A", 1, hlc: 10, .partner, "1001", .insert, consumer("1001").fields)])
            let edits = [
                "B": [change("B", 1, hlc: 30, .partner, "1001", .update, ["phone": .text("B-late"), "email": .text("b@early.pl")])],
                "C": [change("C", 1, hlc: 20, .partner, "1001", .update, ["phone": .text("C-early")]),
                      change("C", 2, hlc: 40, .partner, "1001", .update, ["email": .text("c@late.pl")])],
            ]
            for id in order { try world.push(id, edits[id]!) }
            let p = try #require(try hubPartner(world, "1001"))
            #expect(p["phone"] == .text("B-late"), "order \(order)")
            #expect(p["email"] == .text("c@late.pl"), "order \(order)")
            // The row keeps each field's winning stamp, sorted by field, whatever the order.
            let clocks = try world.hub.pool.read { try String.fetchOne($0, sql: "SELECT clock_fields FROM partner WHERE code = '1001'") }
            #expect(clocks == "email:40:C;phone:30:B", "order \(order)")
            let overwrites = try world.hub.audit(kind: .overwrite)
            #expect(overwrites.contains { $0.field == "phone" && ($0.oldValue == "C-early" || $0.newValue == "C-early") })
        }
    }

    @Test("equal clocks are broken by node id, the higher id wins, in both orders")
    func tieBrokenByNode() throws {
        var results: [FieldValue?] = []
        for order in [["B", "C"], ["C", "B"]] {
            let world = try World()
            try world.push("A", [change("A", 1, hlc: 10, .partner, "1001", .insert, consumer("1001").fields)])
            for id in order { try world.push(id, [change(id, 1, hlc: 50, .partner, "1001", .update, ["phone": .text("from \(id)")])]) }
            results.append(try hubPartner(world, "1001")?["phone"])
        }
        #expect(results == [.text("from C"), .text("from C")])
        #expect(MergeStamp(hlc: HLC(rawValue: 5), node: "B") < MergeStamp(hlc: HLC(rawValue: 5), node: "C"))
        #expect(MergeStamp(hlc: HLC(rawValue: 4), node: "Z") < MergeStamp(hlc: HLC(rawValue: 5), node: "A"))
    }

    @Test("edit against delete: the partner stays deleted, the edit lands on the tombstone, documents are kept")
    func editAgainstDelete() throws {
        var hashes: Set<String> = []
        for order in [["B", "C"], ["C", "B"]] {
            let world = try World()
            let doc = Document(id: "A-R1", kind: .receipt, partnerCode: "1001", site: "WAW", amountMinor: 100, currency: "PLN",
                               issuedAt: "2026-01-01T00:00:00Z", node: "A")
            try world.push("A", [change("A", 1, hlc: 10, .partner, "1001", .insert, consumer("1001").fields),
                                 change("A", 2, hlc: 11, .document, "A-R1", .insert, doc.fields)])
            let edits = [
                "B": [change("B", 1, hlc: 20, .partner, "1001", .delete, ["deleted": .bool(true)])],
                "C": [change("C", 1, hlc: 30, .partner, "1001", .update, ["phone": .text("edited later")])],
            ]
            for id in order { try world.push(id, edits[id]!) }
            let p = try #require(try hubPartner(world, "1001"))
            #expect(p["deleted"] == .bool(true))
            #expect(p["phone"] == .text("edited later"))
            #expect(try world.hub.pool.read { try ReplicatedTable.document.exists($0, key: "A-R1") })
            hashes.insert(try world.hub.stateHash())
        }
        #expect(hashes.count == 1)
    }

    @Test("the same journals delivered in random arrival orders give the same hub state hash")
    func arrivalOrderProperty() throws {
        var rng = SeededRandom(seed: 42)
        let fields = ["phone", "email", "salutation", "birth_date", "corporate_customer"]
        let codes = ["P1", "P2", "P3"]
        var journals: [String: [Change]] = [:]
        for id in ["B", "C"] {
            var seq: Int64 = 0
            journals[id] = (0..<25).map { _ in
                seq += 1
                let code = codes.randomElement(using: &rng)!
                let hlc = UInt64.random(in: 100...130, using: &rng)
                if Int.random(in: 0..<12, using: &rng) == 0 {
                    return change(id, seq, hlc: hlc, .partner, code, .delete, ["deleted": .bool(true)])
                }
                let f = fields.randomElement(using: &rng)!
                let value: FieldValue = f == "birth_date" ? .text("19\(Int.random(in: 50...99, using: &rng))-01-01") : .text("\(id)-\(seq)")
                return change(id, seq, hlc: hlc, .partner, code, .update, [f: value])
            }
        }
        var hashes: Set<String> = []
        for trial in 0..<15 {
            let world = try World()
            try world.push("A", codes.enumerated().map { i, c in change("A", Int64(i + 1), hlc: UInt64(i + 1), .partner, c, .insert, consumer(c).fields) })
            var cursors = ["B": 0, "C": 0]
            while cursors.contains(where: { $0.value < journals[$0.key]!.count }) {
                let open = cursors.filter { $0.value < journals[$0.key]!.count }.keys.sorted()
                let id = open.randomElement(using: &rng)!
                let n = min(Int.random(in: 1...4, using: &rng), journals[id]!.count - cursors[id]!)
                try world.push(id, Array(journals[id]![cursors[id]!..<(cursors[id]! + n)]))
                cursors[id]! += n
            }
            hashes.insert(try world.hub.stateHash())
            #expect(hashes.count == 1, "trial \(trial) diverged")
        }
    }
}
