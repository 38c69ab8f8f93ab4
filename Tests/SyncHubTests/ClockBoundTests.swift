import Foundation
import GRDB
import Testing
@testable import SyncHub
import SyncModel
import SyncReconcile
import SyncNode
import SyncStore
import SyncTesting

@Suite("Clocks that lie cannot win: a lead beyond the bound is not followed, no value wraps, the store is told")
struct ClockBoundTests {
    @Test("ticks never wrap; a remote value beyond the bound is not followed")
    func hlcArithmetic() {
        let top = HLC(rawValue: .max)
        #expect(HLC.tick(last: top, nowMillis: 1_000) == top)
        #expect(HLC.tick(last: HLC(millis: 5, counter: .max), nowMillis: 1) == HLC(millis: 6, counter: 0))
        let now: UInt64 = 1_800_000_000_000
        let honest = HLC(millis: now, counter: 0)
        #expect(HLC.receive(last: honest, remote: top, nowMillis: now) == HLC(millis: now, counter: 1))
        let near = HLC(millis: now + 60_000, counter: 0)
        #expect(HLC.receive(last: honest, remote: near, nowMillis: now) == HLC(millis: now + 60_000, counter: 1), "a lead within the bound counts")
        #expect(!HLC.isBeyondBound(top, nowMillis: .max), "no overflow in the bound")
    }

    @Test("a store whose clock reads an hour ahead does not win a later honest edit, the hub's clock stays, and the store is told")
    func storeAheadDoesNotWin() async throws {
        let world = try World()
        try world.store("A").addPartner(consumer("1001"))
        try await world.syncAll()
        // A till whose clock was set an hour ahead.
        _ = try world.hub.addNode(node: "F", site: "POZ", series: "K9")
        let fast = try NodeStore.create(path: world.dir.file("F.sqlite"), node: "F", site: "POZ", series: "K9",
                                        clock: { HLC.nowMillis + 3_600_000 })
        let fastRound: () async throws -> SyncSummary = { try await SyncRound(store: fast, transport: InProcessHubTransport(hub: world.hub, node: try world.hub.node("F"))).run() }
        _ = try await fastRound()
        _ = try fast.updatePartner(code: "1001", changes: ["phone": FieldValue.text("111 fast")])
        let summary = try await fastRound()
        #expect(summary.clockRestamped == 1)
        let hubClock = try await world.hub.pool.read { try HubStore.hubHLC($0) }
        #expect(hubClock.millis < HLC.nowMillis + 60_000, "the hub's clock did not follow: \(hubClock.millis - HLC.nowMillis) ms ahead")
        #expect(try world.hub.audit(kind: .clock).first?.reason.contains("applied with the hub's time") == true)
        let told = try fast.audit(kind: .clock)
        let reason = told.first?.reason ?? ""
        // An hour, less the seconds the round took on a loaded machine.
        let lead = reason.split(separator: " ").drop { $0 != "by" }.dropFirst().first.flatMap { Int($0) } ?? 0
        #expect((3_540...3_600).contains(lead) && reason.contains("1 change with"), "\(told)")
        #expect((try fast.status().clockOffsetMillis ?? 0) > 3_500_000)

        // B edits the same field afterwards with an honest clock: B's edit wins everywhere.
        try await Task.sleep(for: .milliseconds(5))
        _ = try world.store("B").updatePartner(code: "1001", changes: ["phone": .text("222 honest")])
        try await world.syncAll()
        _ = try await fastRound()
        let stored = try await world.hub.pool.read { try ReplicatedTable.partner.fetch($0, key: "1001") }
        #expect(stored?["phone"] == .text("222 honest"))
        #expect(try fast.partner(code: "1001")?.phone == "222 honest")
        #expect(try world.store("A").partner(code: "1001")?.phone == "222 honest")
    }

    @Test("a stamp of 2^64-1 neither wraps the hub's clock nor freezes the field; later honest edits stay")
    func largestStamp() throws {
        let world = try World()
        var image = consumer("1001").fields
        image["origin_node"] = .text("A")
        let now = HLC.nowMillis << 16
        try world.push("A", [change("A", 1, hlc: now, .partner, "1001", .insert, image)])
        let forged = try world.push("A", [change("A", 2, hlc: .max, .partner, "1001", .update, ["phone": .text("forged")])])
        #expect(forged.clockRestamped == 1 && forged.results.first?.outcome == .applied)
        let hubClock = try world.hub.pool.read { try HubStore.hubHLC($0) }
        #expect(hubClock.millis >= HLC.nowMillis - 60_000 && hubClock.millis < HLC.nowMillis + 60_000, "\(hubClock)")
        let later = (HLC.nowMillis + 10) << 16
        let honest = try world.push("B", [change("B", 1, hlc: later, .partner, "1001", .update, ["phone": .text("honest")])])
        #expect(honest.results.first?.outcome == .applied && honest.clockRestamped == nil)
        let stored = try world.hub.pool.read { try ReplicatedTable.partner.fetch($0, key: "1001") }
        #expect(stored?["phone"] == .text("honest"))
    }
}
